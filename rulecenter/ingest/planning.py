"""Planning an import, without writing: what `listing_import` would do with each item of listing pages.

The admin's preview and `import_listing --dry-run` show the plan; `services.listing_import` carries it out.
"""

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from rulecenter.announcements import selectors as announcement_selectors
from rulecenter.announcements.models import Announcement

from .extract import EXTRACTOR_VERSION, Facts, Kind, extract, find_links
from .listing import ListingItem, ListingPage
from .models import ExtractedFacts, ImportedItem

# Above this many new items an import inserts in bulk and recounts the listing once, and does not look for
# unlinked announcements of the same title to adopt (Announcement.title has no index to find them by).
BULK_THRESHOLD = 200
QUERY_CHUNK = 500  # titles per `IN (…)`: well under SQLite's and PostgreSQL's parameter limits
SOURCE_UNKNOWN = "listing"
ITEM_TOO_LONG = (
    "文件“{page}”第 {line} 行《{title}》的正文有 {length} 个字符，超过上限 {limit} 个字符"
    "（RULECENTER_INGEST_TEXT_MAX_CHARS）；请拆分或删减后再导入。"
)


class IngestError(ValueError):
    """An item that cannot be imported; str(error) says which and why."""


# The announcement categories imports file into: the demo's, created on first use.
CATEGORY_NAMES = {
    "rule-changes": "规则变更",
    "consultations": "意见征集",
    "agreements": "协议变更",
    "guides": "规则解读",
    "topics": "专题",
}


class Action(StrEnum):
    NEW = "new"
    UPDATE = "update"
    SAME = "same"
    DUPLICATE = "duplicate"

    @property
    def label(self) -> str:
        return {
            "new": pgettext("import action", "新增"),
            "update": _("更新"),
            "same": _("未变化"),
            "duplicate": _("重复"),
        }[self.value]


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

    def extracted(self) -> dict[tuple[str, str], Facts]:
        """The facts read for this plan, by (title, excerpt)."""
        return {
            (planned.item.title, planned.item.excerpt): planned.facts
            for planned in self.planned
            if planned.facts is not None
        }

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


def chunks[T](values: Sequence[T], size: int = QUERY_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _length_check(pages: Sequence[ListingPage]) -> None:
    """Refuse, before any reading, an item whose text is longer than the extractor is given."""
    limit: int = settings.RULECENTER_INGEST_TEXT_MAX_CHARS
    for page in pages:
        for item in page.items:
            length = len(item.excerpt) + len(item.title)
            if length > limit:
                raise IngestError(
                    _(ITEM_TOO_LONG).format(
                        page=page.name, line=item.line, title=item.title, length=length, limit=limit
                    )
                )


def listing_plan(
    *,
    pages: Sequence[ListingPage],
    source: str,
    extract_all: bool = False,
    extracted: Mapping[tuple[str, str], Facts] | None = None,
) -> ImportReport:
    """What importing `pages` would do with each item; reads, never writes.

    Unchanged items are not re-read unless their stored facts come from an older extractor (or
    `extract_all`, for a preview that shows every item's facts). `extracted` holds facts already read,
    by (title, excerpt): the import plans once outside its transaction, extracting, and once inside it,
    reusing them. Raises IngestError when an item's text is over RULECENTER_INGEST_TEXT_MAX_CHARS.
    """
    _length_check(pages)
    report = ImportReport(source=source, pages=list(pages))
    entries = [(page, item) for page in pages for item in page.items]
    titles = list(dict.fromkeys(item.title for _page, item in entries))
    existing: dict[str, ImportedItem] = {}
    for chunk in chunks(titles):
        for imported in ImportedItem.objects.filter(source=source, title__in=chunk):
            existing[imported.title] = imported
    versions = _facts_versions([imported.announcement_id for imported in existing.values()])
    unlinked = [title for title in titles if title not in existing]
    adoptable: dict[str, Announcement] = {}
    if len(unlinked) <= BULK_THRESHOLD:
        candidates = announcement_selectors.announcements_titled(titles=unlinked)
        linked = set(
            ImportedItem.objects.filter(announcement_id__in=[a.pk for a in candidates]).values_list(
                "announcement_id", flat=True
            )
        )
        for announcement in candidates:
            if announcement.pk not in linked:
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
            known = extracted.get((item.title, item.excerpt)) if extracted else None
            planned.facts = known or extract(item.excerpt, title=item.title)
        report.planned.append(planned)
    return report


def _facts_versions(announcement_ids: list[int]) -> dict[int, int]:
    versions: dict[int, int] = {}
    for chunk in chunks(announcement_ids):
        versions.update(
            ExtractedFacts.objects.filter(announcement_id__in=chunk).values_list(
                "announcement_id", "extractor_version"
            )
        )
    return versions
