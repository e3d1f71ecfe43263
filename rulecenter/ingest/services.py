"""Writes of the ingest app: listing pages into published announcements with their extracted facts.

`planning.listing_plan` decides, without writing, what an import would do with each item (the admin's
preview and `--dry-run` show it); `listing_import` does it in one transaction, so a failure leaves nothing
behind. Announcements are written through rulecenter.announcements.services, so the listing counters stay
exact and the change is announced (search follows): one `announcement_create` per item for a page or two,
and `announcement_bulk_create` for large imports, in the same transaction.

The extraction (the text-bound part) runs before that transaction opens: on SQLite the transaction holds
the write lock from BEGIN, and no text should make a member's vote wait.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from rulecenter.announcements import services as announcement_services
from rulecenter.announcements.models import Announcement, Category
from rulecenter.announcements.services import AnnouncementDraft
from rulecenter.common.actors import Actor

from .extract import EXTRACTOR_VERSION, Facts
from .listing import ListingPage
from .models import ExtractedFacts, ImportedItem, ImportRevision
from .planning import (
    BULK_THRESHOLD,
    CATEGORY_NAMES,
    Action,
    ImportReport,
    PlannedItem,
    announcement_kind,
    category_slug,
    chunks,
    listing_plan,
    source_guess,
    source_url_for,
)
from .planning import (
    IngestError as IngestError,  # raised here and by the plan; callers catch it from here
)

BATCH_SIZE = 1000
ITEM_INVALID = "文件“{page}”第 {line} 行《{title}》无法导入：{error}"


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


def _draft(planned: PlannedItem, categories: dict[str, Category], now: datetime) -> AnnouncementDraft:
    assert planned.facts is not None
    kind = announcement_kind(planned.facts.kind, planned.item.title)
    return AnnouncementDraft(
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
    new: list[PlannedItem], *, actor: Actor, source: str, categories: dict[str, Category], now: datetime
) -> None:
    for planned in new:
        draft = _draft(planned, categories, now)
        try:
            announcement = announcement_services.announcement_create(
                actor=actor,
                title=draft.title,
                body=draft.body,
                category=draft.category,
                kind=draft.kind,
                source_url=draft.source_url,
                status=draft.status,
                published_at=draft.published_at,
                imported=True,  # already published by the source platform: no review here
            )
            imported = _imported_item(planned, announcement, source=source, now=now)
            imported.full_clean()
        except ValidationError as error:
            raise _invalid(planned, error) from None
        imported.save()
        assert planned.facts is not None
        facts_store(announcement=announcement, facts=planned.facts)


def _create_bulk(
    new: list[PlannedItem], *, actor: Actor, source: str, categories: dict[str, Category], now: datetime
) -> None:
    try:
        announcements = announcement_services.announcement_bulk_create(
            actor=actor, drafts=[_draft(planned, categories, now) for planned in new]
        )
    except announcement_services.AnnouncementDraftInvalid as error:
        raise _invalid(new[error.index], error) from None
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


def _update(planned: PlannedItem, *, actor: Actor, now: datetime) -> None:
    """A changed excerpt: keep the old text as a revision, then update the announcement and the facts.

    Saving a published announcement's new text is a correction: announcements keeps the earlier text too
    and the news page lists it. An announcement withdrawn here stays withdrawn: it is only marked as seen.
    """
    imported = planned.existing
    assert imported is not None
    assert planned.facts is not None
    announcement = imported.announcement
    if announcement.is_withdrawn:
        imported.last_seen_at = now
        imported.save(update_fields=["last_seen_at"])
        return
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
        announcement_services.announcement_save(actor=actor, announcement=announcement)
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
    for chunk in chunks(seen_ids):
        ImportedItem.objects.filter(pk__in=chunk).update(last_seen_at=now)


def listing_import(
    *,
    actor: Actor,
    pages: Sequence[ListingPage],
    source: str | None = None,
    dry_run: bool = False,
    bulk_threshold: int = BULK_THRESHOLD,
) -> ImportReport:
    """Import listing pages; idempotent. Raises IngestError (and writes nothing) when an item is invalid.

    Planned twice: outside the transaction, reading every changed item's text; inside it, against the
    rows as they are now, reusing those facts (an item another import changed meanwhile is read there).
    """
    outside = listing_plan(pages=pages, source=source or source_guess(pages))
    if dry_run:
        outside.dry_run = True
        return outside
    with transaction.atomic():
        report = listing_plan(pages=pages, source=outside.source, extracted=outside.extracted())
        _carry_out(report, actor=actor, bulk_threshold=bulk_threshold)
    return report


def _carry_out(report: ImportReport, *, actor: Actor, bulk_threshold: int) -> None:
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
        slug: announcement_services.category_ensure(actor=actor, slug=slug, name=CATEGORY_NAMES[slug])
        for slug in slugs
    }
    if len(new) > bulk_threshold:
        _create_bulk(new, actor=actor, source=report.source, categories=categories, now=now)
    else:
        _create_each(new, actor=actor, source=report.source, categories=categories, now=now)
    for planned in report.planned:
        if planned.action is Action.UPDATE:
            _update(planned, actor=actor, now=now)
    _unchanged(
        [planned for planned in report.planned if planned.action is Action.SAME],
        source=report.source,
        now=now,
    )
