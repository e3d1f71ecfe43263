"""Writes to consultations: the window, votes, opinion review and the result report. One transaction each."""

import logging
import re
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Literal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone
from django.utils.translation import gettext as _

from rulecenter.accounts.models import Member
from rulecenter.announcements import selectors as announcement_selectors
from rulecenter.announcements import services as announcement_services
from rulecenter.announcements.models import Announcement, Category
from rulecenter.rules import selectors as rule_selectors
from rulecenter.rules.models import ChangeBundle, RuleVersion

from . import selectors
from .models import Consultation, ConsultationOption, Opinion, OpinionCluster, Vote, VoteHistory
from .report import result_report
from .similarity import near_duplicate_groups, representative
from .text import plain_text

logger = logging.getLogger(__name__)

CONSULTATION_TITLE_EMPTY = "标题不能为空。"
WINDOW_TOO_SHORT = "意见征集期不足：至少需要 {days} 日。按开始时间 {opens_at}，最早可于 {earliest} 截止。"
OPENS_IN_PAST = "开始时间不能早于当前时间（{now}）。"
VERSIONS_EMPTY = "意见征集至少要针对一个规则版本（草案）。"
VERSION_ALREADY_NOTICED = (
    "《{rule}》第 {number} 版已于 {notice_at} 公示，不能再就它征集意见；如需修改，请新建版本。"
)
VERSION_NOTICE_BEFORE_CLOSE = "《{rule}》第 {number} 版排定于 {notice_at} 公示，意见征集必须在公示之前结束。"
VERSION_SAME_RULE = "同一意见征集中每条规则只能有一个草案：《{rule}》出现了多次。"
VERSION_NOT_IN_BUNDLE = "《{rule}》第 {number} 版不属于所选的变更包。"
OPTIONS_TOO_FEW = "至少需要两个投票选项。"
OPTIONS_TOO_MANY = "投票选项最多 {limit} 个。"
OPTION_KEY_INVALID = "选项标识“{key}”无效：只能用小写字母、数字和下划线，以字母开头，最多 32 个字符。"
OPTION_LABEL_INVALID = "选项“{key}”的名称须为 1 到 32 个字符。"
OPTION_DUPLICATE = "选项“{value}”重复。"
WINDOW_LOCKED = "意见征集已于 {opens_at} 开始：征集期只能推迟截止时间，选项和规则版本不能再改。"
WINDOW_CLOSED = "意见征集已于 {closes_at} 截止，征集期不能再修改。"
CLOSES_EARLIER = "征集开始后截止时间只能推迟，不能提前（当前截止时间 {closes_at}）。"

VOTE_ANONYMOUS = "请先登录会员账户再投票。"
VOTE_NOT_MEMBER = "只有平台会员（商家）可以投票：当前账户没有会员资料。"
VOTE_NOT_VERIFIED = "只有已认证的会员可以投票，请先完成会员认证。"
VOTE_TOO_NEW = "入驻满 {days} 日的会员才可以投票：您的入驻日期为 {joined_on}，自 {eligible_on} 起可以投票。"
VOTE_NOT_OPEN = "意见征集尚未开始，将于 {opens_at} 开始，届时才能投票。"
VOTE_CLOSED = "意见征集已于 {closes_at} 截止，不再接受投票。"
VOTE_CHOICE_UNKNOWN = "选项“{choice}”不存在；可选：{choices}。"
VOTE_REASON_REQUIRED = "选择“{label}”须填写理由。"
VOTE_REASON_TOO_LONG = "理由最多 {limit} 个字，当前为 {length} 个字。"

REVIEW_CODE_MISMATCH = "理由代码“{code}”不能用于“{verdict}”的结论。"
RESULT_NOT_CLOSED = "意见征集将于 {closes_at} 截止，截止后才能起草结果反馈。"
RESULT_ALREADY_PUBLISHED = "结果反馈“{title}”已发布，不能再重新生成；如需更正，请撤回后再生成。"

MAX_OPTIONS = 10
_OPTION_KEY = re.compile(r"[a-z][a-z0-9_]{0,31}")


@dataclass(frozen=True, slots=True)
class OptionSpec:
    key: str
    label: str
    requires_reason: bool = False


DEFAULT_OPTIONS = (OptionSpec("support", "支持"), OptionSpec("reevaluate", "可再评估", requires_reason=True))


def _local(at: datetime) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M")


# The window -------------------------------------------------------------------------------------------


def check_window(*, opens_at: datetime, closes_at: datetime) -> None:
    """Refuse a window shorter than the minimum (RULECENTER_CONSULTATION_MIN_DAYS)."""
    days = settings.RULECENTER_CONSULTATION_MIN_DAYS
    earliest = opens_at + timedelta(days=days)
    if closes_at < earliest:
        message = _(WINDOW_TOO_SHORT).format(days=days, opens_at=_local(opens_at), earliest=_local(earliest))
        raise ValidationError({"closes_at": message})


def _check_versions(versions: Sequence[RuleVersion], *, closes_at: datetime, record_past: bool) -> None:
    if not versions:
        raise ValidationError({"versions": _(VERSIONS_EMPTY)})
    now = timezone.now()
    seen: set[int] = set()
    for version in versions:
        if version.rule_id in seen:
            raise ValidationError({"versions": _(VERSION_SAME_RULE).format(rule=version.rule.title)})
        seen.add(version.rule_id)
        if version.notice_at is None:
            continue
        facts = {"rule": version.rule.title, "number": version.number, "notice_at": _local(version.notice_at)}
        if not record_past and version.notice_at <= now:
            raise ValidationError({"versions": _(VERSION_ALREADY_NOTICED).format(**facts)})
        if version.notice_at < closes_at:
            raise ValidationError({"versions": _(VERSION_NOTICE_BEFORE_CLOSE).format(**facts)})


def _check_options(options: Sequence[OptionSpec]) -> None:
    if len(options) < 2:
        raise ValidationError({"options": _(OPTIONS_TOO_FEW)})
    if len(options) > MAX_OPTIONS:
        raise ValidationError({"options": _(OPTIONS_TOO_MANY).format(limit=MAX_OPTIONS)})
    keys: set[str] = set()
    labels: set[str] = set()
    for option in options:
        if not _OPTION_KEY.fullmatch(option.key):
            raise ValidationError({"options": _(OPTION_KEY_INVALID).format(key=option.key[:40])})
        if not 1 <= len(option.label.strip()) <= 32:
            raise ValidationError({"options": _(OPTION_LABEL_INVALID).format(key=option.key)})
        for value, seen in ((option.key, keys), (option.label.strip(), labels)):
            if value in seen:
                raise ValidationError({"options": _(OPTION_DUPLICATE).format(value=value)})
            seen.add(value)


def _enqueue_result(closes_at: datetime) -> None:
    """Ask the worker to draft the result report when the window closes (after this transaction commits)."""
    from .tasks import draft_due_results

    transaction.on_commit(lambda: draft_due_results.using(run_after=closes_at).enqueue())


@transaction.atomic
def consultation_create(
    *,
    title: str,
    opens_at: datetime,
    closes_at: datetime,
    versions: Sequence[RuleVersion] = (),
    bundle: ChangeBundle | None = None,
    explanation: str = "",
    options: Sequence[OptionSpec] = DEFAULT_OPTIONS,
    created_by: User | None = None,
    record_past: bool = False,
) -> Consultation:
    """Open a consultation on draft versions (or a bundle's) for a window of at least the minimum length.

    `record_past` records a consultation held before it reached this system (imports, demo data): its
    window may lie in the past and its versions may have been noticed since.
    """
    if not title.strip():
        raise ValidationError({"title": _(CONSULTATION_TITLE_EMPTY)})
    now = timezone.now()
    if not record_past and opens_at < now - timedelta(minutes=1):
        raise ValidationError({"opens_at": _(OPENS_IN_PAST).format(now=_local(now))})
    check_window(opens_at=opens_at, closes_at=closes_at)
    chosen = list(versions)
    if bundle is not None:
        in_bundle = rule_selectors.bundle_versions(bundle_id=bundle.pk)
        bundle_ids = {version.pk for version in in_bundle}
        for version in chosen:
            if version.pk not in bundle_ids:
                raise ValidationError(
                    {
                        "versions": _(VERSION_NOT_IN_BUNDLE).format(
                            rule=version.rule.title, number=version.number
                        )
                    }
                )
        chosen = chosen or in_bundle
    _check_versions(chosen, closes_at=closes_at, record_past=record_past)
    _check_options(options)
    consultation = Consultation(
        title=title.strip(),
        explanation=explanation.strip(),
        bundle=bundle,
        opens_at=opens_at,
        closes_at=closes_at,
        created_by=created_by,
    )
    consultation.full_clean()
    consultation.save()
    consultation.versions.set(chosen)
    ConsultationOption.objects.bulk_create(
        ConsultationOption(
            consultation=consultation,
            key=option.key,
            label=option.label.strip(),
            requires_reason=option.requires_reason,
            position=position,
        )
        for position, option in enumerate(options)
    )
    _enqueue_result(closes_at)
    return consultation


@transaction.atomic
def consultation_update(
    *, consultation: Consultation, title: str, explanation: str, opens_at: datetime, closes_at: datetime
) -> Consultation:
    """Edit a consultation. Once open, its window can only be extended (never shortened or moved)."""
    stored = Consultation.objects.select_for_update().get(pk=consultation.pk)
    now = timezone.now()
    if stored.closes_at <= now and (opens_at, closes_at) != (stored.opens_at, stored.closes_at):
        raise ValidationError({"closes_at": _(WINDOW_CLOSED).format(closes_at=_local(stored.closes_at))})
    if stored.opens_at <= now:
        if opens_at != stored.opens_at:
            raise ValidationError({"opens_at": _(WINDOW_LOCKED).format(opens_at=_local(stored.opens_at))})
        if closes_at < stored.closes_at:
            raise ValidationError({"closes_at": _(CLOSES_EARLIER).format(closes_at=_local(stored.closes_at))})
    elif opens_at < now - timedelta(minutes=1):
        raise ValidationError({"opens_at": _(OPENS_IN_PAST).format(now=_local(now))})
    if not title.strip():
        raise ValidationError({"title": _(CONSULTATION_TITLE_EMPTY)})
    check_window(opens_at=opens_at, closes_at=closes_at)
    _check_versions(list(stored.versions.select_related("rule")), closes_at=closes_at, record_past=True)
    moved = closes_at != stored.closes_at
    stored.title, stored.explanation = title.strip(), explanation.strip()
    stored.opens_at, stored.closes_at = opens_at, closes_at
    stored.full_clean()
    stored.save()
    if moved:
        _enqueue_result(closes_at)
    transaction.on_commit(lambda: selectors.forget_vote_target(pk=stored.pk))
    return stored


def options_editable(*, consultation: Consultation, at: datetime | None = None) -> bool:
    """Options and versions can change only before the window opens: a vote's meaning never changes."""
    return consultation.status_at(at or timezone.now()) == Consultation.Status.SCHEDULED


# Votes --------------------------------------------------------------------------------------------------


RefusalKind = Literal["anonymous", "ineligible", "not_open", "closed"]


@dataclass(frozen=True, slots=True)
class CastVote:
    """A vote as just recorded: it is now the member's standing vote."""

    consultation_id: int
    choice: str
    reason: str
    submitted_at: datetime


class VoteRefused(ValidationError):
    """A vote refused for who cast it or when, not for what it says; nothing was stored."""

    def __init__(self, message: str, *, kind: RefusalKind) -> None:
        super().__init__(message, code=kind)
        self.kind: RefusalKind = kind


def eligible_member(*, user: AbstractBaseUser | AnonymousUser, at: datetime) -> Member:
    """The member behind `user` if they may vote at `at`; otherwise VoteRefused saying why."""
    if not user.is_authenticated:
        raise VoteRefused(_(VOTE_ANONYMOUS), kind="anonymous")
    try:
        member: Member = user.member  # type: ignore[attr-defined]
    except ObjectDoesNotExist:
        raise VoteRefused(_(VOTE_NOT_MEMBER), kind="ineligible") from None
    if not member.verified:
        raise VoteRefused(_(VOTE_NOT_VERIFIED), kind="ineligible")
    cutoff = selectors.eligibility_cutoff(at)
    if member.joined_on > cutoff:
        days = settings.RULECENTER_CONSULTATION_MIN_MEMBERSHIP_DAYS
        eligible_on = member.joined_on + timedelta(days=days)
        raise VoteRefused(
            _(VOTE_TOO_NEW).format(days=days, joined_on=member.joined_on, eligible_on=eligible_on),
            kind="ineligible",
        )
    return member


def _check_open(consultation: Consultation, at: datetime) -> None:
    status = consultation.status_at(at)
    if status == Consultation.Status.SCHEDULED:
        raise VoteRefused(_(VOTE_NOT_OPEN).format(opens_at=_local(consultation.opens_at)), kind="not_open")
    if status == Consultation.Status.CLOSED:
        raise VoteRefused(_(VOTE_CLOSED).format(closes_at=_local(consultation.closes_at)), kind="closed")


def vote_cast(
    *, consultation: Consultation, user: AbstractBaseUser | AnonymousUser, choice: str, reason: str = ""
) -> CastVote:
    """Record `user`'s vote, replacing their earlier one; every submission is kept in VoteHistory.

    The window, the option and the reason are checked first. The write is one short transaction of two
    statements: the member's standing vote, INSERT … SELECT from the member's row … ON CONFLICT
    (consultation, member) DO UPDATE, and the history INSERT. The SELECT admits the member only if verified
    and old enough at that instant, so eligibility is judged by the database in the same statement that
    writes; concurrent votes — even two of one member's — never leave two standing rows, and the tally (a
    GROUP BY over them) is always exact. The transaction holds SQLite's write lock, so it does nothing else.
    """
    now = timezone.now()
    if not user.is_authenticated:
        raise VoteRefused(_(VOTE_ANONYMOUS), kind="anonymous")
    _check_open(consultation, now)
    options = {option.key: option for option in selectors.options_of(consultation)}
    option = options.get(choice)
    if option is None:
        choices = "、".join(f"{o.key}（{o.label}）" for o in options.values())
        message = _(VOTE_CHOICE_UNKNOWN).format(choice=choice[:40], choices=choices)
        raise ValidationError({"choice": ValidationError(message, code="choice_unknown")})
    text = plain_text(reason)
    if option.requires_reason and not text:
        message = _(VOTE_REASON_REQUIRED).format(label=option.label)
        raise ValidationError({"reason": ValidationError(message, code="reason_required")})
    limit = settings.RULECENTER_CONSULTATION_REASON_MAX_CHARS
    if len(text) > limit:
        message = _(VOTE_REASON_TOO_LONG).format(limit=limit, length=len(text))
        raise ValidationError({"reason": ValidationError(message, code="reason_too_long")})
    # Every field is validated above and the database enforces the keys and the one-vote constraint;
    # full_clean() and the ORM's query compilation would cost more than the writes themselves.
    with _one_writer(), transaction.atomic():
        now = timezone.now()
        _check_open(consultation, now)  # the window may have closed while the checks ran
        stamp = connection.ops.adapt_datetimefield_value(now)
        cutoff = connection.ops.adapt_datefield_value(selectors.eligibility_cutoff(now))
        upsert, record = _vote_statements(connection.vendor)
        with connection.cursor() as cursor:
            cursor.execute(upsert, [consultation.pk, choice, text, stamp, stamp, user.pk, cutoff])
            if cursor.rowcount != 1:
                eligible_member(user=user, at=now)  # raises, saying why the member may not vote
                raise VoteRefused(_(VOTE_NOT_MEMBER), kind="ineligible")
            cursor.execute(record, [consultation.pk, choice, text, stamp, user.pk])
    return CastVote(consultation_id=consultation.pk, choice=choice, reason=text, submitted_at=now)


# SQLite lets one connection write at a time, and a connection waiting for the lock polls with sleeps of up
# to 100 ms (its busy handler). Within one server process, writers queue on this lock instead and each is
# woken the moment the previous one commits; across processes SQLite's own lock still decides.
_sqlite_writer = threading.Lock()


@contextmanager
def _one_writer() -> Iterator[None]:
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        # An enclosing transaction may already hold SQLite's lock: waiting here could deadlock.
        yield
        return
    with _sqlite_writer:
        yield


@lru_cache(maxsize=4)
def _vote_statements(vendor: str) -> tuple[str, str]:
    """The standing vote's upsert and the history insert, as SQL written once (the same on both databases).

    Parameters: consultation, choice, reason, cast_at, updated_at, user, cutoff (the latest joining date
    that may vote); then consultation, choice, reason, cast_at, user. The upsert is what `Vote.objects.
    bulk_create([vote], update_conflicts=True, unique_fields=["consultation", "member"], update_fields=[
    "choice", "reason", "updated_at"])` sends, with the member read in the same statement; compiling those
    queries on every vote cost more than the writes (docs/consultations.md#performance). A re-vote keeps
    its first `cast_at`.
    """
    q = connection.ops.quote_name

    def column(name: str) -> str:
        field = Member._meta.get_field(name)
        assert isinstance(field, Field)
        assert field.column
        return q(field.column)

    columns = ["consultation_id", "member_id", "choice", "reason", "cast_at", "updated_at"]
    replaced = ", ".join(f"{q(c)} = EXCLUDED.{q(c)}" for c in ("choice", "reason", "updated_at"))
    eligible = f"FROM {q(Member._meta.db_table)} WHERE {column('user')} = %s AND {column('verified')}"
    # Identifiers come from the models and are quoted; every value is a query parameter.
    upsert = (
        f"INSERT INTO {q(Vote._meta.db_table)} ({', '.join(map(q, columns))}) "
        f"SELECT %s, {column('id')}, %s, %s, %s, %s {eligible} AND {column('joined_on')} <= %s "
        f"ON CONFLICT ({q('consultation_id')}, {q('member_id')}) DO UPDATE SET {replaced}"
    )
    record = (
        f"INSERT INTO {q(VoteHistory._meta.db_table)} ({', '.join(map(q, columns[:5]))}) "
        f"SELECT %s, {column('id')}, %s, %s, %s {eligible}"
    )
    return upsert, record


# Opinions ---------------------------------------------------------------------------------------------


@transaction.atomic
def opinions_collect(*, consultation: Consultation) -> int:
    """Bring the opinions in line with the standing votes' reasons; returns how many opinions there are.

    A new reason becomes a pending opinion; a reason changed by a re-vote goes back to pending (its review
    was of other words); a reason withdrawn removes its opinion.
    """
    existing = {opinion.vote_id: opinion for opinion in Opinion.objects.filter(consultation=consultation)}
    created: list[Opinion] = []
    changed: list[Opinion] = []
    count = 0
    for vote_id, choice, reason in (
        Vote.objects.filter(consultation=consultation)
        .exclude(reason="")
        .values_list("id", "choice", "reason")
    ):
        count += 1
        opinion = existing.pop(vote_id, None)
        if opinion is None:
            created.append(Opinion(consultation=consultation, vote_id=vote_id, choice=choice, text=reason))
        elif opinion.text != reason or opinion.choice != choice:
            if opinion.text != reason:
                opinion.text, opinion.cluster = reason, None
                opinion.verdict, opinion.code = Opinion.Verdict.PENDING, ""
                opinion.reviewed_by, opinion.reviewed_at = None, None
            opinion.choice = choice
            changed.append(opinion)
    Opinion.objects.bulk_create(created, batch_size=500)
    Opinion.objects.bulk_update(
        changed,
        ["text", "choice", "cluster", "verdict", "code", "reviewed_by", "reviewed_at"],
        batch_size=500,
    )
    Opinion.objects.filter(pk__in=[opinion.pk for opinion in existing.values()]).delete()
    return count


@transaction.atomic
def opinions_cluster(*, consultation: Consultation) -> list[OpinionCluster]:
    """Group near-duplicate opinions; a group keeps the cluster (and its response) most of it was in."""
    opinions = list(Opinion.objects.filter(consultation=consultation).order_by("id"))
    texts = [opinion.text for opinion in opinions]
    threshold = settings.RULECENTER_CONSULTATION_DUPLICATE_SIMILARITY / 100
    old = {cluster.pk: cluster for cluster in OpinionCluster.objects.filter(consultation=consultation)}
    claimed: set[int] = set()
    fresh: list[OpinionCluster] = []
    kept: list[OpinionCluster] = []
    members_of: list[tuple[OpinionCluster, list[Opinion]]] = []
    for group in near_duplicate_groups(texts, threshold=threshold):
        members = [opinions[index] for index in group]
        previous = Counter(
            opinion.cluster_id
            for opinion in members
            if opinion.cluster_id in old and opinion.cluster_id not in claimed
        ).most_common(1)
        rep = opinions[representative(texts, group)]
        if previous:
            cluster = old[previous[0][0]]
            claimed.add(cluster.pk)
            cluster.representative, cluster.size = rep, len(members)
            kept.append(cluster)
        else:
            cluster = OpinionCluster(consultation=consultation, representative=rep, size=len(members))
            fresh.append(cluster)
        members_of.append((cluster, members))
    OpinionCluster.objects.bulk_create(fresh, batch_size=500)
    OpinionCluster.objects.bulk_update(kept, ["representative", "size"], batch_size=500)
    regrouped: list[Opinion] = []
    for cluster, members in members_of:
        for opinion in members:
            if opinion.cluster_id != cluster.pk:
                opinion.cluster = cluster
                regrouped.append(opinion)
    Opinion.objects.bulk_update(regrouped, ["cluster"], batch_size=500)
    OpinionCluster.objects.filter(consultation=consultation).exclude(
        pk__in=claimed | {c.pk for c in fresh}
    ).delete()
    return [cluster for cluster, _members in members_of]


def check_review_code(verdict: str, code: str) -> None:
    """A verdict needs a code of its kind (有效：… or 无效：…); pending needs none."""
    allowed = {
        Opinion.Verdict.VALID: Opinion.VALID_CODES,
        Opinion.Verdict.INVALID: Opinion.INVALID_CODES,
        Opinion.Verdict.PENDING: (),
    }.get(Opinion.Verdict(verdict), ())
    if (verdict == Opinion.Verdict.PENDING and code) or (
        verdict != Opinion.Verdict.PENDING and code not in allowed
    ):
        raise ValidationError(
            {"code": _(REVIEW_CODE_MISMATCH).format(code=code or "-", verdict=Opinion.Verdict(verdict).label)}
        )


@transaction.atomic
def opinion_review(*, opinion: Opinion, verdict: str, code: str, reviewer: User | None) -> Opinion:
    """Mark one opinion valid or invalid with a reason code (or back to pending, without one)."""
    check_review_code(verdict, code)
    stored = Opinion.objects.select_for_update().get(pk=opinion.pk)
    stored.verdict, stored.code = verdict, code
    pending = verdict == Opinion.Verdict.PENDING
    stored.reviewed_by, stored.reviewed_at = (None, None) if pending else (reviewer, timezone.now())
    stored.full_clean()
    stored.save(update_fields=["verdict", "code", "reviewed_by", "reviewed_at"])
    return stored


@transaction.atomic
def cluster_review(*, cluster: OpinionCluster, verdict: str, code: str, reviewer: User | None) -> int:
    """Give every opinion of a cluster the same verdict (a form letter is judged once); returns how many."""
    check_review_code(verdict, code)
    pending = verdict == Opinion.Verdict.PENDING
    return Opinion.objects.filter(cluster=cluster).update(
        verdict=verdict,
        code=code,
        reviewed_by=None if pending else reviewer,
        reviewed_at=None if pending else timezone.now(),
    )


@transaction.atomic
def cluster_respond(*, cluster: OpinionCluster, response: str, responder: User | None) -> OpinionCluster:
    """The platform's one answer to a cluster of opinions, as the result report will print it."""
    stored = OpinionCluster.objects.select_for_update().get(pk=cluster.pk)
    stored.response = plain_text(response)
    stored.responded_by = responder if stored.response else None
    stored.responded_at = timezone.now() if stored.response else None
    stored.full_clean()
    stored.save(update_fields=["response", "responded_by", "responded_at"])
    return stored


# The result report --------------------------------------------------------------------------------------


def _news_category() -> Category:
    slug = settings.RULECENTER_CONSULTATION_NEWS_CATEGORY
    category = announcement_selectors.category_by_slug(slug)
    return category or announcement_services.category_ensure(slug=slug, name=_("意见征集"))


@transaction.atomic
def consultation_result_draft(*, consultation: Consultation, now: datetime | None = None) -> Announcement:
    """Write the 结果反馈 from the ledger as a draft announcement for an editor to publish.

    Run again after opinions were reviewed and answered, it rewrites the same draft; a published report is
    never rewritten.
    """
    now = now or timezone.now()
    stored = Consultation.objects.select_for_update().get(pk=consultation.pk)
    if stored.closes_at > now:
        raise ValidationError(_(RESULT_NOT_CLOSED).format(closes_at=_local(stored.closes_at)))
    versions = list(stored.versions.select_related("rule").order_by("rule__title"))
    report = result_report(
        ledger=selectors.consultation_ledger(consultation=stored),
        versions=versions,
        options=selectors.options_of(stored),
        site_url=settings.RULECENTER_SITE_URL,
    )
    announcement = stored.result_announcement
    if announcement is not None and announcement.is_published:
        raise ValidationError(_(RESULT_ALREADY_PUBLISHED).format(title=announcement.title))
    if announcement is None:
        announcement = announcement_services.announcement_create(
            title=report.title,
            body=report.body,
            kind=Announcement.Kind.CONSULTATION_RESULT,
            category=_news_category(),
            status=Announcement.Status.DRAFT,
        )
    else:
        announcement.title, announcement.body = report.title, report.body
        announcement = announcement_services.announcement_save(announcement=announcement)
    stored.result_announcement, stored.result_drafted_at = announcement, now
    stored.save(update_fields=["result_announcement", "result_drafted_at"])
    return announcement


@transaction.atomic
def consultation_close(*, consultation: Consultation, now: datetime | None = None) -> Announcement:
    """What happens when a window closes: collect and group the opinions, then draft the report."""
    opinions_collect(consultation=consultation)
    opinions_cluster(consultation=consultation)
    announcement = consultation_result_draft(consultation=consultation, now=now)
    pending = Opinion.objects.filter(consultation=consultation, verdict=Opinion.Verdict.PENDING).count()
    if pending:
        logger.info("consultation %s closed: %s opinions await review", consultation.pk, pending)
    return announcement


@transaction.atomic
def consultation_results_run_due(*, now: datetime | None = None) -> list[Consultation]:
    """Close every consultation whose window has ended and has no report yet; safe to run any number of times."""
    now = now or timezone.now()
    due = list(selectors.due_for_result(at=now).select_for_update())
    for consultation in due:
        consultation.result_announcement = consultation_close(consultation=consultation, now=now)
        consultation.result_drafted_at = now
        late = now - consultation.closes_at
        if late > timedelta(seconds=settings.RULECENTER_LIFECYCLE_GRACE_SECONDS):
            logger.warning("consultation %s result drafted late (%s after close)", consultation.pk, late)
    return due
