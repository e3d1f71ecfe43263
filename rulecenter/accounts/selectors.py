"""Reads of accounts."""

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, User
from django.core.exceptions import ObjectDoesNotExist
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import BooleanField, Case, Field, ManyToManyField, Model, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from rulecenter.common import replicas
from rulecenter.common.actors import Actor

from .models import ApiToken, GrantGeneration, Member, Segment
from .roles import STAFF_ROLES, actor_of
from .services import TOKEN_PREFIX, token_hash


def api_token_key(token: str) -> str | None:
    """The stored hash a presented token is looked up by; None for what cannot be one of ours."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    return token_hash(token)


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What an unrevoked token of an active user allows: whose it is and the roles it acts in.

    A value (kept in memory and in the shared cache by `token_cache`), not a row: `user()` gives a fresh
    user object per request. Its expiry is checked at each use, so a kept grant never outlives it.
    """

    token_id: int
    key_hash: str
    user_id: int
    username: str
    is_staff: bool
    is_superuser: bool
    actor: Actor
    expires_at: datetime | None
    last_used_at: datetime | None

    def is_expired_at(self, at: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= at

    def user(self) -> User:
        """The token's user with the fields a request reads (id, username, the flags) loaded; any other
        field is read from the database when first touched, and a `save()` writes the loaded fields only.
        """
        loaded = {
            "id": self.user_id,
            "username": self.username,
            "is_active": True,
            "is_staff": self.is_staff,
            "is_superuser": self.is_superuser,
        }
        model, names = _user_loaded_fields()
        return model.from_db(DEFAULT_DB_ALIAS, names, [loaded[name] for name in names])


@functools.cache
def _user_loaded_fields() -> tuple[type[User], list[str]]:
    model = get_user_model()
    wanted = {"id", "username", "is_active", "is_staff", "is_superuser"}
    return model, [f.attname for f in model._meta.concrete_fields if f.attname in wanted]


@functools.cache
def _grant_sql() -> str:
    """One statement for a token's grant: the token, its user and the user's role groups (a row per group).

    Plain SQL built once from the models' metadata, the same on SQLite and PostgreSQL: the ORM would
    compile the query at every cold lookup, which costs more than running it. Parameters: the role names,
    the key hash, True (the user is active).
    """
    q = connection.ops.quote_name
    user_model = get_user_model()

    def column(model: type[Model], name: str) -> str:
        field = model._meta.get_field(name)
        assert isinstance(field, Field)
        assert field.column
        return q(field.column)

    def columns(alias: str, model: type[Model], *names: str) -> list[str]:
        return [f"{alias}.{column(model, name)}" for name in names]

    groups = user_model._meta.get_field("groups")
    assert isinstance(groups, ManyToManyField)
    selected = [
        *columns("t", ApiToken, "id", "roles", "expires_at", "last_used_at"),
        *columns("u", user_model, "id", user_model.USERNAME_FIELD, "is_staff", "is_superuser"),
        *columns("g", Group, "name"),
    ]
    token, user, group = q(ApiToken._meta.db_table), q(user_model._meta.db_table), q(Group._meta.db_table)
    user_id, group_name = column(user_model, "id"), column(Group, "name")
    roles = ", ".join("%s" for _role in STAFF_ROLES)
    return (
        f"SELECT {', '.join(selected)} FROM {token} t "  # noqa: S608 - names from the models, values are %s
        f"JOIN {user} u ON u.{user_id} = t.{column(ApiToken, 'user')} "
        f"LEFT JOIN {q(groups.m2m_db_table())} ug ON ug.{q(groups.m2m_column_name())} = u.{user_id} "
        f"LEFT JOIN {group} g ON g.{column(Group, 'id')} = ug.{q(groups.m2m_reverse_name())} "
        f"AND g.{group_name} IN ({roles}) "
        f"WHERE t.{column(ApiToken, 'key_hash')} = %s AND t.{column(ApiToken, 'revoked_at')} IS NULL "
        f"AND u.{column(user_model, 'is_active')} = %s"
    )


def _aware(value: object) -> datetime | None:
    if value is None:
        return None
    moment = parse_datetime(value) if isinstance(value, str) else value
    assert isinstance(moment, datetime)
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def api_token_grant_read(*, key_hash: str) -> TokenGrant | None:
    """The grant of the unrevoked token stored as `key_hash` if its user is active, in one statement.

    Expired or not: the caller checks the expiry at each use (`TokenGrant.is_expired_at`).
    """
    with replicas.authority().cursor() as cursor:
        cursor.execute(_grant_sql(), [*sorted(STAFF_ROLES), key_hash, True])
        rows = cursor.fetchall()
    if not rows:
        return None
    token_id, roles_limit, expires_at, last_used_at, user_id, username, is_staff, is_superuser, _ = rows[0]
    if isinstance(roles_limit, str | bytes):
        roles_limit = json.loads(roles_limit)
    actor = actor_of(
        user_id=user_id,
        username=username,
        superuser=bool(is_superuser),
        roles=[row[8] for row in rows if row[8] is not None],
        roles_limit=roles_limit,
    )
    return TokenGrant(
        token_id=token_id,
        key_hash=key_hash,
        user_id=user_id,
        username=username,
        is_staff=bool(is_staff),
        is_superuser=bool(is_superuser),
        actor=actor,
        expires_at=_aware(expires_at),
        last_used_at=_aware(last_used_at),
    )


def grant_generation_read() -> int:
    """The grants' generation (`GrantGeneration`): 0 before any change has raised it."""
    table = connection.ops.quote_name(GrantGeneration._meta.db_table)
    with replicas.authority().cursor() as cursor:
        cursor.execute(f"SELECT value FROM {table} WHERE id = 1")  # noqa: S608 - the table's name from the model
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def user_signed_in_read(*, user_id: int) -> User | None:
    """The user `user_id` with their member row (or its absence) in one statement, active or not."""
    return User.objects.select_related("member").filter(pk=user_id).first()


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


# Segments (issue 13) ------------------------------------------------------------------------------------


def _segment_condition(segment: Segment, day: date) -> Q | None:
    """The members of `segment` on `day`, as a condition on Member; None when it has no criterion (anyone).

    Shop age is whole days since `joined_on`: at least `min_shop_days` means joined on or before
    `day - min_shop_days`, at most `max_shop_days` joined on or after `day - max_shop_days`.
    """
    parts: list[Q] = []
    if segment.industries:
        parts.append(Q(industry__in=list(segment.industries)))
    if segment.regions:
        parts.append(Q(region__in=list(segment.regions)))
    if segment.memberships:
        parts.append(Q(membership__in=list(segment.memberships)))
    if segment.min_shop_days is not None:
        parts.append(Q(joined_on__lte=day - timedelta(days=segment.min_shop_days)))
    if segment.max_shop_days is not None:
        parts.append(Q(joined_on__gte=day - timedelta(days=segment.max_shop_days)))
    if not parts:
        return None
    condition = parts[0]
    for part in parts[1:]:
        condition &= part
    return condition


def segments_find(keys: Iterable[str | int]) -> list[Segment]:
    """The segments named by slug (a string) or id (an int) among `keys`; unknown ones are left out."""
    slugs = [key for key in keys if isinstance(key, str)]
    ids = [key for key in keys if isinstance(key, int)]
    if not slugs and not ids:
        return []
    return list(Segment.objects.filter(Q(slug__in=slugs) | Q(pk__in=ids)))


def segment_users(segments: Iterable[str | int], *, at: datetime) -> QuerySet[Member, int]:
    """The ids of the users whose member is in any of these segments (slugs or ids) at `at`: a lazy
    query, usable as a subquery (`owner__in=…`). Unknown segments hold no one; no segment, no one.

    The one definition of segment membership: every criterion that is not empty must match.
    """
    keys = list(segments)
    found = segments_find(keys)
    members = Member.objects.values_list("user_id", flat=True)
    if not found:
        return members.none()
    day = timezone.localdate(at)
    conditions = [_segment_condition(segment, day) for segment in found]
    if any(condition is None for condition in conditions):
        return members  # a segment without criteria holds every member
    combined = Q()
    for condition in conditions:
        assert condition is not None
        combined |= condition
    return members.filter(combined)


def member_users() -> QuerySet[Member, int]:
    """The ids of every user who is a member (merchant): a lazy query, usable as a subquery."""
    return Member.objects.values_list("user_id", flat=True)


def segment_ids_of_user(*, user_id: int, at: datetime) -> list[int]:
    """The ids of the segments the user's member is in at `at` (none for a user who is not a member).

    Two queries (the segments, then the member judged against each of them in one statement), the first
    only when no segment exists; membership is `segment_users`' definition, as SQL.
    """
    segments = list(Segment.objects.order_by("pk"))
    if not segments:
        return []
    day = timezone.localdate(at)
    judged = {}
    for segment in segments:
        condition = _segment_condition(segment, day)
        judged[f"in_{segment.pk}"] = (
            Value(True)
            if condition is None
            else Case(When(condition, then=Value(True)), default=Value(False), output_field=BooleanField())
        )
    row = Member.objects.filter(user_id=user_id).annotate(**judged).values(*judged).first()
    if row is None:
        return []
    return [segment.pk for segment in segments if row[f"in_{segment.pk}"]]


def segments_all() -> QuerySet[Segment]:
    """Every segment, by name: choices for the admin's forms, the queryset of a prefetch."""
    return Segment.objects.order_by("name", "id")


def staff_addresses(*, role: str) -> list[tuple[str, str]]:
    """(username, e-mail) of the active staff in a role who have an address: whom to tell of work waiting."""
    users = User.objects.filter(is_active=True, groups__name=role).exclude(email="").order_by("pk").distinct()
    return list(users.values_list("username", "email"))
