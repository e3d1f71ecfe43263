"""Writes of the ingest app: listing pages into published announcements with their extracted facts.

`listing_plan` decides, without writing, what an import would do with each item (the admin's preview and
`--dry-run` show it); `listing_import` does it in one transaction, so a failure leaves nothing behind.
Announcements are written through rulecenter.announcements.services, so the listing counters stay exact:
one `announcement_create` per item for a page or two, and for large imports a bulk insert of rows rendered
by `announcement_render` followed by `listing_counters_rebuild` and one search outbox row per item (what
`announcement_create` does per row), in the same transaction.
"""

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from rulecenter.announcements import services as announcement_services
from rulecenter.announcements.models import Announcement, Category
from rulecenter.search import services as search_services
from rulecenter.search.models import OutboxEntry

from .extract import EXTRACTOR_VERSION, Facts, Kind, extract, find_links
from .listing import ListingItem, ListingPage
from .models import ExtractedFacts, ImportedItem, ImportRevision

# Above this many new items an import inserts in bulk and recounts the listing once, and does not look for
# unlinked announcements of the same title to adopt (Announcement.title has no index to find them by).
BULK_THRESHOLD = 200
BATCH_SIZE = 1000
QUERY_CHUNK = 500  # titles per `IN (…)`: well under SQLite's and PostgreSQL's parameter limits
SOURCE_UNKNOWN = "listing"

ITEM_INVALID = "文件“{page}”第 {line} 行《{title}》无法导入：{error}"

# The announcement categories imports file into: the demo's, created on first use.
CATEGORY_NAMES = {
    "rule-changes": "规则变更",
    "consultations": "意见征集",
    "agreements": "协议变更",
    "guides": "规则解读",
    "topics": "专题",
}


class IngestError(ValueError):
    """An item that cannot be imported; str(error) says which and why."""


class Action(StrEnum):
    NEW = "new"
    UPDATE = "update"
    SAME = "same"
    DUPLICATE = "duplicate"

    @property
    def label(self) -> str:
        return {"new": _("新增"), "update": _("更新"), "same": _("未变化"), "duplicate": _("重复")}[
            self.value
        ]


def announcement_kind(kind: Kind, title: str) -> Announcement.Kind:
    """The listing's kind for what the extractor read; the news listing has no kind for open consultations."""
    if kind is Kind.RULE_CHANGE_NOTICE:
        return Announcement.Kind.RULE_CHANGE
    if kind is Kind.CONSULTATION_RESULT:
        return Announcement.Kind.CONSULTATION_RESULT
    if kind is Kind.AGREEMENT_CHANGE:
        return Announcement.Kind.AGREEMENT_CHANGE
    if kind is Kind.GUIDE:
        return Announcement.Kind.COMPLIANCE if "合规" in title else Announcement.Kind.GUIDE
    if kind is Kind.OTHER and "专题" in title:
        return Announcement.Kind.TOPIC
    return Announcement.Kind.NEWS


def category_slug(kind: Kind, announcement: Announcement.Kind) -> str:
    if kind in (Kind.CONSULTATION, Kind.CONSULTATION_RESULT):
        return "consultations"
    return {
        Announcement.Kind.AGREEMENT_CHANGE: "agreements",
        Announcement.Kind.GUIDE: "guides",
        Announcement.Kind.COMPLIANCE: "guides",
        Announcement.Kind.TOPIC: "topics",
    }.get(announcement, "rule-changes")


_valid_url = URLValidator()


def source_url_for(facts: Facts) -> str:
    """The first link of the text that the announcement's URL field accepts, else ''."""
    for link in facts.links:
        try:
            _valid_url(link.url)
        except ValidationError:
            continue
        if len(link.url) <= 1000:
            return link.url
    return ""


def source_guess(pages: Iterable[ListingPage]) -> str:
    """The channel the pages come from: the host most of their links point at."""
    hosts: Counter[str] = Counter()
    for page in pages:
        for item in page.items:
            for link in find_links(item.excerpt):
                if host := urlsplit(link.url).hostname:
                    hosts[host] += 1
    return hosts.most_common(1)[0][0] if hosts else SOURCE_UNKNOWN


@dataclass
class PlannedItem:
    page: str
    item: ListingItem
    action: Action
    sequence: int  # position in the run: the source's order, newest first
    facts: Facts | None = None  # None: unchanged and the stored facts are current
    existing: ImportedItem | None = None
    adopt: Announcement | None = None  # an announcement with this title and text, not yet linked (the demo's)

    @property
    def body(self) -> str:
        return self.item.excerpt or self.item.title


@dataclass
class ImportReport:
    source: str
    pages: list[ListingPage]
    planned: list[PlannedItem] = field(default_factory=list)
    dry_run: bool = False

    def count(self, action: Action) -> int:
        return sum(1 for planned in self.planned if planned.action is action)

    @property
    def imported(self) -> int:
        return self.count(Action.NEW)

    @property
    def updated(self) -> int:
        return self.count(Action.UPDATE)

    @property
    def skipped(self) -> int:
        return self.count(Action.SAME) + self.count(Action.DUPLICATE)

    @property
    def seen(self) -> int:
        """Distinct items read in this run."""
        return len(self.planned) - self.count(Action.DUPLICATE)

    @property
    def footer_total(self) -> int | None:
        totals = [page.footer.total for page in self.pages if page.footer]
        return max(totals) if totals else None

    @property
    def unseen(self) -> int | None:
        """How many items the footer says the listing holds that this run did not read (the seed: 1)."""
        total = self.footer_total
        return None if total is None else max(0, total - self.seen)

    def summary(self) -> str:
        parts = [
            _(
                "导入 %(imported)d 条，更新 %(updated)d 条，跳过 %(skipped)d 条（未变化 %(same)d，重复 %(dup)d）。"
            )
            % {
                "imported": self.imported,
                "updated": self.updated,
                "skipped": self.skipped,
                "same": self.count(Action.SAME),
                "dup": self.count(Action.DUPLICATE),
            }
        ]
        total = self.footer_total
        if total is None:
            parts.append(_("列表页没有“共N条”页脚，无法核对是否读全。"))
        elif self.unseen:
            read = sorted({page.footer.page for page in self.pages if page.footer})
            pages = max(page.footer.pages for page in self.pages if page.footer)
            parts.append(
                _(
                    "列表页脚显示共 %(total)d 条，本次读到 %(seen)d 条，还有 %(unseen)d 条未读到（已读第 %(read)s 页，共 %(pages)d 页）。"
                )
                % {
                    "total": total,
                    "seen": self.seen,
                    "unseen": self.unseen,
                    "read": "、".join(str(number) for number in read),
                    "pages": pages,
                }
            )
        else:
            parts.append(_("列表页脚显示共 %(total)d 条，全部读到。") % {"total": total})
        prefix = _("预览（未写入）：") if self.dry_run else ""
        return prefix + "".join(parts)


def _chunks[T](values: Sequence[T], size: int = QUERY_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def listing_plan(*, pages: Sequence[ListingPage], source: str, extract_all: bool = False) -> ImportReport:
    """What importing `pages` would do with each item; reads, never writes.

    Unchanged items are not re-read unless their stored facts come from an older extractor (or
    `extract_all`, for a preview that shows every item's facts).
    """
    report = ImportReport(source=source, pages=list(pages))
    entries = [(page, item) for page in pages for item in page.items]
    titles = list(dict.fromkeys(item.title for _page, item in entries))
    existing: dict[str, ImportedItem] = {}
    for chunk in _chunks(titles):
        for imported in ImportedItem.objects.filter(source=source, title__in=chunk):
            existing[imported.title] = imported
    versions = _facts_versions([imported.announcement_id for imported in existing.values()])
    unlinked = [title for title in titles if title not in existing]
    adoptable: dict[str, Announcement] = {}
    if len(unlinked) <= BULK_THRESHOLD:
        for announcement in Announcement.objects.filter(
            title__in=unlinked, imported_item__isnull=True
        ).order_by("id"):
            adoptable.setdefault(announcement.title, announcement)

    seen: set[str] = set()
    for sequence, (page, item) in enumerate(entries):
        planned = PlannedItem(page=page.name, item=item, action=Action.NEW, sequence=sequence)
        stored = existing.get(item.title)
        candidate = adoptable.get(item.title)
        if item.title in seen:
            planned.action = Action.DUPLICATE
        elif stored is not None:
            planned.existing = stored
            planned.action = Action.SAME if stored.excerpt == item.excerpt else Action.UPDATE
        elif candidate is not None and candidate.body == planned.body:
            planned.adopt, planned.action = candidate, Action.SAME
        seen.add(item.title)
        stale = planned.adopt is not None or (
            stored is not None and versions.get(stored.announcement_id) != EXTRACTOR_VERSION
        )
        changed = planned.action in (Action.NEW, Action.UPDATE)
        if changed or (planned.action is Action.SAME and stale) or extract_all:
            planned.facts = extract(item.excerpt, title=item.title)
        report.planned.append(planned)
    return report


def _facts_versions(announcement_ids: list[int]) -> dict[int, int]:
    versions: dict[int, int] = {}
    for chunk in _chunks(announcement_ids):
        versions.update(
            ExtractedFacts.objects.filter(announcement_id__in=chunk).values_list(
                "announcement_id", "extractor_version"
            )
        )
    return versions


def _facts_fields(facts: Facts) -> dict[str, Any]:
    payload = facts.as_json()
    return {
        "kind": facts.kind.value,
        "notice_date": facts.notice_date,
        "effective_date": facts.effective_date,
        "comment_start": facts.comment_start,
        "comment_end": facts.comment_end,
        "rule_names": payload["rule_names"],
        "links": payload["links"],
        "extractor_version": EXTRACTOR_VERSION,
    }


@transaction.atomic
def facts_store(*, announcement: Announcement, facts: Facts) -> ExtractedFacts:
    """Store (or replace) what the extractor read in an announcement."""
    stored, _created = ExtractedFacts.objects.update_or_create(
        announcement=announcement, defaults=_facts_fields(facts)
    )
    return stored


def _facts_store_many(rows: list[tuple[int, Facts]]) -> None:
    """Store (or replace) many announcements' facts in a few statements (INSERT … ON CONFLICT UPDATE)."""
    if not rows:
        return
    fields = list(_facts_fields(rows[0][1]))
    ExtractedFacts.objects.bulk_create(
        [ExtractedFacts(announcement_id=pk, **_facts_fields(facts)) for pk, facts in rows],
        batch_size=BATCH_SIZE,
        update_conflicts=True,
        unique_fields=["announcement"],
        update_fields=[*fields, "extracted_at"],
    )


def _invalid(planned: PlannedItem, error: ValidationError) -> IngestError:
    message = "；".join(error.messages)
    return IngestError(
        _(ITEM_INVALID).format(
            page=planned.page, line=planned.item.line, title=planned.item.title, error=message
        )
    )


def _imported_item(
    planned: PlannedItem, announcement: Announcement, *, source: str, now: datetime
) -> ImportedItem:
    return ImportedItem(
        announcement=announcement,
        source=source,
        title=planned.item.title,
        excerpt=planned.item.excerpt,
        source_url=announcement.source_url,
        last_seen_at=now,
    )


def _new_announcement(planned: PlannedItem, categories: dict[str, Category], now: datetime) -> Announcement:
    assert planned.facts is not None
    kind = announcement_kind(planned.facts.kind, planned.item.title)
    return Announcement(
        title=planned.item.title,
        body=planned.body,
        kind=kind,
        category=categories[category_slug(planned.facts.kind, kind)],
        source_url=source_url_for(planned.facts),
        status=Announcement.Status.PUBLISHED,
        # The page shows no dates: the import time, a millisecond apart per item to keep the source's order.
        published_at=now - timedelta(milliseconds=planned.sequence),
    )


def _create_each(
    new: list[PlannedItem], *, source: str, categories: dict[str, Category], now: datetime
) -> None:
    for planned in new:
        draft = _new_announcement(planned, categories, now)
        try:
            announcement = announcement_services.announcement_create(
                title=draft.title,
                body=draft.body,
                category=draft.category,
                kind=draft.kind,
                source_url=draft.source_url,
                status=draft.status,
                published_at=draft.published_at,
            )
            imported = _imported_item(planned, announcement, source=source, now=now)
            imported.full_clean()
        except ValidationError as error:
            raise _invalid(planned, error) from None
        imported.save()
        assert planned.facts is not None
        facts_store(announcement=announcement, facts=planned.facts)


def _create_bulk(
    new: list[PlannedItem], *, source: str, categories: dict[str, Category], now: datetime
) -> None:
    announcements = []
    for planned in new:
        announcement = _new_announcement(planned, categories, now)
        announcement_services.announcement_render(announcement)
        try:
            # The category is ours and exists; constraints are the ones announcement_create relies on too.
            announcement.full_clean(exclude=["category"], validate_unique=False, validate_constraints=False)
        except ValidationError as error:
            raise _invalid(planned, error) from None
        announcements.append(announcement)
    Announcement.objects.bulk_create(announcements, batch_size=BATCH_SIZE)
    ImportedItem.objects.bulk_create(
        [
            _imported_item(planned, announcement, source=source, now=now)
            for planned, announcement in zip(new, announcements, strict=True)
        ],
        batch_size=BATCH_SIZE,
    )
    ExtractedFacts.objects.bulk_create(
        [
            ExtractedFacts(announcement=announcement, **_facts_fields(planned.facts))
            for planned, announcement in zip(new, announcements, strict=True)
            if planned.facts is not None
        ],
        batch_size=BATCH_SIZE,
    )
    announcement_services.listing_counters_rebuild()
    # What announcement_create's _save does per row: tell the search index, in the same transaction.
    search_services.search_outbox_add(
        entity=OutboxEntry.Entity.ANNOUNCEMENT, object_ids=[announcement.pk for announcement in announcements]
    )


def _update(planned: PlannedItem, *, now: datetime) -> None:
    """A changed excerpt: keep the old text as a revision, then update the announcement and the facts."""
    imported = planned.existing
    assert imported is not None
    assert planned.facts is not None
    announcement = imported.announcement
    ImportRevision.objects.create(
        item=imported,
        title=imported.title,
        excerpt=imported.excerpt,
        source_url=imported.source_url,
        body=announcement.body,
    )
    announcement.body = planned.body
    announcement.source_url = source_url_for(planned.facts)
    try:
        announcement_services.announcement_save(announcement=announcement)
    except ValidationError as error:
        raise _invalid(planned, error) from None
    imported.excerpt = planned.item.excerpt
    imported.source_url = announcement.source_url
    imported.last_seen_at = now
    imported.save(update_fields=["excerpt", "source_url", "last_seen_at"])
    facts_store(announcement=announcement, facts=planned.facts)


def _unchanged(same: list[PlannedItem], *, source: str, now: datetime) -> None:
    """Unchanged items: link the demo's announcements, refresh stale facts, note that they were seen."""
    refreshed: list[tuple[int, Facts]] = []
    imported: ImportedItem | None
    for planned in same:
        if planned.adopt is not None:
            imported = _imported_item(planned, planned.adopt, source=source, now=now)
            imported.full_clean()
            imported.save()
        else:
            imported = planned.existing
        if imported is not None and planned.facts is not None:
            refreshed.append((imported.announcement_id, planned.facts))
    _facts_store_many(refreshed)
    seen_ids = [planned.existing.pk for planned in same if planned.existing is not None]
    for chunk in _chunks(seen_ids):
        ImportedItem.objects.filter(pk__in=chunk).update(last_seen_at=now)


@transaction.atomic
def listing_import(
    *,
    pages: Sequence[ListingPage],
    source: str | None = None,
    dry_run: bool = False,
    bulk_threshold: int = BULK_THRESHOLD,
) -> ImportReport:
    """Import listing pages; idempotent. Raises IngestError (and writes nothing) when an item is invalid."""
    report = listing_plan(pages=pages, source=source or source_guess(pages))
    if dry_run:
        report.dry_run = True
        return report
    now = timezone.now()
    new = [planned for planned in report.planned if planned.action is Action.NEW]
    slugs = sorted(
        {
            category_slug(p.facts.kind, announcement_kind(p.facts.kind, p.item.title))
            for p in new
            if p.facts is not None
        }
    )
    categories = {
        slug: announcement_services.category_ensure(slug=slug, name=CATEGORY_NAMES[slug]) for slug in slugs
    }
    if len(new) > bulk_threshold:
        _create_bulk(new, source=report.source, categories=categories, now=now)
    else:
        _create_each(new, source=report.source, categories=categories, now=now)
    for planned in report.planned:
        if planned.action is Action.UPDATE:
            _update(planned, now=now)
    _unchanged(
        [planned for planned in report.planned if planned.action is Action.SAME],
        source=report.source,
        now=now,
    )
    return report
