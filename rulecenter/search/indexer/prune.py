"""Pruning the outbox: rows go once no node needs them, and past the retention period whoever still does."""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import OutboxEntry, Replica

logger = logging.getLogger(__name__)

# Pruning deletes this many outbox rows per statement, and at most PRUNE_MAX_ROWS per call, so a worker
# catching up on a long-unpruned outbox goes back to following between calls.
PRUNE_BATCH = 5_000
PRUNE_MAX_ROWS = 200_000


@dataclass
class PruneResult:
    deleted: int = 0
    # Rows with an id up to this one may go (and have, unless PRUNE_MAX_ROWS stopped this call).
    through: int = 0
    lagging: list[str] = field(default_factory=list)  # nodes marked to rebuild by this call


def prune_outbox() -> PruneResult:
    """Delete the outbox rows no node needs, and those past the retention period whoever still needs them.

    A node that had not applied a row deleted for its age is marked (`missed_through`) in the same
    transaction that decides the deletion, before anything is deleted: it rebuilds rather than follow on
    as if nothing were missing. The deletes go in batches of PRUNE_BATCH rows, each its own statement.
    """
    result = PruneResult()
    with transaction.atomic():
        # Locking every replica holds back cursors and rebuild starts while the line is drawn.
        replicas = list(Replica.objects.select_for_update().order_by("node"))
        newest = OutboxEntry.objects.order_by("-id").values_list("id", flat=True).first()
        if newest is None:
            return result
        needs = [needed for replica in replicas if (needed := _needed_after(replica)) is not None]
        result.through = min([newest, *needs])
        expired_through = _expired_through()
        if expired_through > result.through:
            result.through = expired_through
            result.lagging = _mark_lagging(replicas, through=expired_through)
    result.deleted = _delete_through(result.through)
    return result


def _needed_after(replica: Replica, *, awaited: bool = True) -> int | None:
    """The outbox id after which this node still needs every row, or None when it needs none.

    Its cursor, less the rows it still awaits (gaps, unless `awaited` is false); an unfinished rebuild's
    starting point. A node without a generation, or one marked to rebuild, will read everything from the
    database anyway.
    """
    needed = []
    if replica.generation and not replica.must_rebuild:
        gaps = [int(pk) - 1 for pk, _seen in replica.gaps] if awaited else []
        needed.append(min([replica.position, *gaps]))
    if replica.building and replica.build_position >= replica.missed_through:
        needed.append(replica.build_position)
    return min(needed) if needed else None


def _expired_through() -> int:
    """The highest outbox id older than RULECENTER_SEARCH_OUTBOX_RETENTION_DAYS (0 if none)."""
    cutoff = timezone.now() - timedelta(days=settings.RULECENTER_SEARCH_OUTBOX_RETENTION_DAYS)
    # Rows are (nearly) in id order of age: every row below the first recent one has expired.
    first_recent = (
        OutboxEntry.objects.filter(created_at__gte=cutoff).order_by("id").values_list("id", flat=True).first()
    )
    expired = (
        OutboxEntry.objects.all() if first_recent is None else OutboxEntry.objects.filter(id__lt=first_recent)
    )
    return expired.order_by("-id").values_list("id", flat=True).first() or 0


def _mark_lagging(replicas: list[Replica], *, through: int) -> list[str]:
    """Mark the nodes that still needed rows up to `through` (going for their age): they must rebuild."""
    lagging = []
    for replica in replicas:
        # (A row still awaited, minutes old, is not one past the retention period.)
        needed = _needed_after(replica, awaited=False)
        if needed is not None and needed < through:
            replica.missed_through = max(replica.missed_through, through)
            replica.save(update_fields=["missed_through", "updated_at"])
            lagging.append(replica.node)
            logger.warning(
                "search node %s had not applied outbox rows up to #%s, older than %s days and now pruned: "
                "it must rebuild its index",
                replica.node,
                through,
                settings.RULECENTER_SEARCH_OUTBOX_RETENTION_DAYS,
            )
    return lagging


def _delete_through(through: int) -> int:
    """Delete the rows with an id up to `through`, PRUNE_BATCH per statement, at most PRUNE_MAX_ROWS."""
    deleted = 0
    while deleted < PRUNE_MAX_ROWS:
        ids = list(
            OutboxEntry.objects.filter(id__lte=through)
            .order_by("id")
            .values_list("id", flat=True)[:PRUNE_BATCH]
        )
        if not ids:
            break
        count, _by_model = OutboxEntry.objects.filter(id__gte=ids[0], id__lte=ids[-1]).delete()
        deleted += count
    return deleted
