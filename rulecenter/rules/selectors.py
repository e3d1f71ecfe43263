"""Reads of the rule library. The version in force is a query over stored dates, never a stored flag.

Nothing is public before its notice: every public read here shows a version only once `notice_at <= now`
(the real current time, whatever instant is asked about), and a rule only once one of its versions is.
A future instant is answered with what is public now about it — the version in force by then among those
already noticed — never with a draft or a version whose notice is still ahead. The few reads that see
drafts too (for editors and consultations) say so in their names or docstrings.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.validators import slug_re
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from rulecenter.accounts import selectors as account_selectors
from rulecenter.accounts.models import Segment
from rulecenter.announcements.models import Announcement
from rulecenter.common.translations import TranslationText, newest_by_language

from .models import (
    Acknowledgment,
    AcknowledgmentReminder,
    ChangeBundle,
    ExitRequest,
    LifecycleEvent,
    Rule,
    RuleCategory,
    RuleVersion,
    RuleVersionTally,
    RuleVersionTranslation,
)


def public_versions(*, at: datetime | None = None) -> QuerySet[RuleVersion]:
    """Versions that have been noticed by `at` (public record); drafts and future notices are not."""
    return RuleVersion.objects.filter(notice_at__lte=at or timezone.now())


def _has_public_version(now: datetime) -> Exists:
    """A rule is public once one of its versions has been noticed: before that, even its title is a draft."""
    return Exists(RuleVersion.objects.filter(rule=OuterRef("pk"), notice_at__lte=now))


def public_rules(*, now: datetime | None = None) -> QuerySet[Rule]:
    """Rules with at least one version noticed by `now` (default: the current time)."""
    return Rule.objects.filter(_has_public_version(now or timezone.now()))


def _is_slug(value: str, max_length: int) -> bool:
    # Anything else (NUL bytes, long junk) cannot name a row: answer "none" without asking the database.
    return len(value) <= max_length and slug_re.fullmatch(value) is not None


def rule_by_slug(slug: str) -> Rule | None:
    """Any rule, public or not yet (editors add versions to a rule before anything of it is noticed)."""
    if not _is_slug(slug, 100):
        return None
    return Rule.objects.select_related("category").filter(slug=slug).first()


def public_rule_by_slug(slug: str, *, now: datetime | None = None) -> Rule | None:
    """The rule if one of its versions has been noticed by `now`: what public pages and reads look up."""
    if not _is_slug(slug, 100):
        return None
    return public_rules(now=now).select_related("category").filter(slug=slug).first()


def version_in_force(*, rule: Rule, at: datetime, now: datetime | None = None) -> RuleVersion | None:
    """The version in force at `at` among those noticed by `now` (default: the current time).

    The version whose effective_at is the latest one ≤ `at` (one index seek). For a past `at` every such
    version was noticed long ago; for a future one, a version whose notice is still ahead (or a draft)
    never answers — the answer is what is public now about that instant.
    """
    return (
        RuleVersion.objects.filter(rule=rule, effective_at__lte=at, notice_at__lte=now or timezone.now())
        .order_by("-effective_at")
        .first()
    )


def version_next(*, rule: Rule, at: datetime) -> RuleVersion | None:
    """The noticed version that will take effect next after `at`, if one is publicly announced."""
    return (
        RuleVersion.objects.filter(rule=rule, effective_at__gt=at, notice_at__lte=at)
        .order_by("effective_at")
        .first()
    )


def version_by_number(*, rule: Rule, number: int) -> RuleVersion | None:
    return public_versions().filter(rule=rule, number=number).select_related("rule").first()


def version_count(*, rule: Rule, at: datetime | None = None) -> int:
    """How many versions are public at `at`: the tally the database keeps, less those noticed later.

    Versions noticed after `at` take effect after it too, so they are the top of the rule's
    (rule, effective_at) index: the count does not grow with the rule's history.
    """
    at = at or timezone.now()
    scheduled = RuleVersionTally.objects.filter(rule=rule).values_list("scheduled", flat=True).first() or 0
    later = RuleVersion.objects.filter(rule=rule, effective_at__gt=at, notice_at__gt=at).count()
    return scheduled - later


@dataclass(frozen=True)
class HistoryRow:
    version: RuleVersion
    status: RuleVersion.Status
    previous_number: int | None


# Deep history pages seek to the nearest remembered version at a multiple of HISTORY_ANCHOR_SPAN, then walk
# fewer than that many index entries: page 500 of 10,000 versions costs what page 1 does.
HISTORY_ANCHOR_SPAN = 240


def _history_anchor(rule: Rule, public: QuerySet[RuleVersion], total: int, position: int) -> datetime | None:
    """The effective_at of the public version at `position`, newest first, remembered per history state.

    Public versions are frozen and never deleted, so a rule's public history changes only by growing:
    its size names the state.
    """
    key = f"rules:history:seek:{rule.pk}:{total}:{position}"
    found: datetime | None = cache.get(key)
    if found is None:
        found = next(iter(public.values_list("effective_at", flat=True)[position : position + 1]), None)
        if found is not None:
            cache.set(key, found, timeout=3600)
    return found


def version_history(
    *, rule: Rule, offset: int, limit: int, at: datetime, total: int | None = None
) -> list[HistoryRow]:
    """One page of public versions, newest effective first, each with its status and predecessor.

    Reads one row either side of the page so the first row's status and the last row's diff link
    need no further query. Pages over the covering index first, then reads only the rows shown; given
    the `total`, a deep page starts from a remembered anchor instead of walking from the newest version.
    """
    start = max(0, offset - 1)
    public = RuleVersion.objects.filter(rule=rule, notice_at__lte=at).order_by("-effective_at")
    skipped = 0
    if total is not None and start >= HISTORY_ANCHOR_SPAN:
        position = start - start % HISTORY_ANCHOR_SPAN
        anchor = _history_anchor(rule, public, total, position)
        if anchor is not None:
            # effective_at is unique per rule: the anchor's row and those after it are exactly these.
            public, skipped = public.filter(effective_at__lte=anchor), position
    ids = list(public.values_list("pk", flat=True)[start - skipped : offset + limit + 1 - skipped])
    by_id = {v.pk: v for v in RuleVersion.objects.filter(pk__in=ids).select_related("rule")}
    window = [by_id[pk] for pk in ids]
    rows: list[HistoryRow] = []
    for index in range(offset - start, min(len(window), offset - start + limit)):
        version = window[index]
        newer = window[index - 1] if index > 0 else None
        older = window[index + 1] if index + 1 < len(window) else None
        status = version.status_at(at, next_effective_at=newer.effective_at if newer else None)
        rows.append(
            HistoryRow(version=version, status=status, previous_number=older.number if older else None)
        )
    return rows


def version_status(*, version: RuleVersion, at: datetime) -> RuleVersion.Status:
    later = (
        RuleVersion.objects.filter(
            rule_id=version.rule_id, effective_at__gt=version.effective_at, notice_at__lte=at
        )
        .order_by("effective_at")
        .values_list("effective_at", flat=True)
        .first()
        if version.effective_at
        else None
    )
    return version.status_at(at, next_effective_at=later)


@dataclass(frozen=True)
class LibraryNode:
    category: RuleCategory
    rules: list[Rule]
    children: list["LibraryNode"]


def rule_library() -> list[LibraryNode]:
    """The category tree with its public rules, in two queries."""
    categories = list(RuleCategory.objects.all())
    rules_by_category: dict[int, list[Rule]] = {}
    for rule in public_rules():
        rules_by_category.setdefault(rule.category_id, []).append(rule)

    def build(parent_id: int | None) -> list[LibraryNode]:
        return [
            LibraryNode(category=c, rules=rules_by_category.get(c.pk, []), children=build(c.pk))
            for c in categories
            if c.parent_id == parent_id
        ]

    return build(None)


def bundle_versions(*, bundle_id: int) -> list[RuleVersion]:
    return list(
        RuleVersion.objects.filter(bundle_id=bundle_id).select_related("rule").order_by("rule__title")
    )


def bundle_get(*, pk: int) -> ChangeBundle | None:
    """A bundle with its versions noticed by now; None before any is (a version rescheduled later is left out)."""
    now = timezone.now()
    return (
        ChangeBundle.objects.filter(pk=pk, versions__notice_at__lte=now)
        .prefetch_related(Prefetch("versions", queryset=versions_with_rule().filter(notice_at__lte=now)))
        .distinct()
        .first()
    )


def versions_noticed_by(*, announcement_id: int) -> list[int]:
    """The ids of the versions whose notice (公示) this announcement is: empty for any other announcement."""
    events = LifecycleEvent.objects.filter(
        announcement_id=announcement_id, kind=LifecycleEvent.Kind.NOTICE, done_at__isnull=False
    )
    return list(events.values_list("version_id", flat=True))


def bundle_notice_announcement(*, bundle_id: int) -> Announcement | None:
    event = (
        LifecycleEvent.objects.filter(
            version__bundle_id=bundle_id, kind=LifecycleEvent.Kind.NOTICE, announcement__isnull=False
        )
        .select_related("announcement")
        .first()
    )
    return event.announcement if event else None


@dataclass(frozen=True)
class CalendarEntry:
    at: datetime
    kind: LifecycleEvent.Kind
    version: RuleVersion


def calendar_entries(
    *, start: datetime | None = None, end: datetime | None = None, rule: Rule | None = None,
    category: RuleCategory | None = None,
) -> list[CalendarEntry]:  # fmt: skip
    """Notices, effective dates and buffer ends of public versions, in time order."""
    versions = public_versions().select_related("rule", "rule__category")
    if rule is not None:
        versions = versions.filter(rule=rule)
    if category is not None:
        versions = versions.filter(rule__category=category)
    entries: list[CalendarEntry] = []
    for version in versions:
        for kind, at in (
            (LifecycleEvent.Kind.NOTICE, version.notice_at),
            (LifecycleEvent.Kind.EFFECTIVE, version.effective_at),
            (LifecycleEvent.Kind.BUFFER_END, version.buffer_ends_at),
        ):
            if at is None or (start and at < start) or (end and at >= end):
                continue
            entries.append(CalendarEntry(at=at, kind=kind, version=version))
    return sorted(entries, key=lambda e: (e.at, e.version.rule.title))


def category_lineage(category_id: int | None) -> list[str]:
    """The slug of a rule category and of each category above it, nearest first: a rule under 禁限售 is also
    under 市场管理. One query (the tree is small); a cycle, which the admin cannot make, ends the walk."""
    if category_id is None:
        return []
    tree = {
        pk: (slug, parent) for pk, slug, parent in RuleCategory.objects.values_list("pk", "slug", "parent_id")
    }
    lineage: list[str] = []
    current: int | None = category_id
    while current is not None and current in tree and tree[current][0] not in lineage:
        slug, current = tree[current]
        lineage.append(slug)
    return lineage


def rule_category_by_slug(slug: str) -> RuleCategory | None:
    if not _is_slug(slug, 64):
        return None
    return RuleCategory.objects.filter(slug=slug).first()


def rule_list_with_versions_in_force(*, at: datetime) -> list[tuple[Rule, int | None]]:
    """Every public rule with the number of its version in force at `at`: one query, one seek per rule."""
    now = timezone.now()
    in_force = (
        RuleVersion.objects.filter(rule=OuterRef("pk"), effective_at__lte=at, notice_at__lte=now)
        .order_by("-effective_at")
        .values("number")[:1]
    )
    rules = public_rules(now=now).select_related("category").annotate(in_force_number=Subquery(in_force))
    return [(rule, rule.in_force_number) for rule in rules]


def rule_ids_filed_under(*, category_ids: Iterable[int]) -> list[int]:
    """The rules filed under these categories or any category below them."""
    subtree = set(category_ids)
    children = set(subtree)
    while children:
        children = (
            set(RuleCategory.objects.filter(parent_id__in=children).values_list("id", flat=True)) - subtree
        )
        subtree |= children
    return list(Rule.objects.filter(category_id__in=subtree).values_list("id", flat=True))


def rules_titled(*, titles: Iterable[str]) -> dict[str, Rule]:
    """The public rules whose title is one of `titles`, by title (a name read in a text links to its rule)."""
    wanted = list(titles)
    return {rule.title: rule for rule in public_rules().filter(title__in=wanted)} if wanted else {}


def versions_with_rule() -> QuerySet[RuleVersion]:
    """Versions with their rule, by the rule's title: to prefetch beside another app's rows."""
    return RuleVersion.objects.select_related("rule").order_by("rule__title")


def versions_with_rule_and_category(*, ids: Iterable[int]) -> list[RuleVersion]:
    """These versions, each with its rule and the rule's category (for what follows a change)."""
    return list(versions_with_rule().filter(pk__in=list(ids)).select_related("rule__category").order_by("id"))


def version_by_slug_and_number(*, slug: str, number: int) -> RuleVersion | None:
    """Any version of a rule, drafts included (consultations are held on drafts, before their notice)."""
    if not _is_slug(slug, 100):
        return None
    return RuleVersion.objects.select_related("rule").filter(rule__slug=slug, number=number).first()


def bundle_by_pk(*, pk: int) -> ChangeBundle | None:
    """Any change bundle, drafts included (`bundle_get` answers only bundles with a public version)."""
    return ChangeBundle.objects.filter(pk=pk).first()


def rule_categories() -> list[RuleCategory]:
    """Every rule category, in the library's order."""
    return list(RuleCategory.objects.order_by("position", "id"))


def rule_ids() -> list[int]:
    return list(Rule.objects.order_by("id").values_list("id", flat=True))


def rules_with_scheduled_versions(*, rule_ids: Iterable[int]) -> list[tuple[Rule, list[RuleVersion]]]:
    """The rules among `rule_ids`, each with its scheduled versions by effective time: two queries."""
    wanted = set(rule_ids)
    versions: dict[int, list[RuleVersion]] = {}
    scheduled = RuleVersion.objects.filter(
        rule_id__in=wanted, notice_at__isnull=False, effective_at__isnull=False
    )
    for version in scheduled.order_by("rule_id", "effective_at"):
        versions.setdefault(version.rule_id, []).append(version)
    return [(rule, versions.get(rule.pk, [])) for rule in Rule.objects.filter(pk__in=wanted)]


EXIT_REQUESTS_SHOWN = 100


def exit_requests_of(*, user_id: int, limit: int = EXIT_REQUESTS_SHOWN) -> list[ExitRequest]:
    """A member's own exit requests, newest first, with their bundles and binding versions: two queries."""
    return list(
        ExitRequest.objects.filter(user_id=user_id)
        .select_related("bundle")
        .prefetch_related(Prefetch("binding_versions", queryset=versions_with_rule()))
        .order_by("-created_at", "-id")[:limit]
    )


def public_rule_titles(*, slugs: Iterable[str]) -> dict[str, str]:
    """The titles of the public rules among these slugs, by slug (a topic names a rule by its slug)."""
    wanted = [slug for slug in set(slugs) if _is_slug(slug, 100)]
    return dict(public_rules().filter(slug__in=wanted).values_list("slug", "title")) if wanted else {}


ACKNOWLEDGMENTS_SHOWN = 100


def acknowledgments_of(*, user_id: int, limit: int = ACKNOWLEDGMENTS_SHOWN) -> list[Acknowledgment]:
    """A member's acknowledgments, newest first, with their versions and rules."""
    return list(
        Acknowledgment.objects.filter(user_id=user_id)
        .select_related("version__rule")
        .order_by("-acknowledged_at", "-id")[:limit]
    )


def version_segments(*, ids: Iterable[int]) -> dict[int, list[Segment]]:
    """The segments each of these versions targets, by name (absent: it targets no one in particular).

    One query, whatever the number of versions.
    """
    wanted = list(ids)
    if not wanted:
        return {}
    through = RuleVersion.segments.through
    rows = (
        through._default_manager.filter(ruleversion_id__in=wanted)
        .select_related("segment")
        .order_by("segment__name", "segment_id")
    )
    found: dict[int, list[Segment]] = {}
    for row in rows:
        found.setdefault(row.ruleversion_id, []).append(row.segment)
    return found


def _concerns(segment_ids: list[int]) -> Q:
    """Versions that target no segment, or one of these: those a member in exactly these segments is asked."""
    through = RuleVersion.segments.through._default_manager
    targeted = Exists(through.filter(ruleversion_id=OuterRef("pk")))
    if not segment_ids:
        return ~Q(targeted)
    return ~Q(targeted) | Q(Exists(through.filter(ruleversion_id=OuterRef("pk"), segment_id__in=segment_ids)))


def acknowledgments_pending(
    *, user_id: int, at: datetime, limit: int = ACKNOWLEDGMENTS_SHOWN
) -> list[RuleVersion]:
    """Noticed versions that ask members to acknowledge them, not yet in force or in force for less than
    30 days, that this member has not acknowledged: soonest to take effect first.

    A version that targets segments asks only the members in one of them (at `at`). One query while none
    of those found targets any; otherwise the member's segments are read and the list read again.
    """
    through = RuleVersion.segments.through._default_manager
    candidates = (
        versions_with_rule()
        .filter(acknowledgment_required=True, notice_at__lte=at, effective_at__gt=at - timedelta(days=30))
        .exclude(acknowledgments__user_id=user_id)
        .annotate(targeted=Exists(through.filter(ruleversion_id=OuterRef("pk"))))
        .order_by("effective_at", "id")
    )
    found: list[RuleVersion] = []
    targeted = False
    for version in candidates[:limit]:
        targeted |= version.targeted
        found.append(version)
    if not targeted:
        return found  # the same list the filter below would give: it leaves out targeted versions only
    mine = account_selectors.segment_ids_of_user(user_id=user_id, at=at)
    return list(candidates.filter(_concerns(mine))[:limit])


def acknowledgment_of(*, user_id: int, version: RuleVersion) -> Acknowledgment | None:
    return Acknowledgment.objects.filter(user_id=user_id, version=version).first()


def acknowledgment_ledger(*, version: RuleVersion) -> QuerySet[Acknowledgment]:
    """Who acknowledged the version and when, in order: the change's record."""
    return (
        Acknowledgment.objects.filter(version=version)
        .select_related("user")
        .order_by("acknowledged_at", "id")
    )


def acknowledgment_count(*, version: RuleVersion) -> int:
    return Acknowledgment.objects.filter(version=version).count()


def acknowledgment_reminders_due(*, version: RuleVersion, at: datetime | None = None) -> QuerySet[User, int]:
    """The ids of members' users who have neither acknowledged the version nor been reminded of it and
    have an e-mail address, in order; of a version that targets segments, only those in one of them at
    `at` (default: now)."""
    reminded = AcknowledgmentReminder.objects.filter(version=version).values("user_id")
    due = (
        User.objects.filter(is_active=True, member__isnull=False)
        .exclude(email="")
        .exclude(acknowledgments__version=version)
        .exclude(pk__in=reminded)
    )
    targeted = list(
        RuleVersion.segments.through._default_manager.filter(ruleversion_id=version.pk).values_list(
            "segment_id", flat=True
        )
    )
    if targeted:
        due = due.filter(pk__in=account_selectors.segment_users(targeted, at=at or timezone.now()))
    return due.order_by("pk").values_list("pk", flat=True)


def version_translations(*, ids: Iterable[int]) -> dict[int, dict[str, TranslationText]]:
    """Each version's newest translation per language, for those that have one (one query). The caller
    shows only public versions: a translation is never public before its version's notice."""
    wanted = list(ids)
    if not wanted:
        return {}
    return newest_by_language(
        RuleVersionTranslation.objects.filter(version_id__in=wanted)
        .order_by("version_id", "language", "-id")
        .values_list("version_id", "language", "title", "summary", "translated_at")
    )
