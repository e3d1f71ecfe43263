"""Rebuilding: a new generation written beside the live one from the database, then made live.

It notes the outbox position before it reads anything (the follower re-applies every change made while it
runs) and commits and records its progress every `BUILD_COMMIT_DOCS` documents, so an interrupted rebuild
resumes.
"""

import collections
import concurrent.futures
import contextlib
import logging
import multiprocessing
import multiprocessing.pool
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import tantivy
from django.db import transaction
from django.utils import timezone

from .. import documents, prepare
from ..backends import tantivy as engine
from ..backends.tantivy import SOURCE_RULE
from ..models import OutboxEntry, Replica
from .replica import node

logger = logging.getLogger(__name__)

BUILD_BATCH = 2_000
BUILD_COMMIT_DOCS = 100_000
BUILD_HEAP_BYTES = 400_000_000
BUILD_READ_AHEAD = 10  # batches made ahead while a commit runs
POOL_MIN_DOCS = 50_000
POOL_IN_FLIGHT = 8
RULE_BATCH = 200

OnProgress = Callable[["BuildProgress"], None]


class BuildBusy(Exception):
    """Another process is already building this node's next generation."""


@dataclass
class BuildProgress:
    done: int
    total: int
    generation: str
    resumed: bool = False
    workers: int = 0  # segmenting worker processes
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class _Start:
    """Where a build begins: its generation, and what an interrupted run of it had committed."""

    generation: str
    resumed: bool
    after: int  # the last announcement id committed
    done: int  # documents committed


def rebuild(*, restart: bool = False, on_progress: OnProgress | None = None) -> BuildProgress:
    """Build a new generation from the database and make it live; resumes an interrupted build.

    Announcements go in id order and rules after them; every `BUILD_COMMIT_DOCS` documents the index is
    committed and the last id recorded. On resume, whatever was committed after the recorded id is deleted
    first, so nothing is added twice.
    """
    start = _begin(restart=restart)
    total = documents.announcement_count() + len(documents.rule_pks())
    workers = _segmenting_workers(remaining=total - start.done)
    progress = BuildProgress(
        done=start.done, total=total, generation=start.generation, resumed=start.resumed, workers=workers
    )
    index = engine.open_index(start.generation)
    writer = engine.open_writer(index, heap_bytes=BUILD_HEAP_BYTES, threads=0)
    if writer is None:
        raise BuildBusy(start.generation)
    # Spawned, not forked: this process may already run tantivy's threads.
    pool = multiprocessing.get_context("spawn").Pool(workers) if workers else None
    try:
        if start.resumed:
            _drop_uncommitted_tail(writer, index.schema, after=start.after)
        _add_announcements(writer, progress, after=start.after, pool=pool, on_progress=on_progress)
        _add_rules(writer, progress, on_progress=on_progress)
        writer.commit()
        writer.wait_merging_threads()
    finally:
        writer = None  # releases the writer's lock before the switch
        if pool:
            pool.terminate()
            pool.join()
    previous = _go_live(start.generation)
    logger.info("search index %s built (%s items), replacing %s", start.generation, total, previous or "-")
    return progress


def _begin(*, restart: bool) -> _Start:
    """Resume this node's unfinished build, or start a new generation (dropping an unfinished one)."""
    with transaction.atomic():
        replica = Replica.objects.select_for_update().get_or_create(node=node())[0]
        resumable = (
            not restart
            and bool(replica.building)
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
        committed = {key: int(value) for key, value in replica.build_progress.items()}
    return _Start(
        generation=replica.building,
        resumed=resumable,
        after=committed.get("announcement", 0),
        done=committed.get("done", 0),
    )


def _segmenting_workers(*, remaining: int) -> int:
    """How many processes segment the documents: none for a small build or on fewer than three cores.

    Segmenting is most of the work and holds the GIL: big builds spread it over worker processes. One core
    stays with this process (reading rows, handing documents to tantivy) and tantivy's threads. On two cores
    the pool costs more than it saves: measured at 100,000 documents, two workers built no faster than none
    (6,470 vs 6,455 docs/s) for half as much CPU again per document (296 vs 199 µs), and one worker was
    slower (5,245 docs/s): it segments no faster than the reading thread did.
    """
    cores = os.cpu_count() or 1
    return cores - 1 if cores >= 3 and remaining >= POOL_MIN_DOCS else 0


def _drop_uncommitted_tail(writer: tantivy.IndexWriter, schema: tantivy.Schema, *, after: int) -> None:
    """On resume: delete what was committed after the recorded progress (announcements past `after`, and
    every rule: they go last), so nothing is added twice."""
    writer.delete_documents_by_query(
        tantivy.Query.range_query(schema, "pk", tantivy.FieldType.Integer, lower_bound=after + 1)
    )
    writer.delete_documents_by_term("source", SOURCE_RULE)


def _add_announcements(
    writer: tantivy.IndexWriter,
    progress: BuildProgress,
    *,
    after: int,
    pool: "multiprocessing.pool.Pool | None",
    on_progress: OnProgress | None,
) -> None:
    """Every published announcement past `after`, committed and recorded every `BUILD_COMMIT_DOCS`."""
    pending = 0
    commits = _BackgroundCommit(writer, progress.generation)
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


def _add_rules(
    writer: tantivy.IndexWriter, progress: BuildProgress, *, on_progress: OnProgress | None
) -> None:
    """Every rule's version documents (few: thousands), committed with the last announcements."""
    rule_pks = documents.rule_pks()
    for start in range(0, len(rule_pks), RULE_BATCH):
        chunk = rule_pks[start : start + RULE_BATCH]
        for docs in documents.rule_documents(chunk).values():
            for doc in docs:
                writer.add_document(doc.to_tantivy())
        progress.done += len(chunk)
        if on_progress:
            on_progress(progress)


def _go_live(generation: str) -> str:
    """Make the built generation this node's live one and remove the others; returns the one replaced."""
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
    return previous


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
