"""The search API (/api/v1/search): parse input, call the selector, shape output."""

from datetime import date, datetime
from typing import Literal

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, P, QueryEx, Router, Schema

from rulecenter.common.api import page_size_checked
from rulecenter.common.limits import SEARCH_THROTTLES
from rulecenter.common.problems import BAD_REQUEST, VALIDATION, Problem, ProblemType, field_error, problems

from . import indexer, inputs, selectors

QUERY_MISSING = "请用参数 q 提供搜索词。"
SEARCH_UNAVAILABLE = ProblemType("search-unavailable", 503, "搜索暂不可用")

router = Router(tags=["search"])


class SearchItem(Schema):
    title: str = Field(description="标题；规则为《规则名》")
    url: str = Field(description="结果在网站上的地址；规则的命中链接到条款锚点")
    snippet: str = Field(
        description="命中片段的 HTML：原文已转义，命中的词包在 <mark> 里",
        examples=["商家应在买家付款后48小时内<mark>发货</mark>，另有约定的除外。"],
    )
    kind: Literal["announcement", "rule"] = Field(description="announcement（公告）或 rule（规则版本）")
    type: str = Field(description="细分类型：公告的 kind（rule_change …）或规则的 kind（rule、agreement …）")
    type_label: str = Field(examples=["规则变更公示"])
    category: str = Field(description="栏目或规则分类的标识（slug）")
    category_name: str
    date: datetime = Field(description="公告的发布时间，或规则版本的生效时间")
    score: float = Field(description="相关度（BM25 × 时间权重），只用于比较同一次搜索的结果")
    version: int | None = Field(default=None, description="规则版本号")
    status: str | None = Field(default=None, description="规则版本状态：in_force、noticed、superseded")
    clause: str | None = Field(default=None, description="命中的条款，如“第三条”")
    versions_matched: int | None = Field(default=None, description="这条规则有几个版本含有搜索词")
    current_url: str | None = Field(default=None, description="结果不是现行版本时，现行版本的地址")


class SearchPage(Schema):
    items: list[SearchItem]
    count: int = Field(description="结果总数（同一规则的多个版本算一条）")
    page: int
    pages: int
    suggestion: str | None = Field(default=None, description="没有结果时，一个能找到结果的相近搜索词")


def _absolute(request: HttpRequest, path: str | None) -> str | None:
    return request.build_absolute_uri(path) if path else None


def _item(request: HttpRequest, hit: selectors.SearchHit) -> SearchItem:
    is_rule = hit.kind == "rule"
    return SearchItem(
        title=hit.title,
        url=request.build_absolute_uri(hit.url),
        snippet=str(hit.snippet),
        kind="rule" if is_rule else "announcement",
        type=hit.type,
        type_label=hit.type_label,
        category=hit.category,
        category_name=hit.category_name,
        date=timezone.localtime(hit.date),
        score=round(hit.score, 4),
        version=hit.version,
        status=hit.status,
        clause=hit.clause or None,
        versions_matched=hit.versions_matched if is_rule else None,
        current_url=_absolute(request, hit.current_url),
    )


@router.get(
    "",
    response={200: SearchPage, **problems(400, 404, 422, 503)},
    url_name="search",
    operation_id="search",
    throttle=SEARCH_THROTTLES,
    summary="搜索规则和公告",
    description="按相关度（标题权重高于正文，较新的略靠前）搜索已发布的公告和已公示的规则版本；同一规则的多个版本"
    "合并为一条，显示现行有效的版本。用引号搜索完整短语。搜索词为空、只有空白或超过 "
    "RULECENTER_SEARCH_MAX_QUERY_CHARS 个字时返回 400；页码超出范围返回 404；只能翻到前 "
    "RULECENTER_SEARCH_MAX_RESULTS 条结果（pages 不超过这一页数），更深的页码返回 422。",
)
def search(
    request: HttpRequest,
    q: QueryEx[str, P(description="搜索词，如 发货、禁限售、“欺诈发货”")] = "",
    kind: QueryEx[Literal["announcement", "rule"] | None, P(description="只搜公告或只搜规则")] = None,
    type: QueryEx[str | None, P(description="细分类型，如 rule_change、agreement")] = None,
    category: QueryEx[str | None, P(description="栏目或规则分类的标识（slug）")] = None,
    in_force: QueryEx[bool, P(description="只看现行有效的规则版本")] = False,
    date_from: QueryEx[date | None, P(alias="from", description="日期不早于（YYYY-MM-DD）")] = None,
    date_to: QueryEx[date | None, P(alias="to", description="日期不晚于（YYYY-MM-DD）")] = None,
    page: QueryEx[int, P(ge=1, description="页码，从 1 开始")] = 1,
    page_size: QueryEx[int | None, P(ge=1, description="每页条数")] = None,
) -> SearchPage:
    size = page_size_checked(page_size, default=settings.RULECENTER_SEARCH_PAGE_SIZE)
    try:
        inputs.page_check(str(page), size=size)
        filters = inputs.build_filters(
            kind=kind, type=type, category=category, in_force=in_force, date_from=date_from, date_to=date_to
        )
    except inputs.FilterInvalid as error:
        raise Problem(
            VALIDATION, error.message, errors=[field_error(["query", error.field], error.message, "invalid")]
        ) from None
    if not selectors.clean(q).strip():
        raise Problem(BAD_REQUEST, _(QUERY_MISSING))
    try:
        indexer.catch_up_for_search()
        results = selectors.search(q=q, filters=filters, raw_page=str(page), size=size)
    except selectors.QueryInvalid as error:
        raise Problem(BAD_REQUEST, str(error)) from None
    except selectors.SearchUnavailable as error:
        raise Problem(SEARCH_UNAVAILABLE, str(error), headers={"Retry-After": "30"}) from None
    return SearchPage(
        items=[_item(request, hit) for hit in results.hits],
        count=results.total,
        page=results.pager.number,
        pages=min(results.pager.page_count, inputs.last_page(size)),
        suggestion=results.suggestion,
    )
