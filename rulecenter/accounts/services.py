"""Writes to accounts: members and API tokens."""

import hashlib
import secrets
from datetime import date

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import ApiToken, Member

TOKEN_PREFIX = "rc_"  # noqa: S105 - a label, not a secret
USER_UNKNOWN = "用户“{username}”不存在。"
USER_EXISTS = "用户“{username}”已存在。"
USERNAME_EMPTY = "用户名不能为空。"


def token_hash(token: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough (unlike a password, nothing to brute-force).
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def api_token_issue(*, username: str, name: str = "") -> tuple[ApiToken, str]:
    """Create a token for `username`; returns the record and the token, which is never stored."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ValidationError(_(USER_UNKNOWN).format(username=username))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(user=user, name=name, prefix=token[:10], key_hash=token_hash(token))
    record.full_clean()
    record.save()
    return record, token


@transaction.atomic
def api_token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


@transaction.atomic
def member_create(
    *, username: str, joined_on: date | None = None, verified: bool = False, shop_name: str = ""
) -> Member:
    username = username.strip()
    if not username:
        raise ValidationError(_(USERNAME_EMPTY))
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise ValidationError(_(USER_EXISTS).format(username=username))
    user: User = user_model(username=username)
    user.set_unusable_password()
    user.full_clean()
    user.save()
    member = Member(
        user=user, joined_on=joined_on or timezone.localdate(), verified=verified, shop_name=shop_name
    )
    member.full_clean()
    member.save()
    return member
