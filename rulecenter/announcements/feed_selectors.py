"""Reads behind the news feeds: the newest items as plain rows, and when a listing last changed."""

from dataclasses import dataclass
from datetime import UTC, datetime

from .models import Category
from .selectors import ListingStamp, published_announcements

# services._next_version stamps every change with its time in microseconds since the epoch; anything
# below this (2001-09-09) is not such a stamp, and the listing's change time is then unknown.
_VERSION_AS_TIME_FLOOR = 10**15


@dataclass(frozen=True, slots=True)
class FeedItem:
    id: int
    title: str
    excerpt: str
    body_html: str
    category_name: str
    published_at: datetime
    corrected_at: datetime | None  # the last correction (更正), if any


def feed_items(*, category: Category | None, limit: int) -> list[FeedItem]:
    """The newest `limit` published announcements, newest first, in one query."""
    rows = published_announcements()
    if category is not None:
        rows = rows.filter(category=category)
    values = rows.order_by("-published_at", "-id").values_list(
        "id", "title", "excerpt", "body_html", "category__name", "published_at", "corrected_at"
    )
    return [
        FeedItem(
            id=pk,
            title=title,
            excerpt=excerpt,
            body_html=body_html,
            category_name=category_name,
            published_at=published_at,
            corrected_at=corrected_at,
        )
        for pk, title, excerpt, body_html, category_name, published_at, corrected_at in values[:limit]
        if published_at is not None
    ]


def newest_published_at(*, category: Category | None) -> datetime | None:
    """The newest published announcement's date: one seek on the listing index."""
    rows = published_announcements()
    if category is not None:
        rows = rows.filter(category=category)
    return rows.order_by("-published_at", "-id").values_list("published_at", flat=True).first()


def listing_changed_at(stamp: ListingStamp) -> datetime | None:
    """When the listing last changed (an item published, edited or withdrawn), read off its version."""
    if stamp.version < _VERSION_AS_TIME_FLOOR:
        return None
    return datetime.fromtimestamp(stamp.version / 1_000_000, tz=UTC)
