"""Accounts' background work: recording when an API token was last used, off the request path."""

from datetime import datetime

from django.tasks import task

from . import services


@task()
def api_token_use_record(token_id: int, used_at: str) -> bool:
    """Write the token's `last_used_at` (an ISO 8601 instant) unless a use within the minute before it is
    already recorded; enqueued by `token_cache.token_use_record`. True if it wrote."""
    return services.api_token_touch(token_id=token_id, used_at=datetime.fromisoformat(used_at))
