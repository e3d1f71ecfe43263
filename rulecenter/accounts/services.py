"""Writes to accounts: members and API tokens."""

import hashlib
import secrets
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from rulecenter.common.actors import Actor
from rulecenter.common.changes import ChangeAction, ContentKind, content_changed_announce

from .models import ApiToken, Member

TOKEN_NOT_YOURS = "只能签发或吊销自己的 API 令牌。"  # noqa: S105 - a message, not a secret
TOKEN_PREFIX = "rc_"  # noqa: S105 - a label, not a secret
# A token's last use is recorded at most this often, so a busy client does not write on every request.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)
USER_UNKNOWN = "用户“{username}”不存在。"
USER_EXISTS = "用户“{username}”已存在。"
USERNAME_EMPTY = "用户名不能为空。"
JOINED_IN_FUTURE = "入驻日期 {joined_on:%Y-%m-%d} 晚于今天。"


def token_hash(token: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough (unlike a password, nothing to brute-force).
    return hashlib.sha256(token.encode()).hexdigest()


def _refuse_unless_own(actor: Actor, user_id: int) -> None:
    if not (actor.is_system or actor.superuser) and actor.user_id != user_id:
        raise PermissionDenied(_(TOKEN_NOT_YOURS))


@transaction.atomic
def api_token_create(*, actor: Actor, user: User, name: str = "") -> tuple[ApiToken, str]:
    """Create a token for `user`; returns the record and the token, which is never stored."""
    _refuse_unless_own(actor, user.pk)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(user=user, name=name.strip(), prefix=token[:10], key_hash=token_hash(token))
    record.full_clean()
    record.save()
    content_changed_announce(
        kind=ContentKind.API_TOKEN,
        ids=[record.pk],
        action=ChangeAction.ISSUED,
        actor=actor,
        data={"user": user.get_username(), "name": record.name, "prefix": record.prefix},
    )
    return record, token


@transaction.atomic
def api_token_issue(*, actor: Actor, username: str, name: str = "") -> tuple[ApiToken, str]:
    """Create a token for the user called `username` (the `issue_token` command)."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ValidationError(_(USER_UNKNOWN).format(username=username))
    return api_token_create(actor=actor, user=user, name=name)


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


def api_token_touch(*, token: ApiToken) -> None:
    """Record that `token` was just used; skipped when it was recorded less than a minute ago."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < TOKEN_TOUCH_INTERVAL:
        return
    # One UPDATE, no read-modify-write: concurrent requests with the same token cannot conflict.
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


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
