"""Writes of the ingest app: listing pages into published announcements with their extracted facts.

`planning.listing_plan` decides, without writing, what an import would do with each item (the admin's
preview and `--dry-run` show it); `listing_import` does it in one transaction, so a failure leaves nothing
behind. Announcements are written through rulecenter.announcements.services, so the listing counters stay
exact and the change is announced (search follows): one `announcement_create` per item for a page or two,
and `announcement_bulk_create` for large imports, in the same transaction.

The extraction (the text-bound part) runs before that transaction opens: on SQLite the transaction holds
the write lock from BEGIN, and no text should make a member's vote wait.
"""

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import role_require, role_require_any
from rulecenter.announcements import services as announcement_services
from rulecenter.announcements.models import Announcement, Category
from rulecenter.announcements.services import AnnouncementDraft
from rulecenter.common import outbound
from rulecenter.common.actors import SYSTEM_ROLE, Actor
from rulecenter.common.changes import ChangeAction, ContentKind, content_changed_announce

from .extract import EXTRACTOR_VERSION, Facts
from .fetching import Fetched, fetch
from .listing import ListingError, ListingPage
from .models import Channel, ChannelFetch, ChannelPage, ExtractedFacts, ImportedItem, ImportRevision
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
from .readers import PRESETS, SelectorSpec, as_listing, read_page, selector_valid

logger = logging.getLogger(__name__)

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


def _draft(
    planned: PlannedItem, categories: dict[str, Category], now: datetime, last: int
) -> AnnouncementDraft:
    assert planned.facts is not None
    kind = announcement_kind(planned.facts.kind, planned.item.title)
    return AnnouncementDraft(
        title=planned.item.title,
        body=planned.body,
        kind=kind,
        category=categories[category_slug(planned.facts.kind, kind)],
        source_url=source_url_for(planned.facts),
        status=Announcement.Status.PUBLISHED,
        published_at=_published_at(planned, now, last),
    )


def _published_at(planned: PlannedItem, now: datetime, last: int) -> datetime:
    """The item's own day (its start in TIME_ZONE) when its page shows a date, never later than now; else the
    import time. Items are a millisecond apart, to keep the source's order (newest first, `sequence` 0 to
    `last`) among equal dates: counted up from the day's start, down from the import time."""
    if planned.item.published is None:
        return now - timedelta(milliseconds=planned.sequence)
    day = datetime.combine(planned.item.published, time(0), tzinfo=ZoneInfo(settings.TIME_ZONE))
    return min(now, day + timedelta(milliseconds=last - planned.sequence))


def _create_each(
    new: list[PlannedItem], *, actor: Actor, source: str, categories: dict[str, Category], now: datetime
) -> None:
    last = max((planned.sequence for planned in new), default=0)
    for planned in new:
        draft = _draft(planned, categories, now, last)
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
    last = max((planned.sequence for planned in new), default=0)
    try:
        announcements = announcement_services.announcement_bulk_create(
            actor=actor, drafts=[_draft(planned, categories, now, last) for planned in new]
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
    then: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Import listing pages; idempotent. Raises IngestError (and writes nothing) when an item is invalid.

    Planned twice: outside the transaction, reading every changed item's text; inside it, against the
    rows as they are now, reusing those facts (an item another import changed meanwhile is read there).
    `then(report)` runs in the import's transaction, after it: what the caller writes commits with it.
    """
    outside = listing_plan(pages=pages, source=source or source_guess(pages))
    if dry_run:
        outside.dry_run = True
        return outside
    with transaction.atomic():
        report = listing_plan(pages=pages, source=outside.source, extracted=outside.extracted())
        _carry_out(report, actor=actor, bulk_threshold=bulk_threshold)
        if then is not None:
            then(report)
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


# --- Channels: other platforms' listing pages, followed (issue 16) --------------------------------------

CHANNEL_PAGES_MAX = 10
CHANNEL_LEASE = timedelta(minutes=10)  # a fetch that takes longer is taken to have died: the next may start
CHANNEL_FETCHES_KEPT = 100  # fetch records kept per channel
CHANNEL_NAME_REQUIRED = "请填写频道名称。"
CHANNEL_NAME_TAKEN = "已经有名为“{name}”的频道。"
CHANNEL_URLS_REQUIRED = "请至少填写一个列表页网址。"
CHANNEL_URLS_TOO_MANY = "一个频道最多 {limit} 个页面。"
CHANNEL_URL_REPEATED = "网址“{url}”重复了。"
CHANNEL_INTERVAL = "抓取间隔须在 5 分钟到 10080 分钟（一周）之间。"
CHANNEL_SELECTORS_REQUIRED = "自定义读取方式需要 item 和 title 两个选择器。"
CHANNEL_SELECTOR_INVALID = "选择器“{selector}”无法解析。"
CHANNEL_SELECTOR_UNKNOWN = "未知的选择器字段“{field}”；可用：item、title、link、date、excerpt。"
CHANNEL_SOURCE_INVALID = "来源最多 100 个字符，不能为空白。"
CHANNEL_READ_FAILED = "读取页面时出错（已记录）；可以为这个频道配置 CSS 选择器。"
SELECTOR_FIELDS = ("item", "title", "link", "date", "excerpt")


def channel_actor(channel: Channel) -> Actor:
    """Who imports a channel's items: the platform itself, named after the channel in the audit chain."""
    return Actor(user_id=None, name=f"channel:{channel.pk}", roles=frozenset({SYSTEM_ROLE}))


def _selector_spec(adapter: str, selectors: dict[str, str]) -> SelectorSpec | None:
    if adapter == Channel.Adapter.SELECTORS:
        return SelectorSpec(**{key: value for key, value in selectors.items() if value})
    return PRESETS.get(adapter)


def channel_selectors_clean(adapter: str, selectors: object) -> dict[str, str]:
    if adapter != Channel.Adapter.SELECTORS:
        return {}
    if not isinstance(selectors, dict):
        raise ValidationError({"selectors": _(CHANNEL_SELECTORS_REQUIRED)})
    cleaned: dict[str, str] = {}
    for key, value in selectors.items():
        if key not in SELECTOR_FIELDS:
            raise ValidationError({"selectors": _(CHANNEL_SELECTOR_UNKNOWN).format(field=str(key)[:40])})
        text = str(value or "").strip()
        if len(text) > 300:
            raise ValidationError({"selectors": _(CHANNEL_SELECTOR_INVALID).format(selector=text[:40] + "…")})
        if text:
            if not selector_valid(text):
                raise ValidationError({"selectors": _(CHANNEL_SELECTOR_INVALID).format(selector=text[:80])})
            cleaned[key] = text
    if not cleaned.get("item") or not cleaned.get("title"):
        raise ValidationError({"selectors": _(CHANNEL_SELECTORS_REQUIRED)})
    return cleaned


def channel_urls_clean(urls: Sequence[str]) -> list[str]:
    cleaned = [url.strip() for url in urls if url.strip()]
    if not cleaned:
        raise ValidationError({"urls": _(CHANNEL_URLS_REQUIRED)})
    if len(cleaned) > CHANNEL_PAGES_MAX:
        raise ValidationError({"urls": _(CHANNEL_URLS_TOO_MANY).format(limit=CHANNEL_PAGES_MAX)})
    allow_private = bool(settings.RULECENTER_CHANNEL_ALLOW_PRIVATE)
    for url in cleaned:
        try:
            outbound.url_check(url, allow_private=allow_private)
            URLValidator(schemes=["http", "https"])(url)
        except outbound.TargetRefused as refused:
            raise ValidationError({"urls": f"{url[:200]}：{refused}"}) from None
        except ValidationError:
            raise ValidationError({"urls": f"{url[:200]}：{_(outbound.URL_SCHEME)}"}) from None
    repeated = [url for url, seen in Counter(cleaned).items() if seen > 1]
    if repeated:
        raise ValidationError({"urls": _(CHANNEL_URL_REPEATED).format(url=repeated[0][:200])})
    return cleaned


def _enqueue_fetch(channel: Channel) -> None:
    from .tasks import channel_fetch_task

    channel_id, at = channel.pk, channel.next_fetch_at
    transaction.on_commit(
        lambda: channel_fetch_task.using(run_after=at).enqueue(channel_id=channel_id), robust=True
    )


def _channel_fields(channel: Channel, urls: list[str]) -> dict[str, object]:
    return {
        "name": channel.name,
        "urls": urls,
        "source": channel.source,
        "adapter": channel.adapter,
        "selectors": channel.selectors,
        "format": channel.format,
        "interval_minutes": channel.interval_minutes,
        "paused": channel.paused,
    }


def _channel_validate(channel: Channel) -> None:
    if not channel.name.strip():
        raise ValidationError({"name": _(CHANNEL_NAME_REQUIRED)})
    if not 5 <= channel.interval_minutes <= 10080:
        raise ValidationError({"interval_minutes": _(CHANNEL_INTERVAL)})
    if not channel.source.strip() or len(channel.source) > 100:
        raise ValidationError({"source": _(CHANNEL_SOURCE_INVALID)})
    clash = Channel.objects.filter(name=channel.name).exclude(pk=channel.pk).exists()
    if clash:
        raise ValidationError({"name": _(CHANNEL_NAME_TAKEN).format(name=channel.name[:100])})
    channel.full_clean(exclude=["next_fetch_at", "created_by"], validate_unique=False)


@transaction.atomic
def channel_create(
    *,
    actor: Actor,
    name: str,
    urls: Sequence[str],
    adapter: str = Channel.Adapter.AUTO,
    selectors: dict[str, str] | None = None,
    format: str = Channel.Format.AUTO,
    interval_minutes: int = 60,
    source: str = "",
    paused: bool = False,
) -> Channel:
    """Follow a channel. Publishers only: its items go out published, without review (they were published by
    their platform). The first fetch is queued at once; ValidationError names a bad field, nothing stored."""
    role_require(actor, Role.PUBLISHER)
    pages = channel_urls_clean(urls)
    channel = Channel(
        name=name.strip(),
        source=source.strip() or (urlsplit(pages[0]).hostname or "")[:100],
        adapter=adapter,
        selectors=channel_selectors_clean(adapter, selectors or {}),
        format=format,
        interval_minutes=interval_minutes,
        paused=paused,
        next_fetch_at=timezone.now(),
        created_by_id=actor.user_id,
    )
    _channel_validate(channel)
    channel.save()
    ChannelPage.objects.bulk_create(
        [ChannelPage(channel=channel, position=number, url=url) for number, url in enumerate(pages)]
    )
    content_changed_announce(
        kind=ContentKind.CHANNEL,
        ids=[channel.pk],
        action=ChangeAction.CREATED,
        actor=actor,
        data=_channel_fields(channel, pages),
    )
    if not channel.paused:
        _enqueue_fetch(channel)
    return channel


@transaction.atomic
def channel_update(
    *,
    actor: Actor,
    channel: Channel,
    name: str | None = None,
    urls: Sequence[str] | None = None,
    adapter: str | None = None,
    selectors: dict[str, str] | None = None,
    format: str | None = None,
    interval_minutes: int | None = None,
    paused: bool | None = None,
) -> Channel:
    """Change, pause or resume a channel (publishers). New pages or a new way of reading them are read in
    full at the next fetch; resuming fetches at once. The source stays as created: with the title, it is
    each imported item's identity, and a new one would import every item again."""
    role_require(actor, Role.PUBLISHER)
    stored = Channel.objects.select_for_update().get(pk=channel.pk)
    before_urls = list(stored.pages.values_list("url", flat=True))
    before = _channel_fields(stored, before_urls)  # as stored, not as the caller's copy remembers it
    pages = channel_urls_clean(urls) if urls is not None else before_urls
    for field_name, value in (
        ("name", name.strip() if name is not None else None),
        ("adapter", adapter),
        ("format", format),
        ("interval_minutes", interval_minutes),
        ("paused", paused),
    ):
        if value is not None:
            setattr(stored, field_name, value)
    if adapter is not None or selectors is not None:
        stored.selectors = channel_selectors_clean(
            stored.adapter, selectors if selectors is not None else stored.selectors
        )
    _channel_validate(stored)
    reread = pages != before_urls or (stored.adapter, stored.selectors, stored.format) != (
        before["adapter"],
        before["selectors"],
        before["format"],
    )
    if pages != before_urls:
        stored.pages.all().delete()
        ChannelPage.objects.bulk_create(
            [ChannelPage(channel=stored, position=number, url=url) for number, url in enumerate(pages)]
        )
    elif reread:
        stored.pages.update(etag="", last_modified="", body_sha256="")  # read again, the new way
    resumed = bool(before["paused"]) and not stored.paused
    if resumed or reread:
        stored.next_fetch_at = timezone.now()
    stored.save()
    after = _channel_fields(stored, pages)
    changed = {key: value for key, value in after.items() if before.get(key) != value}
    if changed:
        content_changed_announce(
            kind=ContentKind.CHANNEL, ids=[stored.pk], action=ChangeAction.UPDATED, actor=actor, data=changed
        )
    if not stored.paused and (resumed or reread):
        _enqueue_fetch(stored)
    return _mirror_channel(channel, stored)


def _mirror_channel(target: Channel, stored: Channel) -> Channel:
    for model_field in Channel._meta.concrete_fields:
        setattr(target, model_field.attname, getattr(stored, model_field.attname))
    return target


@transaction.atomic
def channel_fetch_soon(*, actor: Actor, channel: Channel) -> Channel:
    """Fetch a channel now rather than at its time (editors and publishers); a paused channel stays paused."""
    role_require_any(actor, Role.EDITOR, Role.PUBLISHER)
    stored = Channel.objects.select_for_update().get(pk=channel.pk)
    if not stored.paused:
        stored.next_fetch_at = min(stored.next_fetch_at, timezone.now())
        stored.save(update_fields=["next_fetch_at"])
        _enqueue_fetch(stored)
    return _mirror_channel(channel, stored)


@dataclass
class _Read:
    page: ChannelPage
    fetched: Fetched
    digest: str
    listing: ListingPage | None = None
    unsure: int = 0


def _claimed(channel_id: int, now: datetime, *, due_only: bool) -> Channel | None:
    """Take the channel for one fetch, or None when it is paused, gone, not due or being fetched: a
    conditional UPDATE of its lease, so two workers never fetch it at once; a lease left by a worker that
    died runs out after CHANNEL_LEASE."""
    free = Q(fetching_until__isnull=True) | Q(fetching_until__lt=now)
    if due_only:
        free &= Q(next_fetch_at__lte=now)
    with transaction.atomic():
        taken = Channel.objects.filter(free, pk=channel_id, paused=False).update(
            fetching_until=now + CHANNEL_LEASE
        )
    return Channel.objects.filter(pk=channel_id).first() if taken else None


def channel_fetch(*, channel_id: int, due_only: bool = True) -> ChannelFetch | None:
    """Fetch a due channel once: its pages (conditionally), read, imported in one transaction with the
    pages' new validators and the channel's health; a failure anywhere imports nothing and is recorded,
    with a back-off. None when the channel was not to be fetched (paused, not due, fetched elsewhere)."""
    started = timezone.now()
    channel = _claimed(channel_id, started, due_only=due_only)
    if channel is None:
        return None
    timeout = float(settings.RULECENTER_CHANNEL_TIMEOUT_SECONDS)
    reads: list[_Read] = []
    for page in channel.pages.order_by("position"):
        fetched = fetch(
            page.url,
            etag=page.etag,
            last_modified=page.last_modified,
            max_bytes=int(settings.RULECENTER_CHANNEL_MAX_BYTES),
            timeout=timeout,
            allow_private=bool(settings.RULECENTER_CHANNEL_ALLOW_PRIVATE),
        )
        if not (fetched.ok or fetched.not_modified):
            return _fetch_failed(channel, started, fetched.error, reads=reads, fetched=fetched)
        digest = hashlib.sha256(fetched.body).hexdigest() if fetched.ok else page.body_sha256
        reads.append(_Read(page, fetched, digest))
    changed = [read for read in reads if read.fetched.ok and read.digest != read.page.body_sha256]
    spec = _selector_spec(channel.adapter, channel.selectors)
    for read in changed:
        try:
            found = read_page(read.fetched.text(), name=read.page.url, kind=channel.format, spec=spec)
        except ListingError as error:
            return _fetch_failed(channel, started, f"{read.page.url}：{error}", reads=reads)
        except Exception:  # a page no reader expected: this channel's failure, not the worker's
            logger.exception("channel %s: reading %s failed", channel.pk, read.page.url)
            return _fetch_failed(channel, started, f"{read.page.url}：{_(CHANNEL_READ_FAILED)}", reads=reads)
        read.listing = as_listing(found, base=read.fetched.final_url or read.page.url)
        read.unsure = sum(1 for item in found.items if item.unsure)
    record = ChannelFetch(
        channel=channel,
        started_at=started,
        status=reads[-1].fetched.status if reads else None,
        pages=len(reads),
        bytes=sum(len(read.fetched.body) for read in reads),
        unsure=sum(read.unsure for read in changed),
    )

    def settle(report: ImportReport | None) -> None:
        now = timezone.now()
        for read in reads:
            page, fetched = read.page, read.fetched
            kept = (page.etag, page.last_modified, page.body_sha256)
            page.etag = fetched.etag or (page.etag if fetched.not_modified else "")
            page.last_modified = fetched.last_modified or (page.last_modified if fetched.not_modified else "")
            page.body_sha256 = read.digest
            if fetched.ok or (page.etag, page.last_modified, page.body_sha256) != kept:
                page.fetched_at = now if fetched.ok else page.fetched_at
                page.save(update_fields=["etag", "last_modified", "body_sha256", "fetched_at"])
            # else a 304 that changes nothing: the page's row stands
        record.elapsed_ms = round((now - started).total_seconds() * 1000)
        record.outcome = ChannelFetch.Outcome.NOT_MODIFIED
        if report is not None:
            record.outcome = ChannelFetch.Outcome.IMPORTED
            record.items, record.new, record.updated = report.seen, report.imported, report.updated
            channel.items_seen = report.seen
        _fetch_record(record, now)
        channel.last_fetched_at = channel.last_success_at = now
        channel.failures = 0
        channel.next_fetch_at = now + timedelta(minutes=channel.interval_minutes)
        channel.fetching_until = None
        channel.save(
            update_fields=[
                "last_fetched_at", "last_success_at", "failures", "items_seen", "next_fetch_at", "fetching_until",
            ]
        )  # fmt: skip
        _enqueue_fetch(channel)

    listings = [read.listing for read in changed if read.listing is not None]
    if not listings:
        with transaction.atomic():
            settle(None)
        return record
    try:
        listing_import(actor=channel_actor(channel), pages=listings, source=channel.source, then=settle)
    except IngestError as error:
        return _fetch_failed(channel, started, str(error), reads=reads)
    return record


def _fetch_failed(
    channel: Channel, started: datetime, error: str, *, reads: list[_Read], fetched: Fetched | None = None
) -> ChannelFetch:
    """Record a failed fetch: the channel's health, a back-off (doubling from its interval, at most
    RULECENTER_CHANNEL_BACKOFF_MAX_MINUTES, never sooner than a Retry-After asks), nothing imported."""
    now = timezone.now()
    with transaction.atomic():
        stored = Channel.objects.select_for_update().get(pk=channel.pk)
        stored.failures += 1
        ceiling = timedelta(minutes=int(settings.RULECENTER_CHANNEL_BACKOFF_MAX_MINUTES))
        wait = min(timedelta(minutes=stored.interval_minutes) * 2 ** min(stored.failures - 1, 16), ceiling)
        if fetched is not None and fetched.retry_after is not None:
            wait = max(wait, min(timedelta(seconds=fetched.retry_after), ceiling))
        stored.last_fetched_at = stored.last_error_at = now
        stored.last_error = error[:2000]
        stored.next_fetch_at = now + wait
        stored.fetching_until = None
        stored.save(
            update_fields=[
                "failures",
                "last_fetched_at",
                "last_error_at",
                "last_error",
                "next_fetch_at",
                "fetching_until",
            ]
        )
        record = ChannelFetch(
            channel=stored,
            started_at=started,
            elapsed_ms=round((now - started).total_seconds() * 1000),
            outcome=ChannelFetch.Outcome.FAILED,
            status=fetched.status if fetched is not None else None,
            pages=len(reads) + (1 if fetched is not None else 0),
            bytes=sum(len(read.fetched.body) for read in reads),
            error=error[:2000],
        )
        _fetch_record(record, now)
        _enqueue_fetch(stored)
    _mirror_channel(channel, stored)
    return record


def _fetch_record(record: ChannelFetch, now: datetime) -> None:
    """Keep the fetch's record: an unchanged fetch after an unchanged one adds to it (one UPDATE); anything
    else is a new record, and the channel keeps its last CHANNEL_FETCHES_KEPT."""
    if record.outcome == ChannelFetch.Outcome.NOT_MODIFIED:
        latest = ChannelFetch.objects.filter(channel_id=record.channel_id).order_by("-started_at", "-id")
        added = ChannelFetch.objects.filter(
            pk=Subquery(latest.values("pk")[:1]), outcome=ChannelFetch.Outcome.NOT_MODIFIED
        ).update(repeats=F("repeats") + 1, last_at=now)
        if added:
            return
    record.last_at = now
    record.save()
    stale = list(
        ChannelFetch.objects.filter(channel_id=record.channel_id)
        .order_by("-started_at", "-id")
        .values_list("pk", flat=True)[CHANNEL_FETCHES_KEPT : CHANNEL_FETCHES_KEPT + 50]
    )
    if stale:
        ChannelFetch.objects.filter(pk__in=stale).delete()


def channels_fetch_due(*, limit: int | None = None, every: bool = False) -> list[ChannelFetch]:
    """Fetch every due channel once, one after another (`rulecenter fetch_channels`); with `every`, every
    channel that is not paused, due or not. One channel's failure is recorded and blocks nothing else."""
    now = timezone.now()
    due = Channel.objects.filter(paused=False)
    if not every:
        due = due.filter(next_fetch_at__lte=now)
    ids = list(due.order_by("next_fetch_at", "pk").values_list("pk", flat=True)[:limit])
    done = []
    for channel_id in ids:
        record = channel_fetch(channel_id=channel_id, due_only=not every)
        if record is not None:
            done.append(record)
    return done
