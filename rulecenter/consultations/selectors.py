"""Reads of consultations. The tally is one GROUP BY over the standing votes, so it is the votes."""

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from rulecenter.accounts import selectors as account_selectors
from rulecenter.common.memo import ProcessMemo
from rulecenter.rules import selectors as rule_selectors
from rulecenter.rules.diff import ClauseDiff, VersionDiff, diff_versions
from rulecenter.rules.models import RuleVersion

from .models import Consultation, ConsultationOption, Opinion, OpinionCluster, Vote, VoteHistory
from .tally import Tally

if TYPE_CHECKING:
    from rulecenter.accounts.models import Member
    from rulecenter.announcements.models import Announcement

StatusFilter = Consultation.Status | None


def _with_relations(queryset: QuerySet[Consultation]) -> QuerySet[Consultation]:
    versions = rule_selectors.versions_with_rule()
    return queryset.select_related("result_announcement").prefetch_related(
        "options", Prefetch("versions", queryset=versions)
    )


def _status_filter(
    queryset: QuerySet[Consultation], status: StatusFilter, at: datetime
) -> QuerySet[Consultation]:
    if status == Consultation.Status.SCHEDULED:
        return queryset.filter(opens_at__gt=at)
    if status == Consultation.Status.OPEN:
        return queryset.filter(opens_at__lte=at, closes_at__gt=at)
    if status == Consultation.Status.CLOSED:
        return queryset.filter(closes_at__lte=at)
    return queryset


def public_consultations(*, at: datetime | None = None) -> QuerySet[Consultation]:
    """Consultations that have opened by `at` (default: now). A consultation shows its drafts, which are
    not public before it opens: until then neither is the consultation (its page and API answer 404)."""
    return Consultation.objects.filter(opens_at__lte=at or timezone.now())


def consultation_count(*, status: StatusFilter = None, at: datetime | None = None) -> int:
    """How many public consultations (opened by `at`) have this status."""
    at = at or timezone.now()
    return _status_filter(public_consultations(at=at), status, at).count()


def consultation_page(
    *, offset: int, limit: int, status: StatusFilter = None, at: datetime | None = None
) -> list[Consultation]:
    """Public consultations newest window first, with their options and versions: three queries."""
    at = at or timezone.now()
    queryset = _status_filter(public_consultations(at=at), status, at)
    return list(_with_relations(queryset)[offset : offset + limit])


def consultation_get(*, pk: int, at: datetime | None = None) -> Consultation | None:
    """A public consultation (opened by `at`, default now), with its options, drafts and result."""
    return _with_relations(public_consultations(at=at).filter(pk=pk)).first()


def consultation_get_any(*, pk: int) -> Consultation | None:
    """Any consultation, one not yet open included: for the editor who has just created it."""
    return _with_relations(Consultation.objects.filter(pk=pk)).first()


def consultations_holding(*, version_ids: Iterable[int]) -> list[Consultation]:
    """The consultations held on any of these versions, earliest opening first (opened or not)."""
    return list(
        Consultation.objects.filter(versions__in=list(version_ids)).distinct().order_by("opens_at", "id")
    )


VOTE_TARGET_SECONDS = 30
# In front of the shared cache, each process keeps the vote target this long (unpickling it from the cache
# cost as much as the vote's statements): an extended close reaches every process within it.
VOTE_TARGET_MEMO_SECONDS = 1.0
_vote_targets: ProcessMemo[int, Consultation] = ProcessMemo(max_entries=64)
_clock = time.monotonic


def _vote_target_key(pk: int) -> str:
    return f"consultations:vote-target:{pk}"


def consultation_for_vote(*, pk: int) -> Consultation | None:
    """What casting a vote needs — the window and the options — from the cache while the window is open.

    Voting is the hot path (a rule change can bring a rush of votes) and these two queries were a third of
    a vote's cost. Serving them from the cache is safe because an open consultation changes only in ways a
    stale copy turns into a refusal, never into a wrong acceptance: options and opening time are frozen once
    it opens, and its close can only be moved later (services.consultation_update, which also drops the
    entry). A scheduled consultation is never cached: its opening may still move.

    Each process also keeps the copy it read for VOTE_TARGET_MEMO_SECONDS, shared by its requests, which
    only read it.
    """
    now = _clock()
    consultation = _vote_targets.get(pk, now=now)
    if consultation is not None:
        return consultation
    key = _vote_target_key(pk)
    consultation = cache.get(key)
    if consultation is None:
        consultation = Consultation.objects.filter(pk=pk).prefetch_related("options").first()
        if consultation is None or consultation.opens_at > timezone.now():
            return consultation
        cache.set(key, consultation, timeout=VOTE_TARGET_SECONDS)
    return _vote_targets.put(pk, consultation, until=now + VOTE_TARGET_MEMO_SECONDS)


def forget_vote_target(*, pk: int) -> None:
    """Drop the kept vote target: here at once, in other processes within VOTE_TARGET_MEMO_SECONDS."""
    _vote_targets.forget()
    cache.delete(_vote_target_key(pk))


def options_of(consultation: Consultation) -> list[ConsultationOption]:
    return list(consultation.options.all())


def options_by_key(consultation: Consultation) -> dict[str, ConsultationOption]:
    """The options by key, worked out once per consultation object: a vote looks them up twice, and the
    vote target (`consultation_for_vote`) is one object shared by a process's votes for a second. Options
    are frozen once a consultation opens, and an object read before never outlives its request."""
    kept: dict[str, ConsultationOption] | None = consultation.__dict__.get("_options_by_key")
    if kept is None:
        kept = consultation.__dict__["_options_by_key"] = {o.key: o for o in consultation.options.all()}
    return kept


def tally_visible(*, consultation: Consultation, at: datetime) -> bool:
    """The live tally is public unless the setting hides it until the window has closed."""
    hidden = settings.RULECENTER_CONSULTATION_TALLY_HIDDEN_UNTIL_CLOSE
    return not hidden or consultation.status_at(at) == Consultation.Status.CLOSED


def consultation_tally(*, consultation: Consultation) -> Tally:
    """Standing votes per option, every option listed (zero included): one aggregate query."""
    options = options_of(consultation)
    counted = dict(
        Vote.objects.filter(consultation=consultation)
        .values_list("choice")
        .annotate(votes=Count("id"))
        .order_by()
        .values_list("choice", "votes")
    )
    counts = {option.key: counted.pop(option.key, 0) for option in options}
    counts.update(sorted(counted.items()))  # a choice no option offers any more still counts
    return Tally(counts=counts, labels={option.key: option.label for option in options})


def member_vote(*, consultation: Consultation, member: "Member") -> Vote | None:
    return Vote.objects.filter(consultation=consultation, member=member).first()


MEMBER_VOTES_SHOWN = 100


@dataclass(frozen=True)
class MemberVoteRow:
    """One of a member's standing votes, as their own page lists it."""

    consultation: Consultation
    choice: str
    label: str  # the option's label; the key itself for a choice no option offers any more
    voted_at: datetime  # the last time the member voted (a re-vote replaces the vote)
    status: Consultation.Status  # at the instant asked: a vote can still be changed while it is open


def member_votes_of(
    *, user_id: int, at: datetime | None = None, limit: int = MEMBER_VOTES_SHOWN
) -> list[MemberVoteRow]:
    """The standing votes of the member behind this user, last cast first, at most `limit`: two queries."""
    at = at or timezone.now()
    votes = (
        Vote.objects.filter(member__user_id=user_id)
        .select_related("consultation")
        .prefetch_related("consultation__options")
        .order_by("-updated_at", "-id")[:limit]
    )
    rows = []
    for vote in votes:
        option = options_by_key(vote.consultation).get(vote.choice)
        rows.append(
            MemberVoteRow(
                consultation=vote.consultation,
                choice=vote.choice,
                label=option.label if option is not None else vote.choice,
                voted_at=vote.updated_at,
                status=vote.consultation.status_at(at),
            )
        )
    return rows


def eligibility_cutoff(at: datetime) -> date:
    """Members who joined on or before this date are old enough to vote at `at`."""
    days = settings.RULECENTER_CONSULTATION_MIN_MEMBERSHIP_DAYS
    return timezone.localdate(at) - timedelta(days=days)


def eligible_member_count(*, at: datetime) -> int:
    return account_selectors.member_verified_count(joined_on_or_before=eligibility_cutoff(at))


@dataclass(frozen=True)
class DraftDiff:
    """One draft version of a consultation and what it changes against the version then in force."""

    version: RuleVersion
    base: RuleVersion | None
    diff: VersionDiff | None

    @property
    def changes(self) -> list[ClauseDiff]:
        """The clauses the draft adds, removes, changes or moves: what the page and the API list."""
        return [clause for clause in (self.diff.clauses if self.diff else ()) if clause.status != "unchanged"]


def draft_diffs(*, consultation: Consultation) -> list[DraftDiff]:
    """Each draft beside the version in force when the consultation opened (the text it would replace)."""
    found: list[DraftDiff] = []
    for version in consultation.versions.all():
        base = rule_selectors.version_in_force(rule=version.rule, at=consultation.opens_at)
        if base is not None and base.pk == version.pk:
            base = None
        found.append(
            DraftDiff(
                version=version, base=base, diff=diff_versions(base.text, version.text) if base else None
            )
        )
    return found


@dataclass(frozen=True)
class ClusterRow:
    """A group of near-duplicate opinions as the public and the report see it (no identities)."""

    pk: int
    text: str
    size: int
    valid: int
    response: str


@dataclass(frozen=True)
class Ledger:
    """Everything public about a consultation's outcome: votes, turnout, opinions, answered clusters."""

    consultation: Consultation
    tally: Tally
    submissions: int
    eligible: int
    opinions: int
    valid: int
    invalid: int
    pending: int
    invalid_by_code: dict[str, int]
    clusters: list[ClusterRow]

    @property
    def turnout_percent(self) -> float | None:
        return round(100 * self.tally.total / self.eligible, 1) if self.eligible else None

    @property
    def revotes(self) -> int:
        return max(0, self.submissions - self.tally.total)


def consultation_ledger(*, consultation: Consultation, tally: Tally | None = None) -> Ledger:
    """The public ledger: the tally, how opinions were judged, and each cluster holding a valid opinion.

    `tally` is the consultation's tally when the caller has just counted it (it is not counted again).
    """
    verdicts = dict(
        Opinion.objects.filter(consultation=consultation)
        .values_list("verdict")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("verdict", "n")
    )
    invalid_by_code = dict(
        Opinion.objects.filter(consultation=consultation, verdict=Opinion.Verdict.INVALID)
        .values_list("code")
        .annotate(n=Count("id"))
        .order_by("code")
        .values_list("code", "n")
    )
    clusters = (
        OpinionCluster.objects.filter(consultation=consultation)
        .annotate(valid=Count("opinions", filter=Q(opinions__verdict=Opinion.Verdict.VALID)))
        .filter(valid__gt=0)
        .select_related("representative")
        .order_by("-valid", "-size", "id")
    )
    return Ledger(
        consultation=consultation,
        tally=tally if tally is not None else consultation_tally(consultation=consultation),
        submissions=VoteHistory.objects.filter(consultation=consultation).count(),
        eligible=eligible_member_count(at=consultation.closes_at),
        opinions=sum(verdicts.values()),
        valid=verdicts.get(Opinion.Verdict.VALID, 0),
        invalid=verdicts.get(Opinion.Verdict.INVALID, 0),
        pending=verdicts.get(Opinion.Verdict.PENDING, 0),
        invalid_by_code=invalid_by_code,
        clusters=[
            ClusterRow(
                pk=cluster.pk,
                text=cluster.representative.text if cluster.representative else "",
                size=cluster.size,
                valid=cluster.valid,
                response=cluster.response,
            )
            for cluster in clusters
        ],
    )


def due_for_result(*, at: datetime) -> QuerySet[Consultation]:
    """Closed consultations whose 结果反馈 has not been drafted yet."""
    return Consultation.objects.filter(closes_at__lte=at, result_drafted_at__isnull=True).order_by(
        "closes_at"
    )


@dataclass(frozen=True)
class ConsultationDetail:
    """One consultation as its page and the API show it at one instant, assembled once for both."""

    consultation: Consultation
    at: datetime
    status: Consultation.Status
    options: list[ConsultationOption]
    drafts: list[DraftDiff]
    tally: Tally | None  # None while RULECENTER_CONSULTATION_TALLY_HIDDEN_UNTIL_CLOSE hides it
    ledger: Ledger | None  # once the window has closed
    result: "Announcement | None"  # the 结果反馈, once published


def consultation_detail(*, consultation: Consultation, at: datetime | None = None) -> ConsultationDetail:
    """The drafts beside the versions they would replace, the options, the tally and, once closed, the ledger.

    `consultation` comes from `consultation_get` (its options, versions and result already read).
    """
    at = at or timezone.now()
    status = consultation.status_at(at)
    tally = (
        consultation_tally(consultation=consultation)
        if tally_visible(consultation=consultation, at=at)
        else None
    )
    closed = status == Consultation.Status.CLOSED
    result = consultation.result_announcement
    return ConsultationDetail(
        consultation=consultation,
        at=at,
        status=status,
        options=options_of(consultation),
        drafts=draft_diffs(consultation=consultation),
        tally=tally,
        ledger=consultation_ledger(consultation=consultation, tally=tally) if closed else None,
        result=result if result is not None and result.is_published else None,
    )


def consultation_with_result(*, announcement_id: int) -> Consultation | None:
    """The consultation whose result report this announcement is, with its drafts' rules."""
    return _with_relations(Consultation.objects.filter(result_announcement_id=announcement_id)).first()
