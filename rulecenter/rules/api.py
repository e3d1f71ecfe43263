"""The rules API (/api/v1/rules): the library, versions, the version in force at an instant, diffs."""

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from django.conf import settings
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, P, QueryEx, Router, Schema
from ninja.responses import Status

from rulecenter.accounts.auth import BearerTokenAuth
from rulecenter.accounts.models import Role, Segment
from rulecenter.accounts.roles import request_actor, role_require, role_require_any
from rulecenter.accounts.schemas import SEGMENTS_MAX, SegmentOut, SegmentSlug, segments_out
from rulecenter.common.api import (
    IsoDatetime,
    TranslationIn,
    TranslationOut,
    page_or_404,
    translation_out,
    translations_out,
)
from rulecenter.common.idempotency import IdempotencyKeyHeader, idempotent_write
from rulecenter.common.problems import CONFLICT, VALIDATION, Problem, field_error, problems
from rulecenter.common.text import INSTANT_OUT_OF_RANGE, instant_representable, local_minute
from rulecenter.common.translations import TranslationText

from . import selectors, services
from .models import Rule, RuleVersion
from .rendered import versions_diff

RULE_UNKNOWN = "规则“{slug}”不存在。"
VERSION_UNKNOWN = "《{rule}》没有第 {number} 版（或尚未公示）。"
NOTHING_IN_FORCE = "《{rule}》在 {at} 尚无生效版本。"
CATEGORY_UNKNOWN = "规则分类“{slug}”不存在。"
DRAFT_UNKNOWN = "《{rule}》没有第 {number} 版。"
BUNDLE_MAX_VERSIONS = 50  # the rules one change moves together; the seed's largest has two

router = Router(tags=["rules"])
# Mounted at /rules/bundles before `router`, whose /{slug} would otherwise take "bundles" for a rule.
bundles_router = Router(tags=["rules"])

# Literals, not the models' TextChoices: OpenAPI names an enum after its class, and "Kind" and "Status"
# are taken by the announcements' enums.
RuleKind = Literal["rule", "agreement", "implementation"]
VersionStatus = Literal["draft", "scheduled", "noticed", "in_force", "superseded"]
ReviewState = Literal["awaiting_review", "approved", "scheduled", "noticed"]


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
    acknowledgment_required: bool = Field(
        default=False, description="这一版要求商家逐一确认“我已阅读并知悉”（POST …/acknowledgment）"
    )
    summary: str
    notice_at: datetime | None
    effective_at: datetime | None
    buffer_ends_at: datetime | None
    text: str = Field(description="全文（Markdown）")
    url: str
    downloads: dict[str, str] = Field(description="md / txt / json 下载地址")
    segments: list[SegmentOut] = Field(
        default_factory=list,
        description="变更主要涉及的商家分群；空表示面向所有商家。规则对所有人公开，通知和确认请求只发给这些分群的商家",
    )
    translations: list[TranslationOut] = Field(
        default_factory=list,
        description="编辑提供的译文（每种语言最新的一条）：规则标题和变更摘要，仅供参考，以中文原文为准；全文不翻译",
    )


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
    acknowledgment_required: bool = Field(default=False, description="要求商家逐一确认（只限重大变更）")
    notice_at: IsoDatetime | None = Field(
        default=None, description="公示时间；与生效时间同时给出即排期，否则为草稿"
    )
    effective_at: IsoDatetime | None = None
    buffer_ends_at: IsoDatetime | None = None
    segments: list[SegmentSlug] = Field(
        default_factory=list,
        max_length=SEGMENTS_MAX,
        description="涉及的商家分群（标识）；空为所有人。通知只发给这些分群的商家，规则页标明。公示前可改",
    )


def _rule_or_404(slug: str) -> Rule:
    """Any rule, for the write endpoints (an editor's new rule has no public version yet)."""
    rule = selectors.rule_by_slug(slug[:100])
    if rule is None:
        raise Http404(_(RULE_UNKNOWN).format(slug=slug[:100]))
    return rule


def _public_rule_or_404(slug: str) -> Rule:
    """A rule with a noticed version, for the public reads: an unannounced rule's title is not public."""
    rule = selectors.public_rule_by_slug(slug[:100])
    if rule is None:
        raise Http404(_(RULE_UNKNOWN).format(slug=slug[:100]))
    return rule


def _local(value: datetime | None) -> datetime | None:
    return timezone.localtime(value) if value else None


def _version_out(
    request: HttpRequest,
    version: RuleVersion,
    status: RuleVersion.Status,
    segments: dict[int, list[Segment]] | None = None,
    translations: dict[int, dict[str, TranslationText]] | None = None,
) -> VersionOut:
    """`segments` and `translations` are the versions' (`selectors.version_segments`,
    `selectors.version_translations`), read here when not given."""
    if segments is None:
        segments = selectors.version_segments(ids=[version.pk])
    if translations is None:
        translations = selectors.version_translations(ids=[version.pk])
    path = version.get_absolute_url()
    return VersionOut(
        number=version.number,
        status=status.value,  # type: ignore[arg-type]
        major=version.major,
        acknowledgment_required=version.acknowledgment_required,
        summary=version.summary,
        notice_at=_local(version.notice_at),
        effective_at=_local(version.effective_at),
        buffer_ends_at=_local(version.buffer_ends_at),
        text=version.text,
        url=request.build_absolute_uri(path),
        downloads={
            fmt: request.build_absolute_uri(f"{path.rstrip('/')}.{fmt}") for fmt in ("md", "txt", "json")
        },
        segments=segments_out(segments.get(version.pk, [])),
        translations=translations_out(translations.get(version.pk, {})),
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
    rule = _public_rule_or_404(slug)
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
    rule = _public_rule_or_404(slug)
    size = settings.RULECENTER_HISTORY_PAGE_SIZE
    now = timezone.now()
    total = selectors.version_count(rule=rule, at=now)
    page_or_404(page, total=total, size=size)
    offset = (page - 1) * size
    rows = selectors.version_history(rule=rule, offset=offset, limit=size, at=now, total=total)
    ids = [row.version.pk for row in rows]
    segments = selectors.version_segments(ids=ids)
    translations = selectors.version_translations(ids=ids)
    return VersionPage(
        items=[_version_out(request, row.version, row.status, segments, translations) for row in rows],
        count=total,
    )


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
    rule = _public_rule_or_404(slug)
    try:
        at = time if timezone.is_aware(time) else timezone.make_aware(time)
    except OverflowError:
        at = time
    if not instant_representable(at):
        message = _(INSTANT_OUT_OF_RANGE).format(value=request.GET.get("time", "")[:40])
        raise Problem(VALIDATION, message, errors=[field_error(["query", "time"], message, "datetime_range")])
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
    rule = _public_rule_or_404(slug)
    versions = []
    for number in (from_version, to_version):
        version = selectors.version_by_number(rule=rule, number=number)
        if version is None:
            raise Http404(_(VERSION_UNKNOWN).format(rule=rule.title, number=number))
        versions.append(version)
    result, _rows = versions_diff(versions[0], versions[1])  # cached with the diff page's
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


# The writing side: drafts, review and schedule. Every write names the role it needs (403 otherwise, before
# anything is looked up), takes an optional Idempotency-Key, and answers a step the version's state forbids
# (not approved, already scheduled, noticed) with 409.


class VersionReviewOut(Schema):
    """A version as staff see it: its text, dates and where it stands in review."""

    number: int
    status: VersionStatus = Field(
        description="按当前时间推算：draft / scheduled / noticed / in_force / superseded"
    )
    review_state: ReviewState = Field(
        description="awaiting_review 待审核 / approved 已审核通过 / scheduled 已排期 / noticed 已公示"
    )
    major: bool
    acknowledgment_required: bool = False
    summary: str
    text: str = Field(description="全文（Markdown）")
    notice_at: datetime | None
    effective_at: datetime | None
    buffer_ends_at: datetime | None
    author: str | None = Field(description="最后撰写文本的用户名；平台自身（导入、演示数据）为空")
    approved_by: str | None = Field(description="审核通过的用户名；未审核通过时为空")
    approved_at: datetime | None
    review_comment: str = Field(description="审核角色退回修改时写的意见；审核通过后清空")
    updated_at: datetime
    segments: list[SegmentOut] = Field(default_factory=list, description="涉及的商家分群；空为所有人")


class DraftPage(Schema):
    items: list[VersionReviewOut]
    count: int


class RuleVersionPatchIn(Schema):
    text: str | None = Field(default=None, min_length=1, description="全文（Markdown）；不给则不改")
    summary: str | None = Field(default=None, max_length=2000)
    major: bool | None = None
    acknowledgment_required: bool | None = None
    segments: list[SegmentSlug] | None = Field(
        default=None,
        max_length=SEGMENTS_MAX,
        description="涉及的商家分群（标识），[] 为所有人；公示后不能再改（409）",
    )


class RuleVersionSendBackIn(Schema):
    comment: str = Field(
        min_length=1, max_length=services.REVIEW_COMMENT_MAX_CHARS, description="退回意见，作者据此修改"
    )


class RuleVersionScheduleIn(Schema):
    notice_at: IsoDatetime = Field(description="公示时间，不能早于当前时间")
    effective_at: IsoDatetime = Field(
        description="生效时间；距公示至少 RULECENTER_NOTICE_DAYS 日（重大变更更长）"
    )
    buffer_ends_at: IsoDatetime | None = Field(default=None, description="缓冲期结束时间，晚于生效时间")


class RuleVersionTarget(Schema):
    """The version a body-less write acts on (what its Idempotency-Key is bound to)."""

    slug: str
    number: int


def _user_name(user: User | None) -> str | None:
    return user.get_username() if user is not None else None


def _review_out(version: RuleVersion, segments: dict[int, list[Segment]] | None = None) -> VersionReviewOut:
    """`segments`: the versions' segments (`selectors.version_segments`), read here when not given."""
    if segments is None:
        segments = selectors.version_segments(ids=[version.pk])
    now = timezone.now()
    # Before its notice a version is a draft or scheduled whatever the rule's other versions are: no query.
    noticed = version.is_noticed_at(now)
    status = (
        selectors.version_status(version=version, at=now)
        if noticed
        else version.status_at(now, next_effective_at=None)
    )
    return VersionReviewOut(
        number=version.number,
        status=status.value,  # type: ignore[arg-type]
        review_state=version.review_state_at(now).value,  # type: ignore[arg-type]
        major=version.major,
        acknowledgment_required=version.acknowledgment_required,
        summary=version.summary,
        text=version.text,
        notice_at=_local(version.notice_at),
        effective_at=_local(version.effective_at),
        buffer_ends_at=_local(version.buffer_ends_at),
        author=_user_name(version.author),
        approved_by=_user_name(version.approved_by),
        approved_at=_local(version.approved_at),
        review_comment=version.review_comment,
        updated_at=timezone.localtime(version.updated_at),
        segments=segments_out(segments.get(version.pk, [])),
    )


def _version_or_404(rule: Rule, number: int) -> RuleVersion:
    version = selectors.version_by_slug_and_number(slug=rule.slug, number=number)
    if version is None:
        raise Http404(_(DRAFT_UNKNOWN).format(rule=rule.title, number=number))
    return version


def _write[T: Schema](
    request: HttpRequest,
    key: str | None,
    operation: str,
    payload: Schema,
    write: Callable[[], T],
    *,
    status: int = 200,
) -> Status[T] | HttpResponse:
    """Run a write once per Idempotency-Key; a step the version's state forbids answers 409, nothing changed."""
    user: User = request.auth  # type: ignore[attr-defined]
    return idempotent_write(
        request,
        user=user,
        key=key,
        operation=operation,
        payload=payload,
        status=status,
        write=write,
        conflicts=(services.ReviewStateConflict,),
    )


_WRITE_PROBLEMS = problems(400, 401, 403, 404, 409, 422)


@router.post(
    "",
    response={201: RuleOut, **problems(400, 401, 403, 409, 422)},
    auth=BearerTokenAuth(),
    url_name="rule_create",
    operation_id="rule_create",
    summary="创建规则（编辑角色）",
    description="可带 Idempotency-Key 头安全地重试。",
)
def rule_create(
    request: HttpRequest, payload: RuleIn, idempotency_key: IdempotencyKeyHeader = None
) -> Status[RuleOut] | HttpResponse:
    actor = request_actor(request)
    role_require(actor, Role.EDITOR)

    def write() -> RuleOut:
        category = selectors.rule_category_by_slug(payload.category)
        if category is None:
            message = _(CATEGORY_UNKNOWN).format(slug=payload.category)
            raise Problem(
                VALIDATION, message, errors=[field_error(["body", "category"], message, "category_unknown")]
            )
        rule = services.rule_create(
            actor=actor, slug=payload.slug, title=payload.title, category=category, kind=payload.kind
        )
        return _rule_out(request, rule, None)

    return _write(request, idempotency_key, "rule_create", payload, write, status=201)


@router.post(
    "/{slug}/versions",
    response={201: VersionReviewOut, **_WRITE_PROBLEMS},
    auth=BearerTokenAuth(),
    url_name="rule_version_create",
    operation_id="rule_version_create",
    summary="新建规则版本草稿（编辑角色）",
    description="新版本是草稿，提交者是它的作者。排期须先经作者以外的审核角色审核通过（/approve），"
    "再由发布角色排期（/schedule）；因此同时给出公示和生效时间时返回 409（没有发布角色时 403），"
    "不会写入任何内容。可带 Idempotency-Key 头安全地重试。",
)
def rule_version_create(
    request: HttpRequest, slug: str, payload: VersionIn, idempotency_key: IdempotencyKeyHeader = None
) -> Status[VersionReviewOut] | HttpResponse:
    actor = request_actor(request)
    role_require(actor, Role.EDITOR)
    rule = _rule_or_404(slug)

    def write() -> VersionReviewOut:
        version = services.rule_version_submit(
            actor=actor,
            rule=rule,
            text=payload.text,
            summary=payload.summary,
            major=payload.major,
            acknowledgment_required=payload.acknowledgment_required,
            notice_at=payload.notice_at,
            effective_at=payload.effective_at,
            buffer_ends_at=payload.buffer_ends_at,
        )
        if payload.segments:
            services.rule_version_segments_set(actor=actor, version=version, segments=payload.segments)
        return _review_out(version)

    return _write(request, idempotency_key, f"rule_version_create:{rule.slug}", payload, write, status=201)


@router.get(
    "/{slug}/drafts",
    response={200: DraftPage, **problems(401, 403, 404)},
    auth=BearerTokenAuth(),
    url_name="rule_drafts",
    operation_id="rule_drafts",
    summary="尚未公示的版本及其审核状态（编辑、审核或发布角色）",
    description="草稿和已排期但尚未到公示时间的版本，按版本号由新到旧；它们不公开，只有员工令牌可读。",
)
def rule_drafts(request: HttpRequest, slug: str) -> DraftPage:
    role_require_any(request_actor(request), Role.EDITOR, Role.REVIEWER, Role.PUBLISHER)
    rule = _rule_or_404(slug)
    versions = services.rule_versions_unnoticed(rule=rule, at=timezone.now())
    segments = selectors.version_segments(ids=[version.pk for version in versions])
    return DraftPage(items=[_review_out(version, segments) for version in versions], count=len(versions))


@router.patch(
    "/{slug}/versions/{int:number}",
    response={200: VersionReviewOut, **_WRITE_PROBLEMS},
    auth=BearerTokenAuth(),
    url_name="rule_version_update",
    operation_id="rule_version_update",
    summary="修改草稿（编辑角色）",
    description="只改给出的字段。修改者成为版本的作者，已有的审核通过随之作废。已排期的版本须先撤回排期，"
    "已公示的版本不能修改（均为 409）。",
)
def rule_version_update(
    request: HttpRequest,
    slug: str,
    number: int,
    payload: RuleVersionPatchIn,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Status[VersionReviewOut] | HttpResponse:
    actor = request_actor(request)
    role_require(actor, Role.EDITOR)
    version = _version_or_404(_rule_or_404(slug), number)

    def write() -> VersionReviewOut:
        updated = version
        # Targeting alone is not an edit of the text: the approval stands, a scheduled version may be
        # targeted until its notice (as on the admin's form).
        if payload.model_dump(exclude_none=True, exclude={"segments"}):
            updated = services.rule_version_update(
                actor=actor,
                version=version,
                text=version.text if payload.text is None else payload.text,
                summary=version.summary if payload.summary is None else payload.summary,
                major=version.major if payload.major is None else payload.major,
                acknowledgment_required=payload.acknowledgment_required,
            )
        if payload.segments is not None:
            services.rule_version_segments_set(actor=actor, version=updated, segments=payload.segments)
        return _review_out(updated)

    return _write(request, idempotency_key, f"rule_version_update:{slug}:{number}", payload, write)


@router.post(
    "/{slug}/versions/{int:number}/translations",
    response={201: TranslationOut, **_WRITE_PROBLEMS},
    auth=BearerTokenAuth(),
    url_name="rule_version_translate",
    operation_id="rule_version_translate",
    summary="添加规则标题和变更摘要的译文（草稿：编辑角色；已排期或已公示：发布角色）",
    description="译文从版本公示起向该语言的读者显示，并注明是译文、规则以中文原文为准；全文不翻译。"
    "译文写入后不再修改：更好的译文作为新的一条添加，显示最新的一条，旧的保留。",
)
def rule_version_translate(
    request: HttpRequest,
    slug: str,
    number: int,
    payload: TranslationIn,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Status[TranslationOut] | HttpResponse:
    actor = request_actor(request)
    version = _version_or_404(_rule_or_404(slug), number)

    def write() -> TranslationOut:
        translated = services.rule_version_translate(
            actor=actor,
            version=version,
            language=payload.language,
            title=payload.title,
            summary=payload.summary,
        )
        return translation_out(translated)

    return _write(
        request, idempotency_key, f"rule_version_translate:{slug}:{number}", payload, write, status=201
    )


@router.delete(
    "/{slug}/versions/{int:number}",
    response={204: None, **problems(401, 403, 404, 409, 422)},
    auth=BearerTokenAuth(),
    url_name="rule_version_delete",
    operation_id="rule_version_delete",
    summary="删除草稿（编辑角色）",
    description="已排期的版本须先撤回排期，已公示的版本是公开记录，不能删除（均为 409）。",
)
def rule_version_delete(request: HttpRequest, slug: str, number: int) -> Status[None]:
    actor = request_actor(request)
    role_require(actor, Role.EDITOR)
    version = _version_or_404(_rule_or_404(slug), number)
    try:
        services.rule_version_delete(actor=actor, version=version)
    except services.ReviewStateConflict as error:
        raise Problem(CONFLICT, " ".join(error.messages)) from None
    return Status(204, None)


@router.post(
    "/{slug}/versions/{int:number}/approve",
    response={200: VersionReviewOut, **_WRITE_PROBLEMS},
    auth=BearerTokenAuth(),
    url_name="rule_version_approve",
    operation_id="rule_version_approve",
    summary="审核通过草稿（审核角色，不能是作者本人）",
    description="四眼原则：版本的最后作者不能审核通过自己的版本（403，设置 RULECENTER_FOUR_EYES=false 的单人模式除外）。"
    "已审核通过、已排期或已公示的版本返回 409。",
)
def rule_version_approve(
    request: HttpRequest, slug: str, number: int, idempotency_key: IdempotencyKeyHeader = None
) -> Status[VersionReviewOut] | HttpResponse:
    actor = request_actor(request)
    role_require(actor, Role.REVIEWER)
    version = _version_or_404(_rule_or_404(slug), number)

    def write() -> VersionReviewOut:
        return _review_out(services.rule_version_approve(actor=actor, version=version))

    target = RuleVersionTarget(slug=slug, number=number)
    return _write(request, idempotency_key, "rule_version_approve", target, write)


@router.post(
    "/{slug}/versions/{int:number}/send-back",
    response={200: VersionReviewOut, **_WRITE_PROBLEMS},
    auth=BearerTokenAuth(),
    url_name="rule_version_send_back",
    operation_id="rule_version_send_back",
    summary="退回草稿并写明意见（审核角色）",
    description="已有的审核通过随之作废；意见保存在 review_comment 中，直到版本被审核通过。已排期或已公示的版本返回 409。",
)
def rule_version_send_back(
    request: HttpRequest,
    slug: str,
    number: int,
    payload: RuleVersionSendBackIn,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Status[VersionReviewOut] | HttpResponse:
    actor = request_actor(request)
    role_require(actor, Role.REVIEWER)
    version = _version_or_404(_rule_or_404(slug), number)

    def write() -> VersionReviewOut:
        returned = services.rule_version_send_back(actor=actor, version=version, comment=payload.comment)
        return _review_out(returned)

    return _write(request, idempotency_key, f"rule_version_send_back:{slug}:{number}", payload, write)


@router.post(
    "/{slug}/versions/{int:number}/schedule",
    response={200: VersionReviewOut, **_WRITE_PROBLEMS},
    auth=BearerTokenAuth(),
    url_name="rule_version_schedule",
    operation_id="rule_version_schedule",
    summary="为审核通过的版本排期公示和生效（发布角色）",
    description="只能排期已由作者以外的审核角色审核通过的版本，否则返回 409。公示期短于 RULECENTER_NOTICE_DAYS 日"
    "（默认 7；重大变更 RULECENTER_MAJOR_NOTICE_DAYS 日，默认 15）时返回 422，消息中写明法律依据和最早可生效时间。"
    "公示之前可以重新排期。",
)
def rule_version_schedule(
    request: HttpRequest,
    slug: str,
    number: int,
    payload: RuleVersionScheduleIn,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Status[VersionReviewOut] | HttpResponse:
    actor = request_actor(request)
    role_require(actor, Role.PUBLISHER)
    version = _version_or_404(_rule_or_404(slug), number)

    def write() -> VersionReviewOut:
        scheduled = services.rule_version_schedule(
            actor=actor,
            version=version,
            notice_at=payload.notice_at,
            effective_at=payload.effective_at,
            buffer_ends_at=payload.buffer_ends_at,
        )
        return _review_out(scheduled)

    return _write(request, idempotency_key, f"rule_version_schedule:{slug}:{number}", payload, write)


@router.post(
    "/{slug}/versions/{int:number}/unschedule",
    response={200: VersionReviewOut, **_WRITE_PROBLEMS},
    auth=BearerTokenAuth(),
    url_name="rule_version_unschedule",
    operation_id="rule_version_unschedule",
    summary="在公示之前撤回排期（发布角色）",
    description="清除公示、生效和缓冲期时间，取消尚未执行的生命周期事件，版本离开它的变更包；审核通过仍然有效。"
    "已公示或尚未排期的版本返回 409。",
)
def rule_version_unschedule(
    request: HttpRequest, slug: str, number: int, idempotency_key: IdempotencyKeyHeader = None
) -> Status[VersionReviewOut] | HttpResponse:
    actor = request_actor(request)
    role_require(actor, Role.PUBLISHER)
    version = _version_or_404(_rule_or_404(slug), number)

    def write() -> VersionReviewOut:
        return _review_out(services.rule_version_unschedule(actor=actor, version=version))

    target = RuleVersionTarget(slug=slug, number=number)
    return _write(request, idempotency_key, "rule_version_unschedule", target, write)


class BundleVersionRef(Schema):
    rule: str = Field(
        min_length=1, max_length=100, description="规则标识（slug）", examples=["prohibited-goods"]
    )
    number: int = Field(ge=1, le=1_000_000_000, description="该规则已审核通过的版本号")


class BundleScheduleIn(Schema):
    title: str = Field(
        min_length=1, max_length=200, examples=["《1688指定渠道禁限售规则》和其相关规则的更新"]
    )
    versions: list[BundleVersionRef] = Field(
        min_length=1,
        max_length=BUNDLE_MAX_VERSIONS,
        description="同时公示、同时生效的各规则版本，每条规则一个",
    )
    notice_at: IsoDatetime = Field(description="公示时间，不能早于当前时间")
    effective_at: IsoDatetime = Field(
        description="生效时间；距公示至少 RULECENTER_NOTICE_DAYS 日，含重大变更时至少 RULECENTER_MAJOR_NOTICE_DAYS 日"
    )
    buffer_ends_at: IsoDatetime | None = Field(default=None, description="缓冲期结束时间，晚于生效时间")


class BundleOut(Schema):
    id: int
    title: str
    notice_at: datetime
    effective_at: datetime
    buffer_ends_at: datetime | None
    url: str = Field(description="变更包页面；公示之后公开")
    record_url: str = Field(description="变更记录（给监管的档案）；公示之后公开")
    versions: list[VersionReviewOut]


@bundles_router.post(
    "",
    response={201: BundleOut, **_WRITE_PROBLEMS},
    auth=BearerTokenAuth(),
    url_name="change_bundle_schedule",
    operation_id="change_bundle_schedule",
    summary="把几条规则的版本编成变更包，同时排期公示和生效（发布角色）",
    description="每个版本都须已由作者以外的审核角色审核通过（否则 409）；任一版本为重大变更时，整个变更包适用"
    "重大变更的公示期。公示时生成一条公告，列出全部规则。可带 Idempotency-Key 头安全地重试。",
)
def change_bundle_schedule(
    request: HttpRequest, payload: BundleScheduleIn, idempotency_key: IdempotencyKeyHeader = None
) -> Status[BundleOut] | HttpResponse:
    actor = request_actor(request)
    role_require(actor, Role.PUBLISHER)

    def write() -> BundleOut:
        versions = [_version_or_404(_rule_or_404(ref.rule), ref.number) for ref in payload.versions]
        bundle = services.change_bundle_schedule(
            actor=actor,
            title=payload.title,
            versions=versions,
            notice_at=payload.notice_at,
            effective_at=payload.effective_at,
            buffer_ends_at=payload.buffer_ends_at,
        )
        scheduled = selectors.bundle_versions(bundle_id=bundle.pk)
        first = scheduled[0]
        assert first.notice_at is not None
        assert first.effective_at is not None
        url = bundle.get_absolute_url()
        return BundleOut(
            id=bundle.pk,
            title=bundle.title,
            notice_at=timezone.localtime(first.notice_at),
            effective_at=timezone.localtime(first.effective_at),
            buffer_ends_at=_local(first.buffer_ends_at),
            url=request.build_absolute_uri(url),
            record_url=request.build_absolute_uri(reverse("record:bundle", args=[bundle.pk])),
            versions=[_review_out(version) for version in scheduled],
        )

    return _write(request, idempotency_key, "change_bundle_schedule", payload, write, status=201)
