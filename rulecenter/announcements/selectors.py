"""Reads of announcements. The listing never counts rows and never walks a long OFFSET per request."""

from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.core.validators import slug_re
from django.db.models import Q, QuerySet

from rulecenter.common.pagination import Pager

from .models import Announcement, Category, ListingCounter

# Deep pages seek to the nearest remembered row at a multiple of ANCHOR_SPAN, then walk < ANCHOR_SPAN rows.
ANCHOR_SPAN = 600


@dataclass(frozen=True, slots=True)
class ListingItem:
    id: int
    title: str
    excerpt: str
    published_at: datetime
    category_id: int


@dataclass(frozen=True, slots=True)
class ListingStamp:
    scope: str
    total: int
    version: int


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


def _listing_rows(category: Category | None) -> QuerySet[Announcement]:
    rows = published_announcements()
    if category is not None:
        rows = rows.filter(category=category)
    return rows.order_by("-published_at", "-id")


def _anchor(category: Category | None, stamp: ListingStamp, position: int) -> tuple[datetime, int] | None:
    """The (published_at, id) of the row at `position`, remembered per listing version."""
    key = f"news:anchor:{stamp.scope}:{stamp.version}:{position}"
    found: tuple[datetime, int] | None = cache.get(key)
    if found is None:
        row = _listing_rows(category).values_list("published_at", "id")[position : position + 1].first()
        if row is None or row[0] is None:
            return None
        found = (row[0], row[1])
        cache.set(key, found, timeout=3600)
    return found


def listing_page(*, category: Category | None, stamp: ListingStamp, pager: Pager) -> list[ListingItem]:
    """One page of the newest-first listing."""
    rows = _listing_rows(category)
    offset = pager.offset
    if offset >= ANCHOR_SPAN:
        anchor_position = offset - offset % ANCHOR_SPAN
        anchor = _anchor(category, stamp, anchor_position)
        if anchor is not None:
            published_at, pk = anchor
            # Bounded on published_at so the index range starts at the anchor instead of the top.
            rows = rows.filter(published_at__lte=published_at).filter(
                Q(published_at__lt=published_at) | Q(id__lte=pk)
            )
            offset -= anchor_position
    values = rows.values_list("id", "title", "excerpt", "published_at", "category_id")
    return [
        ListingItem(id=pk, title=title, excerpt=excerpt, published_at=at, category_id=category_id)
        for pk, title, excerpt, at, category_id in values[offset : offset + pager.size]
        if at is not None
    ]


def announcement_get_published(*, pk: int) -> Announcement | None:
    return published_announcements().select_related("category").filter(pk=pk).first()


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
