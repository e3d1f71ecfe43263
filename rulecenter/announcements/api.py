"""The announcements API (/api/v1/announcements): parse input, call a selector or service, shape output."""

from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, P, QueryEx, Router, Schema
from ninja.responses import Status

from rulecenter.accounts.auth import BearerTokenAuth
from rulecenter.accounts.roles import request_actor
from rulecenter.common.api import IsoDatetime, page_size_checked
from rulecenter.common.idempotency import IdempotencyKeyHeader, idempotent_write
from rulecenter.common.pagination import PAGE_INVALID, Pager, page_count
from rulecenter.common.problems import VALIDATION, Problem, field_error, problems

from . import selectors, services
from .models import Announcement, Category

CATEGORY_UNKNOWN = "栏目“{slug}”不存在。"
ANNOUNCEMENT_UNKNOWN = "公告不存在或已撤回。"
EDITOR_REQUIRED = "只有编辑角色可以创建公告。"
PUBLISHER_REQUIRED = "只有发布角色可以直接发布公告；请以草稿（status=draft）提交。"

router = Router(tags=["announcements"])


class CategoryOut(Schema):
    slug: str = Field(examples=["rule-changes"])
    name: str = Field(examples=["规则变更"])


class AnnouncementListItem(Schema):
    id: int
    title: str
    excerpt: str = Field(description="摘要，或从正文按显示宽度截取的片段")
    published_at: datetime
    category: CategoryOut
    url: str = Field(description="公告在网站上的地址")


class AnnouncementPage(Schema):
    items: list[AnnouncementListItem]
    count: int = Field(description="符合条件的已发布公告总数")


class AnnouncementOut(Schema):
    id: int
    title: str
    summary: str
    excerpt: str
    body: str = Field(description="正文（Markdown）")
    body_html: str = Field(description="正文渲染并清理后的 HTML")
    kind: Announcement.Kind
    category: CategoryOut
    source_url: str
    status: Announcement.Status
    published_at: datetime | None
    url: str | None = Field(description="公告在网站上的地址；草稿没有")


class AnnouncementIn(Schema):
    title: str = Field(min_length=1, max_length=200, examples=["《1688指定渠道禁限售规则》变更公示"])
    body: str = Field(
        min_length=1, description="正文（Markdown）", examples=["本次变更于2025年2月10日公示。"]
    )
    category: str = Field(
        min_length=1, max_length=64, description="栏目标识（slug）", examples=["rule-changes"]
    )
    kind: Announcement.Kind = Announcement.Kind.NEWS
    summary: str = Field(default="", max_length=500)
    source_url: str = Field(default="", max_length=1000)
    status: Announcement.Status = Field(
        default=Announcement.Status.DRAFT, description="published 需要发布角色"
    )
    published_at: IsoDatetime | None = Field(default=None, description="发布时间；已发布而留空时取当前时间")


def _category_out(category: Category) -> CategoryOut:
    return CategoryOut(slug=category.slug, name=category.name)


def _site_url(request: HttpRequest, path: str) -> str:
    return request.build_absolute_uri(path)


def _announcement_out(request: HttpRequest, announcement: Announcement) -> AnnouncementOut:
    return AnnouncementOut(
        id=announcement.pk,
        title=announcement.title,
        summary=announcement.summary,
        excerpt=announcement.excerpt,
        body=announcement.body,
        body_html=announcement.body_html,
        kind=Announcement.Kind(announcement.kind),
        category=_category_out(announcement.category),
        source_url=announcement.source_url,
        status=Announcement.Status(announcement.status),
        published_at=timezone.localtime(announcement.published_at) if announcement.published_at else None,
        url=_site_url(request, announcement.get_absolute_url()) if announcement.is_published else None,
    )


def _category_or_problem(slug: str, loc: list[str | int]) -> Category:
    category = selectors.category_by_slug(slug)
    if category is None:
        message = _(CATEGORY_UNKNOWN).format(slug=slug[:64])
        raise Problem(VALIDATION, message, errors=[field_error(loc, message, "category_unknown")])
    return category


@router.get(
    "",
    response={200: AnnouncementPage, **problems(404, 422)},
    url_name="announcement-list",
    operation_id="announcement_list",
    summary="已发布的公告，最新的在前",
    description="分页列出已发布的公告。`count` 来自维护好的计数器，不随每次请求统计全表。"
    "页码超出范围时返回 404。`page_size` 默认与网站新闻列表相同，最大值由设置 "
    "RULECENTER_API_MAX_PAGE_SIZE 决定。",
)
def announcement_list(
    request: HttpRequest,
    page: QueryEx[int, P(ge=1, description="页码，从 1 开始")] = 1,
    page_size: QueryEx[int | None, P(ge=1, description="每页条数")] = None,
    category: QueryEx[str | None, P(min_length=1, max_length=64, description="只列出此栏目（slug）")] = None,
) -> AnnouncementPage:
    size = page_size_checked(page_size, default=settings.RULECENTER_NEWS_PAGE_SIZE)
    chosen = _category_or_problem(category, ["query", "category"]) if category is not None else None
    stamp = selectors.listing_stamp(category=chosen)
    pages = page_count(stamp.total, size)
    if page > pages:
        raise Http404(_(PAGE_INVALID).format(value=page, last=pages))
    pager = Pager(total=stamp.total, number=page, size=size, window=())
    rows = selectors.listing_page(category=chosen, stamp=stamp, pager=pager)
    categories = {c.pk: _category_out(c) for c in ([chosen] if chosen else selectors.category_list())}
    return AnnouncementPage(
        count=stamp.total,
        items=[
            AnnouncementListItem(
                id=row.id,
                title=row.title,
                excerpt=row.excerpt,
                published_at=timezone.localtime(row.published_at),
                category=categories[row.category_id],
                url=_site_url(request, reverse("announcements:detail", args=[row.id])),
            )
            for row in rows
        ],
    )


@router.get(
    "/{int:announcement_id}",
    response={200: AnnouncementOut, **problems(404, 422)},
    url_name="announcement-detail",
    operation_id="announcement_detail",
    summary="一条已发布的公告，含正文",
)
def announcement_detail(request: HttpRequest, announcement_id: int) -> AnnouncementOut:
    announcement = selectors.announcement_get_published(pk=announcement_id)
    if announcement is None:
        raise Http404(_(ANNOUNCEMENT_UNKNOWN))
    return _announcement_out(request, announcement)


@router.post(
    "",
    response={201: AnnouncementOut, **problems(400, 401, 403, 409, 422)},
    auth=BearerTokenAuth(),
    url_name="announcement-create",
    operation_id="announcement_create",
    summary="创建公告（编辑角色）",
    description="需要编辑角色（editor 组，或有“添加公告”权限的账户）。直接发布（status=published）还需要发布角色。"
    "任何一处输入有误都返回 422，不会写入任何内容。可带 Idempotency-Key 头安全地重试。",
)
def announcement_create(
    request: HttpRequest,
    payload: AnnouncementIn,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Status[AnnouncementOut] | HttpResponse:
    user: User = request.auth  # type: ignore[attr-defined]
    if not user.has_perm("announcements.add_announcement"):
        raise PermissionDenied(_(EDITOR_REQUIRED))
    if payload.status == Announcement.Status.PUBLISHED and not user.has_perm(
        "announcements.publish_announcement"
    ):
        raise PermissionDenied(_(PUBLISHER_REQUIRED))

    def write() -> AnnouncementOut:
        announcement = services.announcement_create(
            actor=request_actor(request),
            title=payload.title,
            body=payload.body,
            category=_category_or_problem(payload.category, ["body", "category"]),
            kind=payload.kind,
            summary=payload.summary,
            source_url=payload.source_url,
            status=payload.status,
            published_at=payload.published_at,
        )
        return _announcement_out(request, announcement)

    return idempotent_write(
        request,
        user=user,
        key=idempotency_key,
        operation="announcement_create",
        payload=payload,
        status=201,
        write=write,
    )
