"""Keeping this node's index in step with the database: following the outbox, and rebuilding from scratch.

Each node (`RULECENTER_SEARCH_NODE`) has a `Replica` row: its live generation and how far into the outbox
it is. A follower applies outbox rows in id order, a batch at a time: it re-reads the changed items from the
database, replaces their documents (delete by key, then add), commits the index, and only then moves the
cursor. A crash before the commit loses nothing (the rows are applied again); a crash between the commit
and the cursor update applies a batch twice, which replaces the same documents with themselves — never a
duplicate. The writer lock (tantivy's lock file) keeps a second follower off the same index.

A rebuild writes a new generation beside the live one, committing and recording its progress every
`BUILD_COMMIT_DOCS` documents so an interrupted rebuild resumes; it notes the outbox position before it
reads anything, and the follower re-applies every change made while it ran.

Outbox rows are pruned (`prune_outbox`, run by the index worker) once no node needs them: every node's
cursor and any unfinished rebuild's starting point are past them. Rows older than
`RULECENTER_SEARCH_OUTBOX_RETENTION_DAYS` go regardless; a node that had not applied them is marked
(`Replica.missed_through`) and rebuilds instead of silently skipping what it missed.
"""

import collections
import concurrent.futures
import contextlib
import enum
import logging
import multiprocessing
import multiprocessing.pool
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import tantivy
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from . import documents, prepare
from .backends import tantivy as engine
from .backends.tantivy import SOURCE_RULE, IndexDocument
from .models import OutboxEntry, Replica

logger = logging.getLogger(__name__)

BUILD_BATCH = 2_000
BUILD_COMMIT_DOCS = 100_000
BUILD_HEAP_BYTES = 400_000_000
BUILD_READ_AHEAD = 10  # batches made ahead while a commit runs
POOL_MIN_DOCS = 50_000
POOL_IN_FLIGHT = 8
# A node whose database holds at most this many items builds its first index inline, on the first search
# (the demo, `make run`); a bigger one needs `rulecenter reindex` or the index worker.
INLINE_BUILD_LIMIT = 5_000
# Ranges of missing outbox ids longer than this are not awaited one by one (pruned, or a sequence jump).
MAX_GAP_RUN = 1_000
MAX_GAPS = 10_000
# Pruning deletes this many outbox rows per statement, and at most PRUNE_MAX_ROWS per call, so a worker
# catching up on a long-unpruned outbox goes back to following between calls.
PRUNE_BATCH = 5_000
PRUNE_MAX_ROWS = 200_000

_write_lock = threading.Lock()


class GenerationChanged(Exception):
    """A rebuild switched this node to a new generation while a follower was applying to the old one."""


class BuildBusy(Exception):
    """Another process is already building this node's next generation."""


@dataclass
class ApplyResult:
    applied: int = 0
    position: int = 0
    busy: bool = False
    missing: bool = False


@dataclass
class PruneResult:
    deleted: int = 0
    # Rows with an id up to this one may go (and have, unless PRUNE_MAX_ROWS stopped this call).
    through: int = 0
    lagging: list[str] = field(default_factory=list)  # nodes marked to rebuild by this call


@dataclass
class BuildProgress:
    done: int
    total: int
    generation: str
    resumed: bool = False
    workers: int = 0  # segmenting worker processes
    started: float = field(default_factory=time.monotonic)


def node() -> str:
    return str(settings.RULECENTER_SEARCH_NODE)[:100]


def replica_get() -> Replica:
    replica, _created = Replica.objects.get_or_create(node=node())
    return replica


def live_generation(replica: Replica) -> str | None:
    """The replica's generation if it is on disk and usable, repairing CURRENT if a switch was cut short."""
    generation = replica.generation
    if not generation or not engine.generation_usable(generation):
        return None
    if engine.current_generation() != generation:
        engine.set_current(generation)
    return generation


# ------------------------------------------------------------------------------------------------ follow


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
        _replace(writer, documents.announcement_key(pk), [doc] if doc else [])
    for pk, docs in documents.rule_documents(rules).items():
        _replace(writer, documents.rule_key(pk), docs)


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
        for start in range(0, len(rule_pks), 200):
            apply_entities(writer, [(OutboxEntry.Entity.RULE, pk) for pk in rule_pks[start : start + 200]])
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


class CatchUp(enum.Enum):
    CURRENT = "current"  # the index the caller holds is up to date
    CHANGED = "changed"  # rows were applied or the index was switched or built: reopen it
    MISSING = "missing"  # this node has no index to search


# When this process last found its index current (by _clock), for RULECENTER_SEARCH_CATCH_UP_MS.
_current_since = 0.0
_clock = time.monotonic


def catch_up_forget() -> None:
    """The next search looks for changes again (this process just wrote some)."""
    global _current_since
    _current_since = 0.0


def catch_up(*, current: str | None) -> CatchUp:
    """Before a search on a node without a running worker: apply what is pending if the writer is free.

    `current` is the generation the caller's reader holds. A node whose index is missing, or is not the
    one its replica row records (a new database, a wiped directory), repairs it: it switches back to the
    recorded generation, or builds one here when the database is small (the demo); otherwise the search
    reports the index as missing until `rulecenter reindex` or `rulecenter index_worker` has built it.

    A process that found its index current less than RULECENTER_SEARCH_CATCH_UP_MS ago does not ask
    again: under load, one look per interval instead of a query per search.
    """
    global _current_since
    interval = settings.RULECENTER_SEARCH_CATCH_UP_MS / 1000
    if current is not None and interval > 0 and _clock() - _current_since < interval:
        return CatchUp.CURRENT
    result = _catch_up(current=current)
    if result is not CatchUp.MISSING:
        _current_since = _clock()
    return result


def _catch_up(*, current: str | None) -> CatchUp:
    state = lag()
    generation = state.generation
    changed = False
    if not generation or current != generation:
        generation = live_generation(replica_get()) or ""
        changed = True
    # Rows this index never saw were pruned: a small database rebuilds here and now; otherwise the worker
    # rebuilds, and meanwhile this index goes on following the newer changes.
    if generation and not (state.must_rebuild and _small_database()):
        if state.newest > state.position:
            changed = apply_pending(limit=settings.RULECENTER_SEARCH_BATCH_SIZE * 4).applied > 0 or changed
        return CatchUp.CHANGED if changed else CatchUp.CURRENT
    if not generation and not _small_database():
        return CatchUp.MISSING
    with contextlib.suppress(BuildBusy):
        rebuild()
    return CatchUp.CHANGED


def _small_database() -> bool:
    return documents.announcement_count() + len(documents.rule_pks()) <= INLINE_BUILD_LIMIT


# ------------------------------------------------------------------------------------------------- build


def _prepared(
    row_batches: Iterator[list[prepare.AnnouncementRow]], pool: "multiprocessing.pool.Pool | None"
) -> Iterator[list[dict[str, Any]]]:
    """Documents for each batch of rows, in order; made by the pool's workers when there is one."""
    categories = documents.category_names()
    if pool is None:
        for rows in row_batches:
            yield prepare.announcement_batch(rows, categories)
        return
    # The rows are read here, in this thread (Django's connection is per thread); a few batches are in
    # flight at a time, and the documents come back in id order.
    in_flight: collections.deque[multiprocessing.pool.AsyncResult[list[dict[str, Any]]]] = collections.deque()
    for rows in row_batches:
        in_flight.append(pool.apply_async(prepare.announcement_batch, (rows, categories)))
        if len(in_flight) > POOL_IN_FLIGHT:
            yield in_flight.popleft().get()
    while in_flight:
        yield in_flight.popleft().get()


def _read_ahead[T](batches: Iterator[T], *, busy: Callable[[], bool], limit: int) -> Iterator[T]:
    """The batches in order; while `busy()`, up to `limit` of them are made ahead instead of waiting."""
    ahead: collections.deque[T] = collections.deque()
    for batch in batches:
        ahead.append(batch)
        if busy() and len(ahead) < limit:
            continue
        while ahead:
            yield ahead.popleft()
    yield from ahead


class _BackgroundCommit:
    """Commits a build's writer in another thread: tantivy releases the GIL while it writes the segments,
    so the build reads and segments the next documents meanwhile. The progress a commit makes durable is
    recorded once it has finished, and the writer is used again only then."""

    def __init__(self, writer: tantivy.IndexWriter, generation: str) -> None:
        self.writer = writer
        self.generation = generation
        self.executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="search-commit")
        self.running: concurrent.futures.Future[int] | None = None
        self.progress: dict[str, int] = {}

    def busy(self) -> bool:
        return self.running is not None and not self.running.done()

    def start(self, progress: dict[str, int]) -> None:
        self.settle()
        self.progress = progress
        self.running = self.executor.submit(self.writer.commit)

    def settle(self) -> None:
        """Wait for the commit in flight, if any, and record the progress it made durable."""
        running, self.running = self.running, None
        if running is not None:
            running.result()
            _save_build(self.generation, self.progress)

    def close(self) -> None:
        self.executor.shutdown(wait=True)


def _save_build(generation: str, progress: dict[str, int]) -> None:
    Replica.objects.filter(node=node(), building=generation).update(
        build_progress=progress, updated_at=timezone.now()
    )


def rebuild(
    *, restart: bool = False, on_progress: Callable[[BuildProgress], None] | None = None
) -> BuildProgress:
    """Build a new generation from the database and make it live; resumes an interrupted build.

    Announcements go in id order and rules after them; every `BUILD_COMMIT_DOCS` documents the index is
    committed and the last id recorded. On resume, whatever was committed after the recorded id is deleted
    first, so nothing is added twice.
    """
    with transaction.atomic():
        replica = Replica.objects.select_for_update().get_or_create(node=node())[0]
        resumable = (
            not restart
            and replica.building
            and engine.generation_usable(replica.building)
            # Outbox rows after its starting point were pruned: it could never catch up.
            and replica.build_position >= replica.missed_through
        )
        if not resumable:
            if replica.building:
                engine.generations_remove(keep={replica.generation} - {""})
            replica.building = engine.generation_create()
            # Before reading any content: every change from here on is in the outbox after this id (ids are
            # never reused, so that holds for the last pruned id too when the outbox is empty).
            newest = OutboxEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
            replica.build_position = max(newest, replica.missed_through)
            replica.build_progress = {"announcement": 0, "done": 0}
            replica.save()
        generation = replica.building
        progress_state = {key: int(value) for key, value in replica.build_progress.items()}
    total = documents.announcement_count() + len(documents.rule_pks())
    # Segmenting is most of the work and holds the GIL: big builds spread it over worker processes
    # (spawned, not forked: this process may already run tantivy's threads).
    # One core stays with this process (reading rows, handing documents to tantivy) and tantivy's threads.
    # On two cores the pool costs more than it saves: measured at 100,000 documents, two workers built no
    # faster than none (6,470 vs 6,455 docs/s) for half as much CPU again per document (296 vs 199 µs),
    # and one worker was slower (5,245 docs/s): it segments no faster than the reading thread did.
    cores = os.cpu_count() or 1
    workers = cores - 1 if cores >= 3 and total - progress_state.get("done", 0) >= POOL_MIN_DOCS else 0
    pool = multiprocessing.get_context("spawn").Pool(workers) if workers else None
    index = engine.open_index(generation)
    writer = engine.open_writer(index, heap_bytes=BUILD_HEAP_BYTES, threads=0)
    if writer is None:
        if pool:
            pool.terminate()
        raise BuildBusy(generation)
    try:
        progress = BuildProgress(
            done=progress_state.get("done", 0),
            total=total,
            generation=generation,
            resumed=bool(resumable),
            workers=workers,
        )
        schema = index.schema
        after = progress_state.get("announcement", 0)
        if resumable:
            writer.delete_documents_by_query(
                tantivy.Query.range_query(schema, "pk", tantivy.FieldType.Integer, lower_bound=after + 1)
            )
            writer.delete_documents_by_term("source", SOURCE_RULE)
        pending = 0
        commits = _BackgroundCommit(writer, generation)
        try:
            # While a commit writes its segments, the next batches are read and segmented.
            batches = _read_ahead(
                _prepared(documents.announcement_rows(after=after, size=BUILD_BATCH), pool),
                busy=commits.busy,
                limit=BUILD_READ_AHEAD,
            )
            for batch in batches:
                commits.settle()
                for fields in batch:
                    writer.add_document(engine.to_tantivy(fields))
                pending += len(batch)
                progress.done += len(batch)
                after = batch[-1]["pk"]
                if pending >= BUILD_COMMIT_DOCS:
                    commits.start({"announcement": after, "done": progress.done})
                    pending = 0
                if on_progress:
                    on_progress(progress)
            commits.settle()
        finally:
            # An interrupted build keeps the progress its last commit made durable.
            with contextlib.suppress(Exception):
                commits.settle()
            commits.close()
        rule_pks = documents.rule_pks()
        for start in range(0, len(rule_pks), 200):
            chunk = rule_pks[start : start + 200]
            for docs in documents.rule_documents(chunk).values():
                for doc in docs:
                    writer.add_document(doc.to_tantivy())
            progress.done += len(chunk)
            if on_progress:
                on_progress(progress)
        writer.commit()
        writer.wait_merging_threads()
        writer = None
    finally:
        writer = None
        if pool:
            pool.terminate()
            pool.join()
    with transaction.atomic():
        replica = Replica.objects.select_for_update().get(node=node())
        previous = replica.generation
        replica.generation = generation
        replica.position = replica.build_position
        replica.gaps = []
        if replica.missed_through <= replica.build_position:
            replica.missed_through = 0  # else rows were pruned during the build: it is behind already
        replica.building = ""
        replica.build_position = 0
        replica.build_progress = {}
        replica.save()
    engine.set_current(generation)
    engine.generations_remove(keep={generation})
    logger.info("search index %s built (%s items), replacing %s", generation, progress.total, previous or "-")
    return progress


# ------------------------------------------------------------------------------------------------- prune


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


def prune_outbox() -> PruneResult:
    """Delete the outbox rows no node needs, and those past the retention period whoever still needs them.

    A node that had not applied a row deleted for its age is marked (`missed_through`) in the same
    transaction that decides the deletion, before anything is deleted: it rebuilds rather than follow on
    as if nothing were missing. The deletes go in batches of PRUNE_BATCH rows, each its own statement.
    """
    retention_days = settings.RULECENTER_SEARCH_OUTBOX_RETENTION_DAYS
    cutoff = timezone.now() - timedelta(days=retention_days)
    result = PruneResult()
    with transaction.atomic():
        # Locking every replica holds back cursors and rebuild starts while the line is drawn.
        replicas = list(Replica.objects.select_for_update().order_by("node"))
        newest = OutboxEntry.objects.order_by("-id").values_list("id", flat=True).first()
        if newest is None:
            return result
        needs = [needed for replica in replicas if (needed := _needed_after(replica)) is not None]
        through = min([newest, *needs])
        # Rows are (nearly) in id order of age: every row below the first recent one has expired.
        first_recent = (
            OutboxEntry.objects.filter(created_at__gte=cutoff)
            .order_by("id")
            .values_list("id", flat=True)
            .first()
        )
        expired = (
            OutboxEntry.objects.all()
            if first_recent is None
            else OutboxEntry.objects.filter(id__lt=first_recent)
        )
        expired_through = expired.order_by("-id").values_list("id", flat=True).first() or 0
        if expired_through > through:
            through = expired_through
            for replica in replicas:
                # (A row still awaited, minutes old, is not one past the retention period.)
                needed = _needed_after(replica, awaited=False)
                if needed is not None and needed < through:
                    replica.missed_through = max(replica.missed_through, through)
                    replica.save(update_fields=["missed_through", "updated_at"])
                    result.lagging.append(replica.node)
                    logger.warning(
                        "search node %s had not applied outbox rows up to #%s, older than %s days and now "
                        "pruned: it must rebuild its index",
                        replica.node,
                        through,
                        retention_days,
                    )
        result.through = through
    while result.deleted < PRUNE_MAX_ROWS:
        ids = list(
            OutboxEntry.objects.filter(id__lte=through)
            .order_by("id")
            .values_list("id", flat=True)[:PRUNE_BATCH]
        )
        if not ids:
            break
        deleted, _by_model = OutboxEntry.objects.filter(id__gte=ids[0], id__lte=ids[-1]).delete()
        result.deleted += deleted
    return result
