"""The rules API (/api/v1/rules): the library, versions, the version in force at an instant, diffs."""

from datetime import datetime
from typing import Literal

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, P, QueryEx, Router, Schema
from ninja.responses import Status

from rulecenter.accounts.auth import BearerTokenAuth
from rulecenter.accounts.roles import request_actor
from rulecenter.common.api import IsoDatetime, page_or_404
from rulecenter.common.problems import VALIDATION, Problem, field_error, problems
from rulecenter.common.text import local_minute

from . import selectors, services
from .diff import diff_versions
from .models import Rule, RuleVersion

RULE_UNKNOWN = "规则“{slug}”不存在。"
VERSION_UNKNOWN = "《{rule}》没有第 {number} 版（或尚未公示）。"
NOTHING_IN_FORCE = "《{rule}》在 {at} 尚无生效版本。"
CATEGORY_UNKNOWN = "规则分类“{slug}”不存在。"
RULE_EDITOR_REQUIRED = "只有编辑角色可以创建规则或规则版本。"

router = Router(tags=["rules"])

# Literals, not the models' TextChoices: OpenAPI names an enum after its class, and "Kind" and "Status"
# are taken by the announcements' enums.
RuleKind = Literal["rule", "agreement", "implementation"]
VersionStatus = Literal["draft", "scheduled", "noticed", "in_force", "superseded"]


class RuleCategoryOut(Schema):
    slug: str
    name: str


class RuleOut(Schema):
    slug: str = Field(examples=["prohibited-goods"])
    title: str = Field(examples=["1688指定渠道禁限售规则"])
    kind: RuleKind
    category: RuleCategoryOut
    url: str
    in_force_version: int | None = Field(description="现行有效的版本号；尚未生效时为空")


class RulePage(Schema):
    items: list[RuleOut]
    count: int


class VersionOut(Schema):
    number: int
    status: VersionStatus = Field(description="按当前时间推算：scheduled / noticed / in_force / superseded")
    major: bool = Field(description="重大变更（公示期至少 RULECENTER_MAJOR_NOTICE_DAYS 日，默认 15）")
    summary: str
    notice_at: datetime | None
    effective_at: datetime | None
    buffer_ends_at: datetime | None
    text: str = Field(description="全文（Markdown）")
    url: str
    downloads: dict[str, str] = Field(description="md / txt / json 下载地址")


class VersionPage(Schema):
    items: list[VersionOut]
    count: int


class DiffClauseOut(Schema):
    anchor: str
    label: str
    status: str = Field(description="added / removed / changed / moved / unchanged")
    old_text: str
    new_text: str
    ops: list[tuple[str, str]] = Field(description="字符级差异：[操作, 文本]，操作为 equal / insert / delete")


class DiffOut(Schema):
    rule: str
    from_version: int = Field(alias="from")
    to_version: int = Field(alias="to")
    added: int
    removed: int
    changed: int
    unchanged: int
    clauses: list[DiffClauseOut]


class RuleIn(Schema):
    slug: str = Field(
        min_length=1, max_length=100, pattern=r"^[-a-zA-Z0-9_]+$", examples=["shipping-conduct"]
    )
    title: str = Field(min_length=1, max_length=200, examples=["1688商家发货行为管理规范"])
    kind: RuleKind = "rule"
    category: str = Field(min_length=1, max_length=64, description="规则分类标识（slug）", examples=["trade"])


class VersionIn(Schema):
    text: str = Field(min_length=1, description="全文（Markdown），按“第X条”“一、”“1.”分条款")
    summary: str = Field(default="", max_length=2000)
    major: bool = False
    notice_at: IsoDatetime | None = Field(
        default=None, description="公示时间；与生效时间同时给出即排期，否则为草稿"
    )
    effective_at: IsoDatetime | None = None
    buffer_ends_at: IsoDatetime | None = None


def _rule_or_404(slug: str) -> Rule:
    rule = selectors.rule_by_slug(slug[:100])
    if rule is None:
        raise Http404(_(RULE_UNKNOWN).format(slug=slug[:100]))
    return rule


def _local(value: datetime | None) -> datetime | None:
    return timezone.localtime(value) if value else None


def _version_out(request: HttpRequest, version: RuleVersion, status: RuleVersion.Status) -> VersionOut:
    path = version.get_absolute_url()
    return VersionOut(
        number=version.number,
        status=status.value,  # type: ignore[arg-type]
        major=version.major,
        summary=version.summary,
        notice_at=_local(version.notice_at),
        effective_at=_local(version.effective_at),
        buffer_ends_at=_local(version.buffer_ends_at),
        text=version.text,
        url=request.build_absolute_uri(path),
        downloads={
            fmt: request.build_absolute_uri(f"{path.rstrip('/')}.{fmt}") for fmt in ("md", "txt", "json")
        },
    )


def _rule_out(request: HttpRequest, rule: Rule, in_force: int | None) -> RuleOut:
    return RuleOut(
        slug=rule.slug,
        title=rule.title,
        kind=Rule.Kind(rule.kind).value,  # type: ignore[arg-type]
        category=RuleCategoryOut(slug=rule.category.slug, name=rule.category.name),
        url=request.build_absolute_uri(rule.get_absolute_url()),
        in_force_version=in_force,
    )


def _require(user: User, permission: str) -> None:
    if not user.has_perm(permission):
        raise PermissionDenied(_(RULE_EDITOR_REQUIRED))


@router.get(
    "",
    response={200: RulePage},
    url_name="rule_list",
    operation_id="rule_list",
    summary="规则库：全部规则及其现行版本号",
)
def rule_list(request: HttpRequest) -> RulePage:
    rules = selectors.rule_list_with_versions_in_force(at=timezone.now())
    return RulePage(items=[_rule_out(request, rule, number) for rule, number in rules], count=len(rules))


@router.get(
    "/{slug}",
    response={200: RuleOut, **problems(404)},
    url_name="rule_detail",
    operation_id="rule_detail",
    summary="一条规则及其现行版本号",
)
def rule_detail(request: HttpRequest, slug: str) -> RuleOut:
    rule = _rule_or_404(slug)
    version = selectors.version_in_force(rule=rule, at=timezone.now())
    return _rule_out(request, rule, version.number if version else None)


@router.get(
    "/{slug}/versions",
    response={200: VersionPage, **problems(404, 422)},
    url_name="rule_versions",
    operation_id="rule_versions",
    summary="规则的全部已公示版本，按生效时间由新到旧",
)
def rule_versions(
    request: HttpRequest,
    slug: str,
    page: QueryEx[int, P(ge=1, le=10_000_000, description="页码，从 1 开始")] = 1,
) -> VersionPage:
    rule = _rule_or_404(slug)
    size = settings.RULECENTER_HISTORY_PAGE_SIZE
    now = timezone.now()
    total = selectors.version_count(rule=rule, at=now)
    page_or_404(page, total=total, size=size)
    offset = (page - 1) * size
    rows = selectors.version_history(rule=rule, offset=offset, limit=size, at=now, total=total)
    return VersionPage(items=[_version_out(request, row.version, row.status) for row in rows], count=total)


@router.get(
    "/{slug}/at",
    response={200: VersionOut, **problems(404, 422)},
    url_name="rule_at",
    operation_id="rule_at",
    summary="某一时刻现行有效的版本",
    description="`time` 为 ISO 8601 时刻（如 2025-02-17T12:00:00+08:00；不带时区时按 Asia/Shanghai）。"
    "在第一个版本生效之前返回 404。",
)
def rule_at(
    request: HttpRequest, slug: str, time: QueryEx[datetime, P(description="ISO 8601 时刻")]
) -> VersionOut:
    rule = _rule_or_404(slug)
    at = time if timezone.is_aware(time) else timezone.make_aware(time)
    version = selectors.version_in_force(rule=rule, at=at)
    if version is None:
        when = local_minute(at)
        raise Http404(_(NOTHING_IN_FORCE).format(rule=rule.title, at=when))
    return _version_out(request, version, selectors.version_status(version=version, at=timezone.now()))


@router.get(
    "/{slug}/diff",
    response={200: DiffOut, **problems(404, 422)},
    url_name="rule_diff",
    operation_id="rule_diff",
    summary="两个版本逐条款对比",
    by_alias=True,
)
def rule_diff(
    request: HttpRequest,
    slug: str,
    from_version: QueryEx[int, P(alias="from", ge=1, le=1_000_000_000, description="旧版本号")],
    to_version: QueryEx[int, P(alias="to", ge=1, le=1_000_000_000, description="新版本号")],
) -> DiffOut:
    rule = _rule_or_404(slug)
    versions = []
    for number in (from_version, to_version):
        version = selectors.version_by_number(rule=rule, number=number)
        if version is None:
            raise Http404(_(VERSION_UNKNOWN).format(rule=rule.title, number=number))
        versions.append(version)
    result = diff_versions(versions[0].text, versions[1].text)
    return DiffOut.model_validate(
        {
            "rule": rule.slug,
            "from": from_version,
            "to": to_version,
            "added": result.added,
            "removed": result.removed,
            "changed": result.changed,
            "unchanged": result.unchanged,
            "clauses": [
                {
                    "anchor": c.anchor,
                    "label": c.label,
                    "status": c.status,
                    "old_text": c.old_text,
                    "new_text": c.new_text,
                    "ops": [(op.op, op.text) for op in c.ops],
                }
                for c in result.clauses
            ],
        }
    )


@router.post(
    "",
    response={201: RuleOut, **problems(400, 401, 403, 422)},
    auth=BearerTokenAuth(),
    url_name="rule_create",
    operation_id="rule_create",
    summary="创建规则（编辑角色）",
)
def rule_create(request: HttpRequest, payload: RuleIn) -> Status[RuleOut]:
    user: User = request.auth  # type: ignore[attr-defined]
    _require(user, "rules.add_rule")
    category = selectors.rule_category_by_slug(payload.category)
    if category is None:
        message = _(CATEGORY_UNKNOWN).format(slug=payload.category)
        raise Problem(
            VALIDATION, message, errors=[field_error(["body", "category"], message, "category_unknown")]
        )
    rule = services.rule_create(
        actor=request_actor(request),
        slug=payload.slug,
        title=payload.title,
        category=category,
        kind=payload.kind,
    )
    return Status(201, _rule_out(request, rule, None))


@router.post(
    "/{slug}/versions",
    response={201: VersionOut, **problems(400, 401, 403, 404, 422)},
    auth=BearerTokenAuth(),
    url_name="rule_version_create",
    operation_id="rule_version_create",
    summary="新建规则版本，可同时排期公示和生效（编辑角色）",
    description="公示期短于 RULECENTER_NOTICE_DAYS 日（默认 7；重大变更 RULECENTER_MAJOR_NOTICE_DAYS 日，默认 15）时返回 422，消息中写明法律依据和最早可生效时间；不会写入任何内容。",
)
def rule_version_create(request: HttpRequest, slug: str, payload: VersionIn) -> Status[VersionOut]:
    user: User = request.auth  # type: ignore[attr-defined]
    _require(user, "rules.add_ruleversion")
    rule = _rule_or_404(slug)
    version = services.rule_version_submit(
        actor=request_actor(request),
        rule=rule,
        text=payload.text,
        summary=payload.summary,
        major=payload.major,
        notice_at=payload.notice_at,
        effective_at=payload.effective_at,
        buffer_ends_at=payload.buffer_ends_at,
    )
    return Status(
        201, _version_out(request, version, selectors.version_status(version=version, at=timezone.now()))
    )
