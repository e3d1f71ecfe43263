"""Writes to announcements. Every function is one transaction and keeps the listing counters exact."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import role_require
from rulecenter.common.actors import Actor
from rulecenter.common.changes import ChangeAction, ContentKind, content_changed_announce
from rulecenter.common.text import excerpt, html_to_text, markdown_to_html

from . import selectors
from .models import Announcement, Category, ListingCounter

ANNOUNCEMENT_DELETE_PUBLISHED = "已发布的公告不能删除，请先撤回发布。"
ANNOUNCEMENT_BODY_EMPTY = "正文不能为空。"


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


def _action(before: _ListingState | None, after: _ListingState) -> ChangeAction:
    if before is None:
        return ChangeAction.CREATED
    if after.published != before.published:
        return ChangeAction.PUBLISHED if after.published else ChangeAction.UNPUBLISHED
    return ChangeAction.UPDATED


def _prepare(announcement: Announcement) -> None:
    """What every write checks and fills in before the row is saved."""
    if not announcement.body.strip():
        raise ValidationError({"body": _(ANNOUNCEMENT_BODY_EMPTY)})
    if announcement.status == Announcement.Status.PUBLISHED and announcement.published_at is None:
        announcement.published_at = timezone.now()
    announcement_render(announcement)


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
        "published_at": announcement.published_at.isoformat() if announcement.published_at else None,
    }


def _save(announcement: Announcement, before: _ListingState | None, actor: Actor) -> Announcement:
    _prepare(announcement)
    announcement.full_clean()
    announcement.save()
    after = _state(announcement)
    assert after is not None
    _counters_apply(before, after)
    content_changed_announce(
        kind=ContentKind.ANNOUNCEMENT,
        ids=[announcement.pk],
        action=_action(before, after),
        actor=actor,
        data=_fields(announcement),
    )
    return announcement


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


@transaction.atomic
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
) -> Announcement:
    announcement = Announcement(
        title=title.strip(),
        body=body,
        summary=summary.strip(),
        kind=kind,
        category=category,
        source_url=source_url,
        status=status,
        published_at=published_at,
    )
    role_require(actor, Role.PUBLISHER if status == Announcement.Status.PUBLISHED else Role.EDITOR)
    return _save(announcement, before=None, actor=actor)


@transaction.atomic
def announcement_save(*, actor: Actor, announcement: Announcement) -> Announcement:
    """Save an announcement edited in place (the admin's form), keeping counters and rendering right."""
    before = None
    if announcement.pk is not None:
        stored = Announcement.objects.select_for_update().filter(pk=announcement.pk).first()
        before = _state(stored)
    published = (
        before is not None and before.published
    ) or announcement.status == Announcement.Status.PUBLISHED
    role_require(actor, Role.PUBLISHER if published else Role.EDITOR)
    return _save(announcement, before=before, actor=actor)


@transaction.atomic
def announcement_publish(
    *, actor: Actor, announcement: Announcement, at: datetime | None = None
) -> Announcement:
    role_require(actor, Role.PUBLISHER)
    before = _state(Announcement.objects.select_for_update().get(pk=announcement.pk))
    announcement.status = Announcement.Status.PUBLISHED
    announcement.published_at = at or announcement.published_at or timezone.now()
    return _save(announcement, before=before, actor=actor)


@transaction.atomic
def announcement_unpublish(*, actor: Actor, announcement: Announcement) -> Announcement:
    role_require(actor, Role.PUBLISHER)
    before = _state(Announcement.objects.select_for_update().get(pk=announcement.pk))
    announcement.status = Announcement.Status.DRAFT
    return _save(announcement, before=before, actor=actor)


@transaction.atomic
def announcement_delete(*, actor: Actor, announcement: Announcement) -> None:
    role_require(actor, Role.EDITOR)
    stored = Announcement.objects.select_for_update().get(pk=announcement.pk)
    if stored.status == Announcement.Status.PUBLISHED:
        raise ValidationError(_(ANNOUNCEMENT_DELETE_PUBLISHED))
    pk = stored.pk
    stored.delete()
    content_changed_announce(
        kind=ContentKind.ANNOUNCEMENT,
        ids=[pk],
        action=ChangeAction.DELETED,
        actor=actor,
        data={"title": stored.title},
    )


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
    change is announced for all of them, in this transaction.
    """
    publishing = any(draft.status == Announcement.Status.PUBLISHED for draft in drafts)
    role_require(actor, Role.PUBLISHER if publishing else Role.EDITOR)
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
