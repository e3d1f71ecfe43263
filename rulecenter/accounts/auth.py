"""API authentication: `Authorization: Bearer <token>` against the stored token hashes."""

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer

from . import selectors, services
from .roles import actor_for

TOKEN_INVALID = "API 令牌无效或已被吊销。"  # noqa: S105 - a message, not a secret


class InvalidToken(AuthenticationError):
    """A bearer token was sent but matches no active token (unknown, revoked, or its user disabled)."""


class BearerTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> AbstractBaseUser:
        record = selectors.api_token_active(token=token.strip())
        if record is None:
            raise InvalidToken(message=_(TOKEN_INVALID))
        services.api_token_touch(token=record)
        request.user = record.user
        request.actor = actor_for(record.user)  # type: ignore[attr-defined]
        return record.user
