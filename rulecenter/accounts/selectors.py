"""Reads of accounts."""

from .models import ApiToken
from .services import TOKEN_PREFIX, token_hash


def api_token_active(*, token: str) -> ApiToken | None:
    """The unrevoked token record for `token` whose user is active, with its user: one query."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    return (
        ApiToken.objects.select_related("user")
        .filter(key_hash=token_hash(token), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
