"""API authentication: `Authorization: Bearer <token>` against the stored token hashes.

A known token is answered from memory on a warm process, with no query (`token_cache`); a refused one
always asks the database, so a revoked token stops within RULECENTER_TOKEN_MEMO_SECONDS everywhere.
"""

import math
from typing import NoReturn

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError, Throttled
from ninja.security import HttpBearer

from rulecenter.common.limits import client_address, limit_hit, limit_used_up, rate_setting

from . import selectors, token_cache
from .selectors import TokenGrant

TOKEN_INVALID = "API 令牌无效或已被吊销。"  # noqa: S105 - a message, not a secret
TOKEN_EXPIRED = "API 令牌已于 {expires_at} 过期。"  # noqa: S105 - a message, not a secret


class InvalidToken(AuthenticationError):
    """A bearer token was sent but matches no active token (unknown, expired, revoked, or its user disabled)."""


# Refused tokens count per address at RULECENTER_API_ANON_RATE: guessing tokens costs the guesser, not the
# database. Once an address has used them up it is answered 429 before any lookup until the window ends
# (a token this process accepted within RULECENTER_TOKEN_MEMO_SECONDS is known without one, and passes).
REFUSED_SCOPE = "api-token-refused"


class BearerTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> AbstractBaseUser:
        token = token.strip()
        # A token this process accepted within the last second costs nothing, not even the refusal count.
        grant = token_cache.token_grant_kept(token=token)
        if grant is None:
            grant = self._grant_or_throttled(request, token)
        if grant is None:
            self._refuse(request, token)
        token_cache.token_use_record(grant)
        user = grant.user()
        request.user = user
        # Services see only the token's roles: a read-only token of an editor cannot write.
        request.actor = grant.actor  # type: ignore[attr-defined]
        return user

    @staticmethod
    def _grant_or_throttled(request: HttpRequest, token: str) -> TokenGrant | None:
        rate = rate_setting("RULECENTER_API_ANON_RATE")
        if rate is not None:
            wait = limit_used_up(scope=REFUSED_SCOPE, ident=_refused_ident(request), rate=rate)
            if wait:
                raise Throttled(wait=math.ceil(wait))
        return token_cache.token_grant(token=token)

    @staticmethod
    def _refuse(request: HttpRequest, token: str) -> NoReturn:
        rate = rate_setting("RULECENTER_API_ANON_RATE")
        if rate is not None:
            limit_hit(scope=REFUSED_SCOPE, ident=_refused_ident(request), rate=rate)
        # Only a refused request asks why (a second query): the holder of an expired token is told so.
        expired_at = selectors.api_token_expired_at(token=token)
        if expired_at is not None:
            shown = timezone.localtime(expired_at).strftime("%Y-%m-%d %H:%M")
            raise InvalidToken(message=_(TOKEN_EXPIRED).format(expires_at=shown))
        raise InvalidToken(message=_(TOKEN_INVALID))


def _refused_ident(request: HttpRequest) -> str:
    return f"addr:{client_address(request)}"
