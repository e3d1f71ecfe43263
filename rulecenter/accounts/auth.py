"""API authentication: `Authorization: Bearer <token>` against the stored token hashes."""

import math

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError, Throttled
from ninja.security import HttpBearer

from rulecenter.common.limits import client_address, limit_hit, limit_used_up, rate_setting

from . import selectors, services
from .roles import actor_for

TOKEN_INVALID = "API 令牌无效或已被吊销。"  # noqa: S105 - a message, not a secret
TOKEN_EXPIRED = "API 令牌已于 {expires_at} 过期。"  # noqa: S105 - a message, not a secret


class InvalidToken(AuthenticationError):
    """A bearer token was sent but matches no active token (unknown, expired, revoked, or its user disabled)."""


# Refused tokens count per address at RULECENTER_API_ANON_RATE: guessing tokens costs the guesser, not the
# database. Once an address has used them up it is answered 429 before any lookup until the window ends.
REFUSED_SCOPE = "api-token-refused"


class BearerTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> AbstractBaseUser:
        rate = rate_setting("RULECENTER_API_ANON_RATE")
        ident = f"addr:{client_address(request)}"
        if rate is not None and (wait := limit_used_up(scope=REFUSED_SCOPE, ident=ident, rate=rate)):
            raise Throttled(wait=math.ceil(wait))
        record = selectors.api_token_active(token=token.strip())
        if record is None:
            if rate is not None:
                limit_hit(scope=REFUSED_SCOPE, ident=ident, rate=rate)
            # Only a refused request asks why (a second query): the holder of an expired token is told so.
            expired_at = selectors.api_token_expired_at(token=token.strip())
            if expired_at is not None:
                shown = timezone.localtime(expired_at).strftime("%Y-%m-%d %H:%M")
                raise InvalidToken(message=_(TOKEN_EXPIRED).format(expires_at=shown))
            raise InvalidToken(message=_(TOKEN_INVALID))
        services.api_token_touch(token=record)
        request.user = record.user
        # Services see only the token's roles: a read-only token of an editor cannot write.
        request.actor = actor_for(record.user, roles_limit=record.roles)  # type: ignore[attr-defined]
        return record.user
