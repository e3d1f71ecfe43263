"""Reads of accounts."""

from dataclasses import dataclass
from datetime import date, datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection
from django.db.models import Field, Q
from django.utils import timezone

from .models import ApiToken, Member
from .services import TOKEN_PREFIX, token_hash


def api_token_active(*, token: str, at: datetime | None = None) -> ApiToken | None:
    """The token record for `token`, unrevoked, unexpired at `at` (now) and of an active user: one query."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    unexpired = Q(expires_at__isnull=True) | Q(expires_at__gt=at or timezone.now())
    return (
        ApiToken.objects.select_related("user")
        .filter(unexpired, key_hash=token_hash(token), revoked_at__isnull=True, user__is_active=True)
        .first()
    )


def api_token_expired_at(*, token: str, at: datetime | None = None) -> datetime | None:
    """When `token` expired, if it is an unrevoked token of an active user that has expired by `at`."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    expires_at: datetime | None = (
        ApiToken.objects.filter(
            key_hash=token_hash(token),
            revoked_at__isnull=True,
            user__is_active=True,
            expires_at__lte=at or timezone.now(),
        )
        .values_list("expires_at", flat=True)
        .first()
    )
    return expires_at


def member_of(*, user: AbstractBaseUser | AnonymousUser) -> Member | None:
    """The member (merchant) behind a signed-in user; None for anonymous users and accounts without one."""
    if not user.is_authenticated:
        return None
    try:
        member: Member = user.member  # type: ignore[attr-defined]
    except ObjectDoesNotExist:
        return None
    return member


def member_verified_count(*, joined_on_or_before: date) -> int:
    """Verified members who joined on or before the date (those long enough on the platform for a vote)."""
    return Member.objects.filter(verified=True, joined_on__lte=joined_on_or_before).count()


@dataclass(frozen=True, slots=True)
class VerifiedMemberSql:
    """SQL that reads a member inside another app's statement: quoted names, every value a %s parameter.

    `SELECT …, {id}, … {of_user}` reads the verified member of the user given as the parameter;
    `{of_user_joined_by}` takes a second parameter, the latest joining date admitted.
    """

    id: str
    of_user: str
    of_user_joined_by: str


def member_verified_sql() -> VerifiedMemberSql:
    """The member as SQL, for a write that judges eligibility in the statement that writes (a vote).

    Accounts keeps its table and columns to itself; a caller caches the statement it builds from these.
    """
    q = connection.ops.quote_name

    def column(name: str) -> str:
        field = Member._meta.get_field(name)
        assert isinstance(field, Field)
        assert field.column
        return q(field.column)

    of_user = f"FROM {q(Member._meta.db_table)} WHERE {column('user')} = %s AND {column('verified')}"
    return VerifiedMemberSql(
        id=column("id"), of_user=of_user, of_user_joined_by=f"{of_user} AND {column('joined_on')} <= %s"
    )
