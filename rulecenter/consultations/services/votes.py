"""Votes: who may vote and when, and the vote itself — one short transaction of two statements."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from rulecenter.accounts import selectors as account_selectors
from rulecenter.common.text import local_minute

from .. import selectors
from ..models import Consultation, Vote, VoteHistory
from ..text import plain_text

if TYPE_CHECKING:
    from rulecenter.accounts.models import Member

VOTE_ANONYMOUS = "请先登录会员账户再投票。"
VOTE_NOT_MEMBER = "只有平台会员（商家）可以投票：当前账户没有会员资料。"
VOTE_NOT_VERIFIED = "只有已认证的会员可以投票，请先完成会员认证。"
VOTE_TOO_NEW = "入驻满 {days} 日的会员才可以投票：您的入驻日期为 {joined_on}，自 {eligible_on} 起可以投票。"
VOTE_NOT_OPEN = "意见征集尚未开始，将于 {opens_at} 开始，届时才能投票。"
VOTE_CLOSED = "意见征集已于 {closes_at} 截止，不再接受投票。"
VOTE_CHOICE_UNKNOWN = "选项“{choice}”不存在；可选：{choices}。"
VOTE_REASON_REQUIRED = "选择“{label}”须填写理由。"
VOTE_REASON_TOO_LONG = "理由最多 {limit} 个字，当前为 {length} 个字。"

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


def eligible_member(*, user: AbstractBaseUser | AnonymousUser, at: datetime) -> "Member":
    """The member behind `user` if they may vote at `at`; otherwise VoteRefused saying why."""
    if not user.is_authenticated:
        raise VoteRefused(_(VOTE_ANONYMOUS), kind="anonymous")
    member = account_selectors.member_of(user=user)
    if member is None:
        raise VoteRefused(_(VOTE_NOT_MEMBER), kind="ineligible")
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
        raise VoteRefused(
            _(VOTE_NOT_OPEN).format(opens_at=local_minute(consultation.opens_at)), kind="not_open"
        )
    if status == Consultation.Status.CLOSED:
        raise VoteRefused(
            _(VOTE_CLOSED).format(closes_at=local_minute(consultation.closes_at)), kind="closed"
        )


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
    options = selectors.options_by_key(consultation)
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
    member = account_selectors.member_verified_sql()
    columns = ["consultation_id", "member_id", "choice", "reason", "cast_at", "updated_at"]
    replaced = ", ".join(f"{q(c)} = EXCLUDED.{q(c)}" for c in ("choice", "reason", "updated_at"))
    # Identifiers come from the models and are quoted; every value is a query parameter.
    upsert = (
        f"INSERT INTO {q(Vote._meta.db_table)} ({', '.join(map(q, columns))}) "
        f"SELECT %s, {member.id}, %s, %s, %s, %s {member.of_user_joined_by} "
        f"ON CONFLICT ({q('consultation_id')}, {q('member_id')}) DO UPDATE SET {replaced}"
    )
    record = (
        f"INSERT INTO {q(VoteHistory._meta.db_table)} ({', '.join(map(q, columns[:5]))}) "
        f"SELECT %s, {member.id}, %s, %s, %s {member.of_user}"
    )
    return upsert, record
