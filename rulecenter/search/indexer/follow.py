"""Following the outbox: a node's index applies the changed items in outbox order, a batch at a time."""

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import tantivy
from django.conf import settings
from django.db import connection
from django.utils import timezone

from .. import documents
from ..backends import tantivy as engine
from ..backends.tantivy import IndexDocument
from ..models import OutboxEntry, Replica
from ..prepare import announcement_key, rule_key
from .replica import live_generation, node, replica_get

# Ranges of missing outbox ids longer than this are not awaited one by one (pruned, or a sequence jump).
MAX_GAP_RUN = 1_000
MAX_GAPS = 10_000
# Rules re-indexed per batch by `Follower.refresh_rules`.
REFRESH_BATCH = 200

# One follower per process at a time (tantivy's lock file keeps out the other processes).
_write_lock = threading.Lock()


class GenerationChanged(Exception):
    """A rebuild switched this node to a new generation while a follower was applying to the old one."""


@dataclass
class ApplyResult:
    applied: int = 0
    position: int = 0
    busy: bool = False
    missing: bool = False


def _replace(writer: tantivy.IndexWriter, key: str, docs: Iterable[IndexDocument]) -> None:
    writer.delete_documents_by_term("key", key)
    for doc in docs:
        writer.add_document(doc.to_tantivy())


def apply_entities(writer: tantivy.IndexWriter, entries: Iterable[tuple[str, int]]) -> None:
    """Replace the documents of each (entity, id) with what the database holds now (or remove them)."""
    announcements: set[int] = set()
    rules: set[int] = set()
    for entity, pk in entries:
        (announcements if entity == OutboxEntry.Entity.ANNOUNCEMENT else rules).add(pk)
    for pk, doc in documents.announcement_documents(announcements).items():
        _replace(writer, announcement_key(pk), [doc] if doc else [])
    for pk, docs in documents.rule_documents(rules).items():
        _replace(writer, rule_key(pk), docs)


class Follower:
    """Holds a generation's writer and applies the outbox to it, batch by batch."""

    def __init__(self, generation: str, writer: tantivy.IndexWriter) -> None:
        self.generation = generation
        self.writer: tantivy.IndexWriter | None = writer
        # Outbox rows this generation never saw were pruned: it still follows (new changes keep appearing)
        # until a rebuild replaces it.
        self.must_rebuild = False

    @classmethod
    def open(cls, generation: str, *, wait_seconds: float = 0.0) -> "Follower | None":
        writer = engine.open_writer(engine.open_index(generation), wait_seconds=wait_seconds)
        return None if writer is None else cls(generation, writer)

    def close(self) -> None:
        # Dropping the writer releases tantivy's lock; anything not committed is discarded.
        self.writer = None

    def step(self, batch_size: int) -> int:
        """Apply the next batch of outbox rows (and any late-committed ones); returns how many were applied."""
        writer = self.writer
        assert writer is not None
        replica = Replica.objects.get(node=node())
        if replica.generation != self.generation:
            raise GenerationChanged(replica.generation)
        self.must_rebuild = replica.must_rebuild
        now = time.time()
        gaps: dict[int, float] = {int(pk): float(seen) for pk, seen in replica.gaps}
        rows = list(
            OutboxEntry.objects.filter(id__gt=replica.position)
            .order_by("id")
            .values_list("id", "entity", "object_id")[:batch_size]
        )
        late = (
            list(OutboxEntry.objects.filter(id__in=list(gaps)).values_list("id", "entity", "object_id"))
            if gaps
            else []
        )
        position = replica.position
        for pk, _entity, _object_id in rows:
            if pk - position - 1 <= MAX_GAP_RUN:
                gaps.update((missing, now) for missing in range(position + 1, pk))
            position = pk
        for pk, _entity, _object_id in late:
            gaps.pop(pk, None)
        expired = [pk for pk, seen in gaps.items() if now - seen > settings.RULECENTER_SEARCH_GAP_SECONDS]
        for pk in expired:
            del gaps[pk]
        kept = sorted(gaps.items())[-MAX_GAPS:]
        if not rows and not late:
            if expired:
                self._save(replica.position, kept)
            return 0
        apply_entities(writer, [(entity, object_id) for _pk, entity, object_id in late + rows])
        writer.commit()
        self._save(position, kept)
        return len(rows) + len(late)

    def _save(self, position: int, gaps: list[tuple[int, float]]) -> None:
        updated = Replica.objects.filter(node=node(), generation=self.generation).update(
            position=position, gaps=[[pk, round(seen, 3)] for pk, seen in gaps], updated_at=timezone.now()
        )
        if not updated:
            raise GenerationChanged(self.generation)

    def drain(self, *, batch_size: int, limit: int | None = None) -> int:
        applied = 0
        while limit is None or applied < limit:
            count = self.step(batch_size)
            if count == 0:
                break
            applied += count
        return applied

    def refresh_rules(self) -> int:
        """Re-index every rule locally, so versions in force stay dated today for the recency boost."""
        writer = self.writer
        assert writer is not None
        rule_pks = documents.rule_pks()
        for start in range(0, len(rule_pks), REFRESH_BATCH):
            chunk = rule_pks[start : start + REFRESH_BATCH]
            apply_entities(writer, [(OutboxEntry.Entity.RULE, pk) for pk in chunk])
        writer.commit()
        return len(rule_pks)


def apply_pending(*, wait_seconds: float = 0.0, limit: int | None = None) -> ApplyResult:
    """Apply this node's pending outbox rows now, if its index exists and nobody else is writing it."""
    locked = (
        _write_lock.acquire(timeout=wait_seconds) if wait_seconds > 0 else _write_lock.acquire(blocking=False)
    )
    if not locked:
        return ApplyResult(busy=True)
    try:
        replica = replica_get()
        generation = live_generation(replica)
        if generation is None:
            return ApplyResult(position=replica.position, missing=True)
        follower = Follower.open(generation, wait_seconds=wait_seconds)
        if follower is None:
            return ApplyResult(position=replica.position, busy=True)
        try:
            applied = follower.drain(batch_size=settings.RULECENTER_SEARCH_BATCH_SIZE, limit=limit)
        except GenerationChanged:
            return ApplyResult(busy=True)
        finally:
            follower.close()
        return ApplyResult(applied=applied, position=Replica.objects.get(node=node()).position)
    finally:
        _write_lock.release()


@dataclass(frozen=True)
class Lag:
    position: int  # this node's cursor
    newest: int  # the newest outbox id
    generation: str  # this node's live generation
    must_rebuild: bool  # rows it had not applied were pruned


def lag() -> Lag:
    """Where this node stands against the outbox, in one query."""
    outbox = OutboxEntry._meta.db_table
    replicas = Replica._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT MAX(id) FROM {outbox}), (SELECT position FROM {replicas} WHERE node = %s), "  # noqa: S608
            f"(SELECT generation FROM {replicas} WHERE node = %s), "
            f"(SELECT missed_through FROM {replicas} WHERE node = %s)",
            [node(), node(), node()],
        )
        newest, position, generation, missed_through = cursor.fetchone()
    return Lag(int(position or 0), int(newest or 0), str(generation or ""), bool(missed_through))
