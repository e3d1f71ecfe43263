"""Reads of announcements. The listing never counts rows and never walks a long OFFSET per request.

The news page's hot path (`listing_state`, `listing_page`) runs two short SQL statements of its own instead
of the ORM's: compiling a queryset costs more than running it (docs/performance.md). They are plain SQL
that SQLite and PostgreSQL both run; the tests run them on both.
"""

import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from django.core.validators import slug_re
from django.db.models import Q, QuerySet
from django.dispatch import receiver
from django.utils import timezone

from rulecenter.accounts.models import Segment
from rulecenter.common import replicas
from rulecenter.common.memo import ProcessMemo
from rulecenter.common.pagination import Pager
from rulecenter.common.translations import TranslationText, newest_by_language

from .models import Announcement, AnnouncementRevision, AnnouncementTranslation, Category, ListingCounter

# Deep pages seek to the nearest remembered row at a multiple of ANCHOR_SPAN, then walk < ANCHOR_SPAN index
# entries (~0.15 µs each on SQLite); each anchor is found once per listing version by a covering-index scan.
ANCHOR_SPAN = 240


class ListingItem(NamedTuple):
    # A named tuple, not a dataclass: a page builds many and a frozen dataclass is 3× slower to build.
    id: int
    title: str
    excerpt: str
    published_at: datetime
    category_id: int
    # Ready to print: ISO 8601 for <time datetime>, and the date in the current time zone. Made here in
    # one pass, they cost half what two template filters per item did.
    published_iso: str
    published_day: str


@dataclass(frozen=True, slots=True)
class ListingStamp:
    scope: str
    total: int
    version: int


@dataclass(frozen=True, slots=True)
class ListingCategory:
    """A category as the listing shows it: enough for links and names, no model instance."""

    id: int
    slug: str
    name: str

    @property
    def pk(self) -> int:
        return self.id


@dataclass(frozen=True, slots=True)
class ListingState:
    """Everything a listing page depends on except its rows, read in one query.

    `digest` changes whenever the counter's version or any category (added, renamed, reordered) changes,
    so pages and ETags keyed by it are never stale.
    """

    stamp: ListingStamp
    categories: tuple[ListingCategory, ...]
    category: ListingCategory | None
    digest: str


def published_announcements() -> QuerySet[Announcement]:
    return Announcement.objects.filter(status=Announcement.Status.PUBLISHED)


def category_by_slug(slug: str) -> Category | None:
    # Anything that is not a slug (NUL bytes, 5,000 characters) cannot name a category: no query for it.
    if len(slug) > 64 or not slug_re.fullmatch(slug):
        return None
    return Category.objects.filter(slug=slug).first()


def category_list() -> list[Category]:
    return list(Category.objects.all())


def listing_stamp(*, category: Category | None = None) -> ListingStamp:
    """The published count and change version of a listing: one primary-key read."""
    scope = ListingCounter.scope_for(category.pk if category else None)
    row = ListingCounter.objects.filter(scope=scope).values_list("published_count", "version").first()
    total, version = row if row else (0, 0)
    return ListingStamp(scope=scope, total=total, version=version)


# The categories (in their display order) and every listing counter, in one round trip. The counter table
# holds one row per listing scope (all, and one per category), so this stays a handful of rows.
_STATE_SQL = (
    "SELECT 0, id, position, slug, name FROM announcements_category "
    "UNION ALL SELECT 1, published_count, version, scope, '' FROM announcements_listingcounter"
)


@lru_cache(maxsize=64)
def _states(rows: tuple[tuple[Any, ...], ...]) -> dict[str | None, ListingState]:
    """Every listing's state (by category slug; None for all) read off the rows of _STATE_SQL.

    The same rows come back until something changes, so this reading of them is remembered.
    """
    category_rows = sorted((position, pk, slug, name) for kind, pk, position, slug, name in rows if kind == 0)
    categories = tuple(ListingCategory(id=pk, slug=slug, name=name) for _, pk, slug, name in category_rows)
    counters = {scope: (count, version) for kind, count, version, scope, _ in rows if kind == 1}
    categories_digest = f"{zlib.crc32(repr(category_rows).encode()):08x}"
    states: dict[str | None, ListingState] = {}
    for category in (None, *categories):
        scope = ListingCounter.scope_for(category.id if category else None)
        total, version = counters.get(scope, (0, 0))
        states[category.slug if category else None] = ListingState(
            stamp=ListingStamp(scope=scope, total=total, version=version),
            categories=categories,
            category=category,
            digest=f"{version:x}.{categories_digest}",
        )
    return states


# The states read last, for RULECENTER_LISTING_STATE_SECONDS (by _clock).
_states_read: ProcessMemo[str, dict[str | None, ListingState]] = ProcessMemo(max_entries=1)
_clock = time.monotonic


def _states_now() -> dict[str | None, ListingState]:
    with replicas.reading().cursor() as cursor:
        cursor.execute(_STATE_SQL)
        return _states(tuple(cursor.fetchall()))


def listing_state(*, category_slug: str | None) -> ListingState | None:
    """The listing's counter, version and categories in one query; None when `category_slug` is unknown.

    With RULECENTER_LISTING_STATE_SECONDS > 0 a process answers from the states it read within that many
    seconds: under load the 304s and cached pages then touch no database at all, and a change shows up
    at most that late (browsers and CDNs may keep a page for RULECENTER_HTTP_MAX_AGE anyway). A change
    made by this process is seen at once (`listing_state_forget`).
    """
    seconds = settings.RULECENTER_LISTING_STATE_SECONDS
    states = _states_read.get_or_fetch("states", _states_now, now=_clock(), seconds=seconds)
    return states.get(category_slug)


def listing_state_forget() -> None:
    """Make the next listing_state() read the database (after this process changed the listing)."""
    _states_read.forget()


@receiver(setting_changed)
def _forget_on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "RULECENTER_LISTING_STATE_SECONDS":
        listing_state_forget()


# Literal status, not a parameter: only then can SQLite see that the partial listing indexes cover the
# query, and walk (published_at, id) in the index without reading every skipped row from the table.
_ROWS = "FROM announcements_announcement WHERE status = 'published' "
_BY_CATEGORY = "AND category_id = %s "
_AFTER_ANCHOR = "AND published_at <= %s AND (published_at < %s OR id <= %s) "
_NEWEST_FIRST = "ORDER BY published_at DESC, id DESC LIMIT %s OFFSET %s"
_PAGE_COLUMNS = "SELECT id, title, excerpt, published_at, category_id "


def _aware(value: datetime) -> datetime:
    """A published_at read by a raw cursor: naive UTC from SQLite, already aware from PostgreSQL."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _anchor(category_id: int | None, stamp: ListingStamp, position: int) -> tuple[object, int] | None:
    """The stored (published_at, id) of the row at `position`, remembered per listing version."""
    key = f"news:seek:{stamp.scope}:{stamp.version}:{position}"
    found: tuple[object, int] | None = cache.get(key)
    if found is None:
        where = _ROWS + (_BY_CATEGORY if category_id is not None else "")
        params = [category_id] if category_id is not None else []
        with replicas.reading().cursor() as cursor:
            cursor.execute("SELECT published_at, id " + where + _NEWEST_FIRST, [*params, 1, position])
            row = cursor.fetchone()
        if row is None:
            return None
        found = (row[0], row[1])
        cache.set(key, found, timeout=3600)
    return found


def listing_page(
    *, category: Category | ListingCategory | None, stamp: ListingStamp, pager: Pager
) -> list[ListingItem]:
    """One page of the newest-first listing."""
    category_id = category.pk if category is not None else None
    sql = _PAGE_COLUMNS + _ROWS
    params: list[Any] = []
    if category_id is not None:
        sql += _BY_CATEGORY
        params.append(category_id)
    offset = pager.offset
    if offset >= ANCHOR_SPAN:
        anchor_position = offset - offset % ANCHOR_SPAN
        anchor = _anchor(category_id, stamp, anchor_position)
        if anchor is not None:
            # Bounded on published_at so the index range starts at the anchor instead of the top.
            published_at, pk = anchor
            sql += _AFTER_ANCHOR
            params += [published_at, published_at, pk]
            offset -= anchor_position
    with replicas.reading().cursor() as cursor:
        cursor.execute(sql + _NEWEST_FIRST, [*params, pager.size, offset])
        rows = cursor.fetchall()
    zone = timezone.get_current_timezone()
    items = []
    for pk, title, excerpt, at, category_id in rows:
        published_at = _aware(at)
        items.append(
            ListingItem(
                id=pk,
                title=title,
                excerpt=excerpt,
                published_at=published_at,
                category_id=category_id,
                published_iso=published_at.isoformat(),
                published_day=published_at.astimezone(zone).date().isoformat(),
            )
        )
    return items


def announcement_get_public(*, pk: int) -> Announcement | None:
    """A published or withdrawn announcement with its category: what its public address answers for.

    A withdrawn one is shown as withdrawn (410, when and why); a draft is not public at all.
    """
    public = [Announcement.Status.PUBLISHED, Announcement.Status.WITHDRAWN]
    return Announcement.objects.select_related("category").filter(pk=pk, status__in=public).first()


def announcement_get(*, pk: int) -> Announcement | None:
    """Any announcement, draft or not, with its category (the staff's writes act on it)."""
    return Announcement.objects.select_related("category").filter(pk=pk).first()


@dataclass(frozen=True, slots=True)
class AnnouncementText:
    title: str
    summary: str
    body: str


@dataclass(frozen=True, slots=True)
class Correction:
    """One correction of a published announcement: the text it replaced and the text it put in its place."""

    number: int
    corrected_at: datetime
    before: AnnouncementText
    after: AnnouncementText


def announcement_corrections(*, announcement: Announcement) -> list[Correction]:
    """Every correction of `announcement`, oldest first; no query for one never corrected."""
    if announcement.corrected_at is None:
        return []
    revisions = list(AnnouncementRevision.objects.filter(announcement=announcement).order_by("number"))
    texts = [AnnouncementText(r.title, r.summary, r.body) for r in revisions]
    texts.append(AnnouncementText(announcement.title, announcement.summary, announcement.body))
    return [
        Correction(number=r.number, corrected_at=r.replaced_at, before=texts[i], after=texts[i + 1])
        for i, r in enumerate(revisions)
    ]


def announcement_neighbours(*, announcement: Announcement) -> tuple[Announcement | None, Announcement | None]:
    """The previous (newer) and next (older) published announcements in listing order."""
    assert announcement.published_at is not None
    at, pk = announcement.published_at, announcement.pk
    newer = (
        published_announcements()
        .filter(published_at__gte=at)
        .filter(Q(published_at__gt=at) | Q(id__gt=pk))
        .order_by("published_at", "id")
        .only("id", "title")
        .first()
    )
    older = (
        published_announcements()
        .filter(published_at__lte=at)
        .filter(Q(published_at__lt=at) | Q(id__lt=pk))
        .order_by("-published_at", "-id")
        .only("id", "title")
        .first()
    )
    return newer, older


def announcements_with_category(*, ids: Iterable[int]) -> list[Announcement]:
    """These announcements, each with its category, whatever their status (for what follows a change)."""
    return list(Announcement.objects.filter(pk__in=list(ids)).select_related("category").order_by("id"))


def announcements_titled(*, titles: Sequence[str]) -> list[Announcement]:
    """Every announcement, published or not, whose title is one of `titles`, oldest first."""
    if not titles:
        return []
    return list(Announcement.objects.filter(title__in=titles).order_by("id"))


def announcement_segments(*, ids: Iterable[int]) -> dict[int, list[Segment]]:
    """The segments each of these announcements targets, by name (absent: it targets no one in particular).

    One query, whatever the number of announcements.
    """
    wanted = list(ids)
    if not wanted:
        return {}
    through = Announcement.segments.through
    rows = (
        through._default_manager.filter(announcement_id__in=wanted)
        .select_related("segment")
        .order_by("segment__name", "segment_id")
    )
    found: dict[int, list[Segment]] = {}
    for row in rows:
        found.setdefault(row.announcement_id, []).append(row.segment)
    return found


def announcement_translations(*, ids: Iterable[int]) -> dict[int, dict[str, TranslationText]]:
    """Each announcement's newest translation per language, for those that have one (one query)."""
    wanted = list(ids)
    if not wanted:
        return {}
    return newest_by_language(
        AnnouncementTranslation.objects.filter(announcement_id__in=wanted)
        .order_by("announcement_id", "language", "-id")
        .values_list("announcement_id", "language", "title", "summary", "translated_at")
    )


def announcement_translation_history(*, announcement: Announcement) -> list[AnnouncementTranslation]:
    """Every translation of an announcement, newest first (the admin lists them)."""
    return list(announcement.translations.order_by("language", "-id"))
