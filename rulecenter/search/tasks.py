"""The indexer as a task: applies the outbox to this node's index after a change commits."""

from django.tasks import task

from .indexer import apply_pending

# How long a task waits for the index's writer lock: an indexer that holds it may be finishing a batch
# that did not include the row this task was enqueued for.
LOCK_WAIT_SECONDS = 5.0


@task()
def search_index_apply() -> int:
    """Apply every pending outbox row to this node's index; returns how many rows were applied."""
    result = apply_pending(wait_seconds=LOCK_WAIT_SECONDS)
    return result.applied
