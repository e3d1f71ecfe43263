"""The ingest app's background work: fetching a followed channel when it is due (docs/ingest.md#channels)."""

from django.tasks import task

from . import services


@task()
def channel_fetch_task(channel_id: int) -> str | None:
    """Fetch the channel if it is due; each fetch queues the next one at the channel's next time."""
    record = services.channel_fetch(channel_id=channel_id)
    return record.outcome if record is not None else None
