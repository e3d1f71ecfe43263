"""Writes of the search app: the outbox rows that every change to searchable content adds.

They are written inside the transaction that changes the content, by the change hook's receiver
(`receivers.py`): the row commits with the change or not at all, so no node's index can miss a change or
see one that was rolled back. After the commit, a task asks this node's indexer to apply the new rows
(`tasks.py`); the `rulecenter index_worker` on every node polls the outbox as well.
"""

import logging
from collections.abc import Iterable

from django.db import connection, transaction

from .indexer import catchup
from .models import OutboxEntry
from .tasks import search_index_apply

logger = logging.getLogger(__name__)


def _enqueue_apply() -> None:
    catchup.catch_up_forget()  # this process's next search finds what it just changed
    search_index_apply.enqueue()


def _schedule_apply() -> None:
    # One task per transaction however many rows it wrote.
    if not any(entry[1] is _enqueue_apply for entry in connection.run_on_commit):
        transaction.on_commit(_enqueue_apply, robust=True)


def search_outbox_add(*, entity: OutboxEntry.Entity, object_ids: Iterable[int]) -> int:
    """Record that these items changed (created, edited, published, unpublished or deleted)."""
    rows = [OutboxEntry(entity=entity, object_id=pk) for pk in dict.fromkeys(object_ids)]
    if rows:
        OutboxEntry.objects.bulk_create(rows)
        _schedule_apply()
    return len(rows)
