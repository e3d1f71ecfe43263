"""Writes to announcements. Every function is one transaction and keeps the listing counters exact.

The review path (issue 11): an editor drafts and edits drafts (becoming the draft's last author, which
withdraws any approval); a reviewer other than that author approves or sends back with a comment; a
publisher publishes an approved draft, corrects a published one (the earlier text is kept as an
`AnnouncementRevision`) and withdraws one with a reason (the row is kept; its URL answers 410). Nothing
published is ever deleted, and a statutory notice — the 公示 the rule lifecycle publishes — is never
changed at all. The database refuses the same (migration 0003's triggers).

The platform itself (`SYSTEM`) needs no approval: the lifecycle's notices, `loaddemo`, and imports of news
other platforms already published (`listing_import`: `announcement_create(imported=True)` and
`announcement_bulk_create`) go out published as they are. A consultation's result report is drafted by the
system but published by a person, so it goes through review like any draft.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from rulecenter.accounts import services as account_services
from rulecenter.accounts.models import Role, Segment
from rulecenter.accounts.roles import role_require
from rulecenter.common.actors import Actor
from rulecenter.common.changes import (
    ChangeAction,
    ContentKind,
    content_changed_announce,
    content_changing_check,
)
from rulecenter.common.text import control_characters_refuse, excerpt, html_to_text, markdown_to_html
from rulecenter.common.translations import translation_checked, translation_fields

from . import selectors
from .models import Announcement, AnnouncementRevision, AnnouncementTranslation, Category, ListingCounter

ANNOUNCEMENT_BODY_EMPTY = "正文不能为空。"
ANNOUNCEMENT_DELETE_PUBLISHED = "发布过的公告不能删除：如需下线，请撤回（原文保留，并注明撤回原因）。"
ANNOUNCEMENT_STATUTORY_FROZEN = "《{title}》是规则变更的法定公示，发布后不能修改、撤回或删除。"
ANNOUNCEMENT_STATUTORY_SYSTEM_ONLY = "法定公示只能由平台的规则生命周期发布。"
ANNOUNCEMENT_WITHDRAWN_FROZEN = "《{title}》已于 {withdrawn_at} 撤回，不能再修改或发布。"
ANNOUNCEMENT_STATUS_BY_ACTION = "公告的状态只能通过发布和撤回操作改变。"
PUBLISH_NEEDS_REVIEW = (
    "公告须先以草稿（status=draft）提交，由作者以外的审核角色审核通过后，再由发布角色发布。"
)
PUBLISH_NOT_APPROVED = "《{title}》尚未审核通过，不能发布：须先由作者以外的审核角色审核通过。"
PUBLISH_NOT_APPROVED_SINGLE = "《{title}》尚未审核通过，不能发布：须先经审核角色审核通过。"
PUBLISH_APPROVED_BY_AUTHOR = (
    "《{title}》由其作者本人审核通过，不符合四眼原则：须由作者以外的审核角色重新审核通过。"
)
ALREADY_PUBLISHED = "《{title}》已经发布。"
REVIEW_ONLY_DRAFTS = "只有草稿需要审核；《{title}》{status}。"
ALREADY_APPROVED = "《{title}》已于 {approved_at} 审核通过。"
OWN_DRAFT_APPROVAL = "四眼原则：不能审核通过自己撰写的公告，须由作者以外的审核角色审核。"
WITHDRAW_ONLY_PUBLISHED = "只有已发布的公告可以撤回；《{title}》{status}。"
COMMENT_REQUIRED = "退回修改时须写明退回意见。"
REASON_REQUIRED = "撤回时须写明原因：它会显示在公告原来的地址上。"
TEXT_TOO_LONG = "最多 {max} 个字符（现有 {length} 个）。"
SEGMENTS_FROZEN = "《{title}》已经发布：发布后不能再修改它涉及的商家分群（已发出的通知无法收回）；如需面向其他分群，请另发公告。"
REVIEW_COMMENT_MAX_CHARS = 2000
WITHDRAWN_REASON_MAX_CHARS = 2000

# What a correction replaces and keeps; the other fields change without a revision.
TEXT_FIELDS = ("title", "summary", "body")
EDITABLE_FIELDS = (*TEXT_FIELDS, "kind", "category_id", "source_url", "published_at")
# Set by the review services only: whatever a form or a caller put there, the stored values stand.
WORKFLOW_FIELDS = (
    "status", "author_id", "approved_by_id", "approved_at", "review_comment", "statutory",
    "corrected_at", "withdrawn_at", "withdrawn_reason",
)  # fmt: skip


class AnnouncementStateConflict(ValidationError):
    """The announcement's state forbids the step (not approved, already published, withdrawn, statutory …).

    A ValidationError, so the admin shows it as a message; the API answers it with 409 Conflict.
    """


class OwnDraftApproval(PermissionDenied):
    """Four eyes: an author may not approve their own draft (the API answers 403)."""


class ReviewRequired(PermissionDenied):
    """A person may not create an announcement already published: it goes through review (403)."""


@dataclass(frozen=True, slots=True)
class _ListingState:
    published: bool
    category_id: int | None


def _state(announcement: Announcement | None) -> _ListingState | None:
    if announcement is None or announcement.pk is None:
        return None
    return _ListingState(announcement.status == Announcement.Status.PUBLISHED, announcement.category_id)


def _next_version() -> Greatest:
    # Microseconds since the epoch, never below the last version + 1: a version is never reused, even
    # after the database is recreated while a shared cache (Redis) still holds pages keyed by old ones.
    return Greatest(F("version") + 1, Value(int(timezone.now().timestamp() * 1_000_000)))


def _counters_apply(before: _ListingState | None, after: _ListingState | None) -> None:
    """Move the published counts from `before` to `after` and bump the version of every scope touched."""
    deltas: dict[str, int] = {}
    for state, sign in ((before, -1), (after, +1)):
        if state is None or not state.published:
            continue
        for scope in (ListingCounter.ALL, ListingCounter.scope_for(state.category_id)):
            deltas[scope] = deltas.get(scope, 0) + sign
    if not deltas:
        return
    ListingCounter.objects.bulk_create(
        [ListingCounter(scope=scope) for scope in deltas], ignore_conflicts=True
    )
    for scope, delta in sorted(deltas.items()):
        ListingCounter.objects.filter(scope=scope).update(
            published_count=F("published_count") + delta, version=_next_version()
        )
    # Whoever made the change sees it on the next page they load; other processes within
    # RULECENTER_LISTING_STATE_SECONDS.
    transaction.on_commit(selectors.listing_state_forget)


def announcement_render(announcement: Announcement) -> None:
    """Fill the stored HTML and excerpt from the Markdown body and summary."""
    announcement.body_html = markdown_to_html(announcement.body)
    source = announcement.summary.strip() or html_to_text(announcement.body_html)
    announcement.excerpt = excerpt(source, settings.RULECENTER_EXCERPT_WIDTH)


def _prepare(announcement: Announcement) -> None:
    """What every write checks and fills in before the row is saved."""
    texts = {"title": announcement.title, "summary": announcement.summary, "body": announcement.body}
    control_characters_refuse(texts, one_line=["title"])
    if not announcement.body.strip():
        raise ValidationError({"body": _(ANNOUNCEMENT_BODY_EMPTY)})
    if announcement.status == Announcement.Status.PUBLISHED and announcement.published_at is None:
        announcement.published_at = timezone.now()
    announcement_render(announcement)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _fields(announcement: Announcement) -> dict[str, object]:
    """What an announcement's write set, as the audit chain records it."""
    return {
        "title": announcement.title,
        "body": announcement.body,
        "summary": announcement.summary,
        "kind": announcement.kind,
        "category": announcement.category_id,
        "source_url": announcement.source_url,
        "status": announcement.status,
        "published_at": _iso(announcement.published_at),
        "author": announcement.author_id,
        "approved_by": announcement.approved_by_id,
        "approved_at": _iso(announcement.approved_at),
        "review_comment": announcement.review_comment,
        "statutory": announcement.statutory,
        "corrected_at": _iso(announcement.corrected_at),
        "withdrawn_at": _iso(announcement.withdrawn_at),
        "withdrawn_reason": announcement.withdrawn_reason,
    }


def _announce(announcement: Announcement, action: ChangeAction, actor: Actor, **extra: object) -> None:
    content_changed_announce(
        kind=ContentKind.ANNOUNCEMENT,
        ids=[announcement.pk],
        action=action,
        actor=actor,
        data={**_fields(announcement), **extra},
    )


def _write(
    announcement: Announcement,
    *,
    before: _ListingState | None,
    action: ChangeAction,
    actor: Actor,
    **extra: object,
) -> Announcement:
    _prepare(announcement)
    announcement.full_clean()
    announcement.save()
    _counters_apply(before, _state(announcement))
    _announce(announcement, action, actor, **extra)
    return announcement


def _locked(announcement: Announcement) -> Announcement:
    return Announcement.objects.select_for_update().get(pk=announcement.pk)


def _mirror(target: Announcement, stored: Announcement) -> Announcement:
    """Make the caller's instance what was stored, so it can be used (and saved) again."""
    if target is not stored:
        for field in Announcement._meta.concrete_fields:
            setattr(target, field.attname, getattr(stored, field.attname))
    return stored


def _status_text(announcement: Announcement) -> str:
    if announcement.status == Announcement.Status.DRAFT:
        return _("还是草稿")
    if announcement.status == Announcement.Status.PUBLISHED:
        return _("已经发布")
    return _("已经撤回")


def _local_minute(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


def _refuse_if_frozen(stored: Announcement) -> None:
    """A statutory notice and a withdrawn announcement are never changed again."""
    if stored.statutory:
        raise AnnouncementStateConflict(
            _(ANNOUNCEMENT_STATUTORY_FROZEN).format(title=stored.title), code="statutory"
        )
    if stored.status == Announcement.Status.WITHDRAWN:
        message = _(ANNOUNCEMENT_WITHDRAWN_FROZEN).format(
            title=stored.title, withdrawn_at=_local_minute(stored.withdrawn_at)
        )
        raise AnnouncementStateConflict(message, code="withdrawn")


def _cleaned(text: str, *, field: str, required: str, max_chars: int) -> str:
    text = text.replace("\x00", "").strip()
    if not text:
        raise ValidationError({field: _(required)})
    if len(text) > max_chars:
        raise ValidationError({field: _(TEXT_TOO_LONG).format(max=max_chars, length=len(text))})
    return text


def _create_checks(*, actor: Actor, status: str, statutory: bool, imported: bool) -> None:
    """Who may create an announcement in `status`: drafts by editors; published only without review."""
    if statutory and not actor.is_system:
        raise PermissionDenied(_(ANNOUNCEMENT_STATUTORY_SYSTEM_ONLY))
    if status == Announcement.Status.DRAFT:
        role_require(actor, Role.EDITOR)
        return
    role_require(actor, Role.PUBLISHER)
    if status != Announcement.Status.PUBLISHED:
        raise AnnouncementStateConflict(_(ANNOUNCEMENT_STATUS_BY_ACTION), code="status")
    if not (actor.is_system or imported):
        raise ReviewRequired(_(PUBLISH_NEEDS_REVIEW))


@transaction.atomic
def category_ensure(*, actor: Actor, slug: str, name: str) -> Category:
    """The category with `slug`, created with `name` if it does not exist yet."""
    category = Category.objects.filter(slug=slug).first()
    if category is not None:
        return category
    role_require(actor, Role.EDITOR)
    category = Category.objects.create(slug=slug, name=name)
    transaction.on_commit(selectors.listing_state_forget)
    content_changed_announce(
        kind=ContentKind.CATEGORY,
        ids=[category.pk],
        action=ChangeAction.CREATED,
        actor=actor,
        data={"slug": slug, "name": name},
    )
    return category


def category_save(*, actor: Actor, category: Category) -> Category:
    """Create or save an edited category (the admin's form); the listing shows the change at once."""
    role_require(actor, Role.EDITOR)
    created = category.pk is None
    category.full_clean()
    category.save()
    transaction.on_commit(selectors.listing_state_forget)
    action = ChangeAction.CREATED if created else ChangeAction.UPDATED
    content_changed_announce(
        kind=ContentKind.CATEGORY,
        ids=[category.pk],
        action=action,
        actor=actor,
        data={"slug": category.slug, "name": category.name, "position": category.position},
    )
    return category


@transaction.atomic
def announcement_create(
    *,
    actor: Actor,
    title: str,
    body: str,
    category: Category,
    kind: str = Announcement.Kind.NEWS,
    summary: str = "",
    source_url: str = "",
    status: str = Announcement.Status.DRAFT,
    published_at: datetime | None = None,
    statutory: bool = False,
    imported: bool = False,
    segments: Iterable[str] = (),
) -> Announcement:
    """A draft by an editor (its author), or an announcement published without review.

    Published at once only by the platform itself (`statutory=True` marks the rule lifecycle's 公示 notice,
    frozen from then on) or, with `imported=True`, news another platform already published, re-posted by
    `listing_import` (the publisher role is still required). Everything else goes draft → approve → publish.
    `segments` (slugs) are the segments it targets: an unknown one is refused before anything is written.
    """
    _create_checks(actor=actor, status=status, statutory=statutory, imported=imported)
    targeted = account_services.segments_resolve(slugs=segments)
    announcement = Announcement(
        title=title.strip(),
        body=body,
        summary=summary.strip(),
        kind=kind,
        category=category,
        source_url=source_url,
        status=status,
        published_at=published_at,
        author_id=actor.user_id,
        statutory=statutory,
    )
    if not targeted:
        return _write(announcement, before=None, action=ChangeAction.CREATED, actor=actor)
    # The database refuses segments on anything published (migration 0004), so the row is written as a draft
    # first, given its segments, then saved as it was asked for — all in this transaction, seen by no one.
    status, statutory = announcement.status, announcement.statutory
    announcement.status, announcement.statutory = Announcement.Status.DRAFT, False
    _prepare(announcement)
    announcement.full_clean()
    announcement.save()
    announcement.segments.set(targeted)
    announcement.status, announcement.statutory = status, statutory
    return _write(
        announcement,
        before=None,
        action=ChangeAction.CREATED,
        actor=actor,
        segments=[segment.slug for segment in targeted],
    )


def _edited_fields(announcement: Announcement, stored: Announcement) -> set[str]:
    return {f for f in EDITABLE_FIELDS if getattr(announcement, f) != getattr(stored, f)}


@transaction.atomic
def announcement_save(*, actor: Actor, announcement: Announcement) -> Announcement:
    """Save an announcement edited in place (the admin's form, the API's PATCH).

    A draft is edited by an editor, who becomes its last author; any approval is withdrawn. A published
    announcement is corrected by a publisher: when its title, summary or body changes, the earlier text is
    kept as an `AnnouncementRevision` first (the news page shows 更正记录). Statutory notices and withdrawn
    announcements are refused. The status changes only through publish and withdraw; the review fields only
    through the review services — whatever the instance holds there, the stored values stand.
    """
    if announcement.pk is None:
        _create_checks(
            actor=actor, status=announcement.status, statutory=announcement.statutory, imported=False
        )
        announcement.author_id = actor.user_id
        return _write(announcement, before=None, action=ChangeAction.CREATED, actor=actor)
    stored = _locked(announcement)
    role_require(actor, Role.EDITOR if stored.status == Announcement.Status.DRAFT else Role.PUBLISHER)
    _refuse_if_frozen(stored)
    if announcement.status != stored.status or announcement.statutory != stored.statutory:
        raise AnnouncementStateConflict(_(ANNOUNCEMENT_STATUS_BY_ACTION), code="status")
    for field in WORKFLOW_FIELDS:
        setattr(announcement, field, getattr(stored, field))
    edited = _edited_fields(announcement, stored)
    if not edited:
        return announcement  # nothing to write: an approval of this very text stands
    corrected = stored.status == Announcement.Status.PUBLISHED and bool(edited & set(TEXT_FIELDS))
    content_changing_check(
        kind=ContentKind.ANNOUNCEMENT,
        ids=[stored.pk],
        action=ChangeAction.CORRECTED if corrected else ChangeAction.UPDATED,
        actor=actor,
    )
    extra: dict[str, object] = {}
    if stored.status == Announcement.Status.DRAFT:
        announcement.author_id = actor.user_id
        announcement.approved_by_id, announcement.approved_at = None, None
    elif corrected:
        now = timezone.now()
        revision = AnnouncementRevision.objects.create(
            announcement=stored,
            number=stored.revisions.count() + 1,
            title=stored.title,
            summary=stored.summary,
            body=stored.body,
            replaced_at=now,
            replaced_by_user_id=actor.user_id,
            replaced_by_name=actor.name,
        )
        announcement.corrected_at = now
        extra = {"revision": revision.number, "replaced": {f: getattr(stored, f) for f in TEXT_FIELDS}}
    return _write(
        announcement,
        before=_state(stored),
        action=ChangeAction.CORRECTED if corrected else ChangeAction.UPDATED,
        actor=actor,
        **extra,
    )


@transaction.atomic
def announcement_approve(*, actor: Actor, announcement: Announcement) -> Announcement:
    """A reviewer approves a draft as it stands; four eyes: never its own last author.

    With `RULECENTER_FOUR_EYES = False` (a demo run by one person) the author may approve their own draft.
    """
    role_require(actor, Role.REVIEWER)
    stored = _locked(announcement)
    _refuse_unless_draft(stored)
    if stored.approved_at is not None:
        message = _(ALREADY_APPROVED).format(
            title=stored.title, approved_at=_local_minute(stored.approved_at)
        )
        raise AnnouncementStateConflict(message, code="approved")
    own = actor.user_id is not None and actor.user_id == stored.author_id
    if own and settings.RULECENTER_FOUR_EYES:
        raise OwnDraftApproval(_(OWN_DRAFT_APPROVAL))
    stored.approved_by_id, stored.approved_at = actor.user_id, timezone.now()
    stored.review_comment = ""
    stored.full_clean()
    stored.save()
    _announce(stored, ChangeAction.APPROVED, actor)
    return _mirror(announcement, stored)


@transaction.atomic
def announcement_send_back(*, actor: Actor, announcement: Announcement, comment: str) -> Announcement:
    """A reviewer returns a draft to its editors with a comment; any approval is withdrawn."""
    role_require(actor, Role.REVIEWER)
    comment = _cleaned(
        comment, field="comment", required=COMMENT_REQUIRED, max_chars=REVIEW_COMMENT_MAX_CHARS
    )
    stored = _locked(announcement)
    _refuse_unless_draft(stored)
    stored.approved_by_id, stored.approved_at = None, None
    stored.review_comment = comment
    stored.full_clean()
    stored.save()
    _announce(stored, ChangeAction.SENT_BACK, actor)
    return _mirror(announcement, stored)


def _refuse_unless_draft(stored: Announcement) -> None:
    _refuse_if_frozen(stored)
    if stored.status != Announcement.Status.DRAFT:
        message = _(REVIEW_ONLY_DRAFTS).format(title=stored.title, status=_status_text(stored))
        raise AnnouncementStateConflict(message, code="not_draft")


def _refuse_unless_approved(stored: Announcement, actor: Actor) -> None:
    """Four eyes: only an approved draft is published, approved by someone other than its last author."""
    if actor.is_system:
        return  # the platform publishing on its own account (demo data, tests of other apps)
    if stored.approved_at is None:
        message = PUBLISH_NOT_APPROVED if settings.RULECENTER_FOUR_EYES else PUBLISH_NOT_APPROVED_SINGLE
        raise AnnouncementStateConflict(_(message).format(title=stored.title), code="approval_required")
    # Approved in single-person mode, then the setting was turned on: that approval no longer counts.
    if (
        settings.RULECENTER_FOUR_EYES
        and stored.author_id is not None
        and stored.approved_by_id == stored.author_id
    ):
        raise AnnouncementStateConflict(
            _(PUBLISH_APPROVED_BY_AUTHOR).format(title=stored.title), code="approval_required"
        )


@transaction.atomic
def announcement_publish(
    *, actor: Actor, announcement: Announcement, at: datetime | None = None
) -> Announcement:
    """A publisher publishes an approved draft (at `at`, its own date, or now)."""
    role_require(actor, Role.PUBLISHER)
    stored = _locked(announcement)
    _refuse_if_frozen(stored)
    if stored.status == Announcement.Status.PUBLISHED:
        raise AnnouncementStateConflict(_(ALREADY_PUBLISHED).format(title=stored.title), code="published")
    _refuse_unless_approved(stored, actor)
    before = _state(stored)
    stored.status = Announcement.Status.PUBLISHED
    stored.published_at = at or stored.published_at or timezone.now()
    _write(stored, before=before, action=ChangeAction.PUBLISHED, actor=actor)
    return _mirror(announcement, stored)


@transaction.atomic
def announcement_withdraw(*, actor: Actor, announcement: Announcement, reason: str) -> Announcement:
    """A publisher takes a published announcement down; the row stays, its URL says when and why (410).

    The listing, the feeds and search drop it (search through the change hook's WITHDRAWN).
    """
    role_require(actor, Role.PUBLISHER)
    reason = _cleaned(reason, field="reason", required=REASON_REQUIRED, max_chars=WITHDRAWN_REASON_MAX_CHARS)
    stored = _locked(announcement)
    _refuse_if_frozen(stored)
    if stored.status != Announcement.Status.PUBLISHED:
        message = _(WITHDRAW_ONLY_PUBLISHED).format(title=stored.title, status=_status_text(stored))
        raise AnnouncementStateConflict(message, code="not_published")
    content_changing_check(
        kind=ContentKind.ANNOUNCEMENT, ids=[stored.pk], action=ChangeAction.WITHDRAWN, actor=actor
    )
    before = _state(stored)
    stored.status = Announcement.Status.WITHDRAWN
    stored.withdrawn_at, stored.withdrawn_reason = timezone.now(), reason
    _write(stored, before=before, action=ChangeAction.WITHDRAWN, actor=actor)
    return _mirror(announcement, stored)


@transaction.atomic
def announcement_translate(
    *, actor: Actor, announcement: Announcement, language: str, title: str, summary: str = ""
) -> AnnouncementTranslation:
    """An editor's translation of a draft's title and summary, or a publisher's of a published one (it is
    public at once); a withdrawn announcement is not translated. Written once: the newest is shown, earlier
    ones kept. The body is not translated: the Chinese text binds."""
    language, title, summary = translation_checked(language=language, title=title, summary=summary)
    stored = _locked(announcement)
    role_require(actor, Role.EDITOR if stored.status == Announcement.Status.DRAFT else Role.PUBLISHER)
    if stored.status == Announcement.Status.WITHDRAWN:
        _refuse_if_frozen(stored)
    # The English listing shows translated titles: its pages and ETags are keyed by the counters' version.
    _counters_apply(_state(stored), _state(stored))
    translated = AnnouncementTranslation.objects.create(
        announcement=stored,
        language=language,
        title=title,
        summary=summary,
        **translation_fields(actor, at=timezone.now()),
    )
    content_changed_announce(
        kind=ContentKind.ANNOUNCEMENT,
        ids=[stored.pk],
        action=ChangeAction.TRANSLATED,
        actor=actor,
        data={"language": language, "title": title, "summary": summary},
    )
    return translated


@transaction.atomic
def announcement_delete(*, actor: Actor, announcement: Announcement) -> None:
    """Delete a draft that was never published (a status never returns to draft)."""
    role_require(actor, Role.EDITOR)
    stored = _locked(announcement)
    if stored.statutory:
        _refuse_if_frozen(stored)
    if stored.status != Announcement.Status.DRAFT:
        raise AnnouncementStateConflict(_(ANNOUNCEMENT_DELETE_PUBLISHED), code="published")
    content_changing_check(
        kind=ContentKind.ANNOUNCEMENT, ids=[stored.pk], action=ChangeAction.DELETED, actor=actor
    )
    pk = stored.pk
    stored.delete()
    content_changed_announce(
        kind=ContentKind.ANNOUNCEMENT,
        ids=[pk],
        action=ChangeAction.DELETED,
        actor=actor,
        data={"title": stored.title},
    )


@transaction.atomic
def announcement_segments_set(
    *, actor: Actor, announcement: Announcement, segments: Iterable[str]
) -> list[Segment]:
    """Target a draft at these segments (slugs; none: everyone), by an editor; returns them by name.

    Frozen from publication on — what was published, and who was told, is never rewritten silently (the
    database refuses it too). Not the text: an approval stands. The change is announced (the audit chain
    records the segments); nothing is written when they are the same.
    """
    role_require(actor, Role.EDITOR)
    wanted = account_services.segments_resolve(slugs=segments)
    stored = _locked(announcement)
    _refuse_if_frozen(stored)
    if stored.status != Announcement.Status.DRAFT:
        raise AnnouncementStateConflict(_(SEGMENTS_FROZEN).format(title=stored.title), code="published")
    current = set(stored.segments.values_list("pk", flat=True))
    if current == {segment.pk for segment in wanted}:
        return wanted
    stored.segments.set(wanted)
    _announce(stored, ChangeAction.UPDATED, actor, segments=[segment.slug for segment in wanted])
    return wanted


@dataclass(frozen=True, slots=True)
class AnnouncementDraft:
    """One announcement to create in bulk: the arguments of `announcement_create`."""

    title: str
    body: str
    category: Category
    kind: str = Announcement.Kind.NEWS
    summary: str = ""
    source_url: str = ""
    status: str = Announcement.Status.DRAFT
    published_at: datetime | None = None


class AnnouncementDraftInvalid(ValidationError):
    """A draft of a bulk create that cannot be saved; `index` says which (nothing was written)."""

    def __init__(self, index: int, error: ValidationError) -> None:
        super().__init__(error.messages)
        self.index = index


BULK_BATCH_SIZE = 1000


@transaction.atomic
def announcement_bulk_create(*, actor: Actor, drafts: Sequence[AnnouncementDraft]) -> list[Announcement]:
    """Many announcements in a few statements (large imports), in the order given.

    Each is checked and rendered as `announcement_create` does; the listing is recounted once and one
    change is announced for all of them, in this transaction. This is the import path (`listing_import`
    re-posting news other platforms already published): published items need the publisher role but no
    review, like `announcement_create(imported=True)`.
    """
    statuses = {draft.status for draft in drafts}
    role_require(actor, Role.PUBLISHER if Announcement.Status.PUBLISHED in statuses else Role.EDITOR)
    if statuses - {Announcement.Status.DRAFT, Announcement.Status.PUBLISHED}:
        raise AnnouncementStateConflict(_(ANNOUNCEMENT_STATUS_BY_ACTION), code="status")
    announcements = []
    for index, draft in enumerate(drafts):
        announcement = Announcement(
            title=draft.title.strip(),
            body=draft.body,
            summary=draft.summary.strip(),
            kind=draft.kind,
            category=draft.category,
            source_url=draft.source_url,
            status=draft.status,
            published_at=draft.published_at,
            author_id=actor.user_id,
        )
        try:
            _prepare(announcement)
            # The categories exist (the caller holds them); per-row unique and constraint checks would cost a
            # query each, and the database enforces both.
            announcement.full_clean(exclude=["category"], validate_unique=False, validate_constraints=False)
        except ValidationError as error:
            raise AnnouncementDraftInvalid(index, error) from None
        announcements.append(announcement)
    if not announcements:
        return []
    Announcement.objects.bulk_create(announcements, batch_size=BULK_BATCH_SIZE)
    listing_counters_rebuild()
    content_changed_announce(
        kind=ContentKind.ANNOUNCEMENT,
        ids=[a.pk for a in announcements],
        action=ChangeAction.CREATED,
        actor=actor,
        data={"items": [_fields(a) for a in announcements]},
    )
    return announcements


@transaction.atomic
def listing_counters_rebuild() -> dict[str, int]:
    """Recount every listing scope from the table (after bulk loads or imports); returns the counts."""
    published = Announcement.objects.filter(status=Announcement.Status.PUBLISHED)
    counts = {ListingCounter.ALL: published.count()}
    for category_id in Category.objects.values_list("id", flat=True):
        counts[ListingCounter.scope_for(category_id)] = published.filter(category_id=category_id).count()
    for scope, count in counts.items():
        updated = ListingCounter.objects.filter(scope=scope).update(
            published_count=count, version=_next_version()
        )
        if not updated:
            ListingCounter.objects.create(
                scope=scope, published_count=count, version=int(timezone.now().timestamp() * 1_000_000)
            )
    ListingCounter.objects.exclude(scope__in=counts).delete()
    transaction.on_commit(selectors.listing_state_forget)
    return counts
