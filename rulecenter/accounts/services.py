"""Writes to accounts: members and API tokens."""

import hashlib
import secrets
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from rulecenter.common.actors import Actor
from rulecenter.common.changes import ChangeAction, ContentKind, content_changed_announce

from .models import ApiToken, GrantGeneration, Member, Role
from .roles import STAFF_ROLES, user_roles

TOKEN_NOT_YOURS = "只能签发或吊销自己的 API 令牌。"  # noqa: S105 - a message, not a secret
TOKEN_PREFIX = "rc_"  # noqa: S105 - a label, not a secret
# A token's last use is recorded at most this often, so a busy client does not write on every request.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)
USER_UNKNOWN = "用户“{username}”不存在。"
USER_EXISTS = "用户“{username}”已存在。"
USERNAME_EMPTY = "用户名不能为空。"
JOINED_IN_FUTURE = "入驻日期 {joined_on:%Y-%m-%d} 晚于今天。"
TOKEN_ROLE_NOT_HELD = "用户“{username}”没有“{role}”角色，令牌不能带有该角色。"  # noqa: S105 - a message
TOKEN_EXPIRES_IN_PAST = "过期时间 {expires_at} 已经过去：令牌的过期时间必须晚于现在。"  # noqa: S105 - a message
ROLE_UNKNOWN = "没有“{role}”这个角色；可用的角色：editor（编辑）、reviewer（审核）、publisher（发布）。"
STAFF_ROLES_EMPTY = "请至少指定一个角色（editor、reviewer 或 publisher）。"
STAFF_CREATE_FORBIDDEN = "只有超级管理员可以创建后台人员账户。"


def token_hash(token: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough (unlike a password, nothing to brute-force).
    return hashlib.sha256(token.encode()).hexdigest()


def _refuse_unless_own(actor: Actor, user_id: int) -> None:
    if not (actor.is_system or actor.superuser) and actor.user_id != user_id:
        raise PermissionDenied(_(TOKEN_NOT_YOURS))


def roles_clean(roles: Iterable[str]) -> list[str]:
    """Role values, known ones only, without repeats, in the roles' own order (editor, reviewer, publisher)."""
    wanted = set()
    for role in roles:
        value = role.strip()
        if value not in STAFF_ROLES:
            raise ValidationError(_(ROLE_UNKNOWN).format(role=value[:40]))
        wanted.add(value)
    return [role.value for role in Role if role.value in wanted]


def api_token_scope_clean(
    *, user: User, roles: Iterable[str] | None, expires_at: datetime | None
) -> list[str] | None:
    """The token's roles as stored (None: all of the user's; []: read-only), refused unless the user holds
    each of them now; and an expiry, refused unless it lies in the future. Errors name their field.
    """
    scope = None if roles is None else roles_clean(roles)
    if scope:
        held = user_roles(user)
        for role in Role:
            if role.value in scope and role.value not in held:
                raise ValidationError(
                    {"roles": _(TOKEN_ROLE_NOT_HELD).format(username=user.get_username(), role=role.label)}
                )
    if expires_at is not None and expires_at <= timezone.now():
        shown = timezone.localtime(expires_at).strftime("%Y-%m-%d %H:%M")
        raise ValidationError({"expires_at": _(TOKEN_EXPIRES_IN_PAST).format(expires_at=shown)})
    return scope


@transaction.atomic
def api_token_create(
    *,
    actor: Actor,
    user: User,
    name: str = "",
    roles: Iterable[str] | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token for `user`; returns the record and the token, which is never stored.

    `roles` narrows the token to some of the user's roles (None: all of them, an empty list: read-only);
    each must be one the user holds now. `expires_at`, when given, must lie in the future.
    """
    _refuse_unless_own(actor, user.pk)
    scope = api_token_scope_clean(user=user, roles=roles, expires_at=expires_at)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        user=user,
        name=name.strip(),
        prefix=token[:10],
        key_hash=token_hash(token),
        roles=scope,
        expires_at=expires_at,
    )
    record.full_clean()
    record.save()
    content_changed_announce(
        kind=ContentKind.API_TOKEN,
        ids=[record.pk],
        action=ChangeAction.ISSUED,
        actor=actor,
        data={
            "user": user.get_username(),
            "name": record.name,
            "prefix": record.prefix,
            "roles": scope,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return record, token


@transaction.atomic
def api_token_issue(
    *,
    actor: Actor,
    username: str,
    name: str = "",
    roles: Iterable[str] | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token for the user called `username` (the `issue_token` command)."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ValidationError(_(USER_UNKNOWN).format(username=username))
    return api_token_create(actor=actor, user=user, name=name, roles=roles, expires_at=expires_at)


@transaction.atomic
def api_token_revoke(*, actor: Actor, token: ApiToken) -> ApiToken:
    _refuse_unless_own(actor, token.user_id)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        content_changed_announce(
            kind=ContentKind.API_TOKEN,
            ids=[token.pk],
            action=ChangeAction.REVOKED,
            actor=actor,
            data={"prefix": token.prefix},
        )
    return token


def api_token_touch(*, token_id: int, used_at: datetime) -> bool:
    """Record that the token was used at `used_at`, unless a use less than a minute before it is recorded.

    One guarded UPDATE, no read: several processes recording the same minute's use write the row once.
    Run by the `api_token_use_record` task, never inside a request. True if it wrote.
    """
    recorded_long_ago = Q(last_used_at__isnull=True) | Q(last_used_at__lte=used_at - TOKEN_TOUCH_INTERVAL)
    return bool(ApiToken.objects.filter(recorded_long_ago, pk=token_id).update(last_used_at=used_at))


def grant_generation_raise() -> None:
    """Raise the grants' generation by one (creating its row if a flush took it), in the caller's transaction.

    One statement, no read: concurrent changes each add one. Called by `token_cache.grants_forget` for every
    change that can take a token's grant or a signed-in user away; processes see it within a second.
    """
    table = connection.ops.quote_name(GrantGeneration._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (id, value) VALUES (1, 1) "  # noqa: S608 - the table's name from the model
            f"ON CONFLICT (id) DO UPDATE SET value = {table}.value + 1"
        )


@transaction.atomic
def member_create(
    *, actor: Actor, username: str, joined_on: date | None = None, verified: bool = False, shop_name: str = ""
) -> Member:
    username = username.strip()
    if not username:
        raise ValidationError(_(USERNAME_EMPTY))
    if joined_on is not None and joined_on > timezone.localdate():
        raise ValidationError({"joined_on": _(JOINED_IN_FUTURE).format(joined_on=joined_on)})
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise ValidationError(_(USER_EXISTS).format(username=username))
    user: User = user_model(username=username)
    user.set_unusable_password()
    user.full_clean()
    user.save()
    member = Member(
        user=user, joined_on=joined_on or timezone.localdate(), verified=verified, shop_name=shop_name.strip()
    )
    member.full_clean()
    member.save()
    content_changed_announce(
        kind=ContentKind.USER,
        ids=[user.pk],
        action=ChangeAction.CREATED,
        actor=actor,
        data={"username": username, "member": True, "verified": verified},
    )
    return member


@transaction.atomic
def staff_create(*, actor: Actor, username: str, password: str, roles: Iterable[str]) -> User:
    """A staff user (may sign in to the admin) in the given role groups, its password checked by Django's
    password validators (AUTH_PASSWORD_VALIDATORS) and stored hashed. Only the platform itself or a
    superuser may create one. The change announced carries the roles, never the password or its hash.
    """
    if not (actor.is_system or actor.superuser):
        raise PermissionDenied(_(STAFF_CREATE_FORBIDDEN))
    username = username.strip()
    if not username:
        raise ValidationError(_(USERNAME_EMPTY))
    wanted = roles_clean(roles)
    if not wanted:
        raise ValidationError(_(STAFF_ROLES_EMPTY))
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise ValidationError(_(USER_EXISTS).format(username=username))
    user: User = user_model(username=username, is_staff=True)
    user.full_clean(exclude=["password"])
    # Validated against the new user, so a password close to the username is refused too.
    password_validation.validate_password(password, user)
    user.set_password(password)
    user.save()
    user.groups.set(Group.objects.filter(name__in=wanted))
    content_changed_announce(
        kind=ContentKind.USER,
        ids=[user.pk],
        action=ChangeAction.CREATED,
        actor=actor,
        data={"username": username, "staff": True, "roles": wanted},
    )
    return user
