"""The announcements API (/api/v1/announcements): parse input, call a selector or service, shape output."""

from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, P, QueryEx, Router, Schema
from ninja.responses import Status

from rulecenter.accounts.auth import BearerTokenAuth
from rulecenter.accounts.roles import request_actor
from rulecenter.accounts.schemas import SEGMENTS_MAX, SegmentOut, SegmentSlug, segments_out
from rulecenter.common.api import (
    IsoDatetime,
    TranslationIn,
    TranslationOut,
    page_size_checked,
    translation_out,
    translations_out,
)
from rulecenter.common.idempotency import IdempotencyKeyHeader, idempotent_write
from rulecenter.common.pagination import PAGE_INVALID, Pager, page_count
from rulecenter.common.problems import CONFLICT, VALIDATION, Problem, ProblemType, field_error, problems

from . import selectors, services
from .models import Announcement, Category

CATEGORY_UNKNOWN = "栏目“{slug}”不存在。"
ANNOUNCEMENT_UNKNOWN = "公告不存在或已撤回。"
ANNOUNCEMENT_WITHDRAWN = "该公告已于 {withdrawn_at} 撤回。撤回原因：{reason}"
# A withdrawn announcement is kept: its address answers 410 Gone with when and why, not a 404.
GONE = ProblemType("gone", 410, "已撤回")

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
    statutory: bool = Field(description="规则变更的法定公示：由平台发布，发布后不能修改、撤回或删除")
    corrected_at: datetime | None = Field(description="最近一次更正的时间；网站上的公告页列出每次更正")
    approved_at: datetime | None = Field(description="审核通过的时间；未审核或已退回为 null")
    review_comment: str = Field(description="审核人退回修改时写的意见")
    segments: list[SegmentOut] = Field(
        default_factory=list,
        description="公告主要涉及的商家分群；空表示面向所有商家。公告对所有人公开，通知只发给这些分群的商家",
    )
    translations: list[TranslationOut] = Field(
        default_factory=list,
        description="编辑提供的译文（每种语言最新的一条）：标题和摘要，仅供参考，以中文原文为准；正文不翻译",
    )


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
    segments: list[SegmentSlug] = Field(
        default_factory=list,
        max_length=SEGMENTS_MAX,
        description="涉及的商家分群（标识）；空为所有人。通知只发给这些分群的商家，公告页标明。只能在草稿时设定",
    )


class AnnouncementPatch(Schema):
    """The fields to change; a field left out (or null) keeps its value."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, min_length=1, description="正文（Markdown）")
    summary: str | None = Field(default=None, max_length=500)
    kind: Announcement.Kind | None = None
    category: str | None = Field(default=None, min_length=1, max_length=64, description="栏目标识（slug）")
    source_url: str | None = Field(default=None, max_length=1000)
    published_at: IsoDatetime | None = Field(default=None, description="发布时间")
    segments: list[SegmentSlug] | None = Field(
        default=None,
        max_length=SEGMENTS_MAX,
        description="涉及的商家分群（标识），[] 为所有人；发布后不能再改（409）",
    )


class SendBackIn(Schema):
    comment: str = Field(
        min_length=1,
        max_length=services.REVIEW_COMMENT_MAX_CHARS,
        examples=["第二段的生效日期与规则不一致，请核对。"],
    )


class WithdrawIn(Schema):
    reason: str = Field(
        min_length=1,
        max_length=services.WITHDRAWN_REASON_MAX_CHARS,
        description="撤回原因，会显示在公告原来的地址上",
        examples=["内容有误，更正后将重新发布。"],
    )


class AnnouncementTarget(Schema):
    """What a body-less write acts on, for its Idempotency-Key fingerprint."""

    id: int


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
        published_at=_local(announcement.published_at),
        url=_site_url(request, announcement.get_absolute_url()) if announcement.is_published else None,
        statutory=announcement.statutory,
        corrected_at=_local(announcement.corrected_at),
        approved_at=_local(announcement.approved_at),
        review_comment=announcement.review_comment,
        segments=segments_out(
            selectors.announcement_segments(ids=[announcement.pk]).get(announcement.pk, [])
        ),
        translations=translations_out(
            selectors.announcement_translations(ids=[announcement.pk]).get(announcement.pk, {})
        ),
    )


def _local(moment: datetime | None) -> datetime | None:
    return timezone.localtime(moment) if moment else None


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
    response={200: AnnouncementOut, **problems(404, 410, 422)},
    url_name="announcement-detail",
    operation_id="announcement_detail",
    summary="一条已发布的公告，含正文",
    description="撤回的公告返回 410，detail 写明撤回的时间和原因；草稿和不存在的编号返回 404。",
)
def announcement_detail(request: HttpRequest, announcement_id: int) -> AnnouncementOut:
    announcement = selectors.announcement_get_public(pk=announcement_id)
    if announcement is None:
        raise Http404(_(ANNOUNCEMENT_UNKNOWN))
    if announcement.is_withdrawn:
        raise Problem(GONE, withdrawn_detail(announcement))
    return _announcement_out(request, announcement)


def withdrawn_detail(announcement: Announcement) -> str:
    """When and why an announcement was withdrawn, in the request's language."""
    assert announcement.withdrawn_at is not None
    at = timezone.localtime(announcement.withdrawn_at).strftime("%Y-%m-%d %H:%M")
    return _(ANNOUNCEMENT_WITHDRAWN).format(withdrawn_at=at, reason=announcement.withdrawn_reason)


@router.post(
    "",
    response={201: AnnouncementOut, **problems(400, 401, 403, 409, 422)},
    auth=BearerTokenAuth(),
    url_name="announcement-create",
    operation_id="announcement_create",
    summary="创建公告草稿（编辑角色）",
    description="需要编辑角色；创建者成为草稿的作者。草稿经作者以外的审核角色审核通过后，由发布角色发布"
    "（见 /approve 和 /publish）。直接发布（status=published）只留给平台自身和导入，个人请求返回 403。"
    "任何一处输入有误都返回 422，不会写入任何内容。可带 Idempotency-Key 头安全地重试。",
)
def announcement_create(
    request: HttpRequest,
    payload: AnnouncementIn,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Status[AnnouncementOut] | HttpResponse:
    actor = request_actor(request)

    def write() -> AnnouncementOut:
        announcement = services.announcement_create(
            actor=actor,
            title=payload.title,
            body=payload.body,
            category=_category_or_problem(payload.category, ["body", "category"]),
            kind=payload.kind,
            summary=payload.summary,
            source_url=payload.source_url,
            status=payload.status,
            published_at=payload.published_at,
        )
        if payload.segments:
            services.announcement_segments_set(
                actor=actor, announcement=announcement, segments=payload.segments
            )
        return _announcement_out(request, announcement)

    return _write(request, idempotency_key, "announcement_create", payload, write, status=201)


def _write(
    request: HttpRequest,
    key: str | None,
    operation: str,
    payload: Schema,
    write: Callable[[], AnnouncementOut],
    *,
    status: int = 200,
) -> Status[AnnouncementOut] | HttpResponse:
    """Run a write once per Idempotency-Key; a state the write refuses answers 409, nothing changed."""
    user: User = request.auth  # type: ignore[attr-defined]
    return idempotent_write(
        request,
        user=user,
        key=key,
        operation=operation,
        payload=payload,
        status=status,
        write=write,
        conflicts=(services.AnnouncementStateConflict,),
    )


def _announcement_or_404(announcement_id: int) -> Announcement:
    announcement = selectors.announcement_get(pk=announcement_id)
    if announcement is None:
        raise Http404(_(ANNOUNCEMENT_UNKNOWN))
    return announcement


_WRITE_PROBLEMS = problems(400, 401, 403, 404, 409, 422)


@router.patch(
    "/{int:announcement_id}",
    response={200: AnnouncementOut, **_WRITE_PROBLEMS},
    auth=BearerTokenAuth(),
    url_name="announcement-update",
    operation_id="announcement_update",
    summary="修改草稿（编辑角色）或更正已发布的公告（发布角色）",
    description="只改给出的字段。修改草稿的编辑成为它的作者，已有的审核通过随之作废。更正已发布的公告时，"
    "标题、摘要或正文的原文先保存为更正记录，公告页列出每次更正及其差异。法定公示和已撤回的公告返回 409。",
)
def announcement_update(
    request: HttpRequest,
    announcement_id: int,
    payload: AnnouncementPatch,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Status[AnnouncementOut] | HttpResponse:
    def write() -> AnnouncementOut:
        announcement = _announcement_or_404(announcement_id)
        actor = request_actor(request)
        fields = payload.model_dump(exclude_none=True, exclude={"segments"})
        for field, value in fields.items():
            if field == "category":
                announcement.category = _category_or_problem(value, ["body", "category"])
            else:
                setattr(announcement, field, value)
        # Targeting alone is not an edit of the text: the approval stands (as on the admin's form).
        saved = services.announcement_save(actor=actor, announcement=announcement) if fields else announcement
        if payload.segments is not None:
            services.announcement_segments_set(actor=actor, announcement=saved, segments=payload.segments)
        return _announcement_out(request, saved)

    return _write(request, idempotency_key, f"announcement_update:{announcement_id}", payload, write)


@router.post(
    "/{int:announcement_id}/approve",
    response={200: AnnouncementOut, **_WRITE_PROBLEMS},
    auth=BearerTokenAuth(),
    url_name="announcement-approve",
    operation_id="announcement_approve",
    summary="审核通过草稿（审核角色，不能是作者本人）",
    description="四眼原则：草稿的最后作者不能审核通过自己的草稿（403）。已审核通过或不是草稿返回 409。",
)
def announcement_approve(
    request: HttpRequest, announcement_id: int, idempotency_key: IdempotencyKeyHeader = None
) -> Status[AnnouncementOut] | HttpResponse:
    def write() -> AnnouncementOut:
        announcement = _announcement_or_404(announcement_id)
        approved = services.announcement_approve(actor=request_actor(request), announcement=announcement)
        return _announcement_out(request, approved)

    target = AnnouncementTarget(id=announcement_id)
    return _write(request, idempotency_key, "announcement_approve", target, write)


@router.post(
    "/{int:announcement_id}/send-back",
    response={200: AnnouncementOut, **_WRITE_PROBLEMS},
    auth=BearerTokenAuth(),
    url_name="announcement-send-back",
    operation_id="announcement_send_back",
    summary="退回草稿并写明意见（审核角色）",
    description="已有的审核通过随之作废；意见保存在 review_comment 中，直到草稿被审核通过。",
)
def announcement_send_back(
    request: HttpRequest,
    announcement_id: int,
    payload: SendBackIn,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Status[AnnouncementOut] | HttpResponse:
    def write() -> AnnouncementOut:
        announcement = _announcement_or_404(announcement_id)
        returned = services.announcement_send_back(
            actor=request_actor(request), announcement=announcement, comment=payload.comment
        )
        return _announcement_out(request, returned)

    return _write(request, idempotency_key, f"announcement_send_back:{announcement_id}", payload, write)


@router.post(
    "/{int:announcement_id}/publish",
    response={200: AnnouncementOut, **_WRITE_PROBLEMS},
    auth=BearerTokenAuth(),
    url_name="announcement-publish",
    operation_id="announcement_publish",
    summary="发布审核通过的草稿（发布角色）",
    description="只能发布已由作者以外的审核角色审核通过的草稿，否则返回 409。发布时间取草稿上的时间，留空则为当前时间。",
)
def announcement_publish(
    request: HttpRequest, announcement_id: int, idempotency_key: IdempotencyKeyHeader = None
) -> Status[AnnouncementOut] | HttpResponse:
    def write() -> AnnouncementOut:
        announcement = _announcement_or_404(announcement_id)
        published = services.announcement_publish(actor=request_actor(request), announcement=announcement)
        return _announcement_out(request, published)

    target = AnnouncementTarget(id=announcement_id)
    return _write(request, idempotency_key, "announcement_publish", target, write)


@router.post(
    "/{int:announcement_id}/withdraw",
    response={200: AnnouncementOut, **_WRITE_PROBLEMS},
    auth=BearerTokenAuth(),
    url_name="announcement-withdraw",
    operation_id="announcement_withdraw",
    summary="撤回已发布的公告并写明原因（发布角色）",
    description="公告保留不删：它离开列表、订阅源和搜索，原来的地址返回 410 并写明撤回的时间和原因。"
    "法定公示不能撤回（409）。",
)
def announcement_withdraw(
    request: HttpRequest,
    announcement_id: int,
    payload: WithdrawIn,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Status[AnnouncementOut] | HttpResponse:
    def write() -> AnnouncementOut:
        announcement = _announcement_or_404(announcement_id)
        withdrawn = services.announcement_withdraw(
            actor=request_actor(request), announcement=announcement, reason=payload.reason
        )
        return _announcement_out(request, withdrawn)

    return _write(request, idempotency_key, f"announcement_withdraw:{announcement_id}", payload, write)


@router.post(
    "/{int:announcement_id}/translations",
    response={201: TranslationOut, **_WRITE_PROBLEMS},
    auth=BearerTokenAuth(),
    url_name="announcement-translate",
    operation_id="announcement_translate",
    summary="添加标题和摘要的译文（草稿：编辑角色；已发布：发布角色）",
    description="译文向该语言的读者显示，并注明是译文、以中文原文为准；正文不翻译。译文写入后不再修改："
    "更好的译文作为新的一条添加，显示最新的一条，旧的保留。已撤回的公告返回 409。",
)
def announcement_translate(
    request: HttpRequest,
    announcement_id: int,
    payload: TranslationIn,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Status[TranslationOut] | HttpResponse:
    def write() -> TranslationOut:
        announcement = _announcement_or_404(announcement_id)
        translated = services.announcement_translate(
            actor=request_actor(request),
            announcement=announcement,
            language=payload.language,
            title=payload.title,
            summary=payload.summary,
        )
        return translation_out(translated)

    user: User = request.auth  # type: ignore[attr-defined]
    return idempotent_write(
        request,
        user=user,
        key=idempotency_key,
        operation=f"announcement_translate:{announcement_id}",
        payload=payload,
        status=201,
        write=write,
        conflicts=(services.AnnouncementStateConflict,),
    )


@router.delete(
    "/{int:announcement_id}",
    response={204: None, **problems(401, 403, 404, 409)},
    auth=BearerTokenAuth(),
    url_name="announcement-delete",
    operation_id="announcement_delete",
    summary="删除从未发布的草稿（编辑角色）",
    description="发布过的公告不能删除（409），只能撤回。",
)
def announcement_delete(request: HttpRequest, announcement_id: int) -> Status[None]:
    announcement = _announcement_or_404(announcement_id)
    try:
        services.announcement_delete(actor=request_actor(request), announcement=announcement)
    except services.AnnouncementStateConflict as error:
        raise Problem(CONFLICT, error.messages[0]) from None
    return Status(204, None)
