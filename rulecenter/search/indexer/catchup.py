"""Catching up for a search, on a node where no index worker may run (`make run`, a small site).

The index worker (`rulecenter index_worker`) and the `search_index_apply` task follow the outbox by
themselves. Before a search, the page and the API call `catch_up_for_search()`; with
RULECENTER_SEARCH_CATCH_UP_ON_READ this process then follows as well (`catch_up`): it applies what is
pending when the writer is free, and repairs or builds the index of a small database. Everything that
writes the index lives in this package; the search selector only reads the newest commit.
"""

import contextlib
import enum
import time

from django.conf import settings
from django.utils.translation import gettext as _

from rulecenter.common.memo import ProcessMemo

from .. import documents
from ..backends import tantivy as engine
from ..errors import INDEX_MISSING, SearchUnavailable
from .build import BuildBusy, rebuild
from .follow import apply_pending, lag
from .replica import live_generation, node, replica_get

# A node whose database holds at most this many items builds its first index inline, on the first search
# (the demo, `make run`); a bigger one needs `rulecenter reindex` or the index worker.
INLINE_BUILD_LIMIT = 5_000


class CatchUp(enum.Enum):
    CURRENT = "current"  # the index the caller holds is up to date
    CHANGED = "changed"  # rows were applied or the index was switched or built: reopen it
    MISSING = "missing"  # this node has no index to search


# Which node's index (by node and directory) this process found current lately, for
# RULECENTER_SEARCH_CATCH_UP_MS on `_clock`.
_current: ProcessMemo[tuple[str, str], bool] = ProcessMemo(max_entries=8)
_clock = time.monotonic


def catch_up_forget() -> None:
    """The next search looks for changes again (this process just wrote some)."""
    _current.forget()


def catch_up_for_search() -> None:
    """What the search page and the API ask of the follower before they search (the selector only reads).

    With RULECENTER_SEARCH_CATCH_UP_ON_READ this process follows too: it applies what is pending when the
    writer is free, and repairs or builds a small database's index (`catch_up`); an index this node cannot
    serve (none, or one left by another database) raises SearchUnavailable. Without the setting, nothing.
    """
    if not settings.RULECENTER_SEARCH_CATCH_UP_ON_READ:
        return
    # Found current lately, and the reader holds an index: nothing to ask. The selector's reader still
    # looks at the index files (two stat calls) before it searches; no need to look twice.
    if engine.reader.holds_index() and _found_current_lately(_key()):
        return
    try:
        _index, _schema, generation = engine.reader.get()
    except engine.IndexMissing:
        generation = None
    if catch_up(current=generation) is CatchUp.MISSING:
        raise SearchUnavailable(_(INDEX_MISSING))


def catch_up(*, current: str | None) -> CatchUp:
    """Before a search on a node without a running worker: apply what is pending if the writer is free.

    `current` is the generation the caller's reader holds. A node whose index is missing, or is not the
    one its replica row records (a new database, a wiped directory), repairs it: it switches back to the
    recorded generation, or builds one here when the database is small (the demo); otherwise the search
    reports the index as missing until `rulecenter reindex` or `rulecenter index_worker` has built it.

    A process that found its index current less than RULECENTER_SEARCH_CATCH_UP_MS ago does not ask
    again: under load, one look per interval instead of a query per search.
    """
    interval = settings.RULECENTER_SEARCH_CATCH_UP_MS / 1000
    key = _key()
    if current is not None and _found_current_lately(key):
        return CatchUp.CURRENT
    result = _catch_up(current=current)
    if result is not CatchUp.MISSING and interval > 0:
        _current.put(key, True, until=_clock() + interval)
    return result


def _key() -> tuple[str, str]:
    return node(), str(settings.RULECENTER_SEARCH_INDEX_DIR)


def _found_current_lately(key: tuple[str, str]) -> bool:
    return settings.RULECENTER_SEARCH_CATCH_UP_MS > 0 and bool(_current.get(key, now=_clock()))


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
