"""Reads of what the extractor found: for an announcement's page, the calendar and search filters."""

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import pgettext

from rulecenter.announcements.models import Announcement
from rulecenter.rules import selectors as rule_selectors

from .models import ExtractedFacts, ImportedItem, ImportRevision

DateField = Literal["notice_date", "effective_date", "comment_start", "comment_end"]
DATE_FIELDS: tuple[DateField, ...] = ("notice_date", "effective_date", "comment_start", "comment_end")
LABELS: dict[DateField, str] = {
    # Translated where shown, in the context "calendar": 生效 alone reads differently elsewhere.
    "notice_date": "公示",
    "effective_date": "生效",
    "comment_start": "意见征集开始",
    "comment_end": "意见征集截止",
}


@dataclass(frozen=True)
class RuleNameLink:
    name: str
    url: str | None  # the rule's page in our library, when a rule of that title exists


@dataclass(frozen=True)
class AnnouncementFacts:
    kind: str
    kind_label: str
    notice_date: date | None
    effective_date: date | None
    comment_start: date | None
    comment_end: date | None
    rules: list[RuleNameLink]
    links: list[dict[str, object]]
    source: str | None  # the channel it was imported from; None for our own announcements
    revision_count: int


def facts_for_announcement(announcement_id: int) -> AnnouncementFacts | None:
    """The facts read in one announcement, with rule names linked to our library; None if none were read.

    At most three queries: the facts with the import record, the rules named, the number of revisions.
    """
    facts = (
        ExtractedFacts.objects.filter(announcement_id=announcement_id)
        .select_related("announcement__imported_item")
        .first()
    )
    if facts is None:
        return None
    imported: ImportedItem | None = getattr(facts.announcement, "imported_item", None)
    names: list[str] = list(facts.rule_names)
    rules = rule_selectors.rules_titled(titles=names)
    return AnnouncementFacts(
        kind=facts.kind,
        kind_label=str(facts.get_kind_display()),
        notice_date=facts.notice_date,
        effective_date=facts.effective_date,
        comment_start=facts.comment_start,
        comment_end=facts.comment_end,
        rules=[
            RuleNameLink(name=name, url=rules[name].get_absolute_url() if name in rules else None)
            for name in names
        ],
        links=list(facts.links),
        source=imported.source if imported else None,
        revision_count=ImportRevision.objects.filter(item=imported).count() if imported else 0,
    )


@dataclass(frozen=True)
class FactsCalendarEntry:
    """One dated fact of a published announcement, shaped for /calendar/ and /calendar.ics."""

    at: datetime  # the day's start in the site's time zone
    kind: DateField
    label: str  # 公示, 生效, 意见征集开始, 意见征集截止
    announcement_id: int
    title: str
    url: str

    @property
    def uid(self) -> str:
        return f"announcement-{self.announcement_id}-{self.kind}@rulecenter"


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


def calendar_entries(
    *, start: datetime | None = None, end: datetime | None = None
) -> list[FactsCalendarEntry]:
    """Extracted 公示/生效 dates and consultation windows of published announcements, in time order.

    `start` and `end` bound the instants like rules.selectors.calendar_entries (start ≤ at < end).
    """
    start_day = timezone.localtime(start).date() if start else None
    end_day = timezone.localtime(end).date() if end else None
    in_range = Q()
    for name in DATE_FIELDS:
        bounds = Q(**{f"{name}__isnull": False})
        if start_day:
            bounds &= Q(**{f"{name}__gte": start_day})
        if end_day:
            bounds &= Q(**{f"{name}__lte": end_day})
        in_range |= bounds
    rows = (
        ExtractedFacts.objects.filter(in_range, announcement__status=Announcement.Status.PUBLISHED)
        .select_related("announcement")
        .order_by("announcement_id")
    )
    entries = []
    for facts in rows:
        for name in DATE_FIELDS:
            day = getattr(facts, name)
            if day is None:
                continue
            at = _day_start(day)
            if (start and at < start) or (end and at >= end):
                continue
            entries.append(
                FactsCalendarEntry(
                    at=at,
                    kind=name,
                    label=pgettext("calendar", LABELS[name]),
                    announcement_id=facts.announcement_id,
                    title=facts.announcement.title,
                    url=facts.announcement.get_absolute_url(),
                )
            )
    return sorted(entries, key=lambda entry: (entry.at, entry.title, entry.kind))


def announcement_ids_with_date(
    *, field: DateField, start: date | None = None, end: date | None = None
) -> QuerySet[ExtractedFacts, int]:
    """Ids of announcements whose extracted `field` lies in [start, end] — for search's date filters.

    Use as a subquery: `Announcement.objects.filter(pk__in=announcement_ids_with_date(...))`.
    """
    if field not in DATE_FIELDS:
        raise ValueError(field)
    lookups: dict[str, date | bool] = {f"{field}__isnull": False}
    if start:
        lookups[f"{field}__gte"] = start
    if end:
        lookups[f"{field}__lte"] = end
    return ExtractedFacts.objects.filter(**lookups).values_list("announcement_id", flat=True)


def revisions_of(*, announcement_id: int) -> QuerySet[ImportRevision]:
    """The texts an imported announcement had before later imports changed it, newest first."""
    return ImportRevision.objects.filter(item__announcement_id=announcement_id)
