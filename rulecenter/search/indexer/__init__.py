"""Keeping this node's index in step with the database: following, catching up, rebuilding, pruning.

Each node (`RULECENTER_SEARCH_NODE`) has a `Replica` row: its live generation and how far into the outbox
it is (`replica.py`).

- **Following** (`follow.py`): a follower applies outbox rows in id order, a batch at a time: it re-reads
  the changed items from the database, replaces their documents (delete by key, then add), commits the
  index, and only then moves the cursor. A crash before the commit loses nothing (the rows are applied
  again); a crash between the commit and the cursor update applies a batch twice, which replaces the same
  documents with themselves — never a duplicate. The writer lock (tantivy's lock file) keeps a second
  follower off the same index. The index worker, the `search_index_apply` task and a catching-up search
  all follow through it.
- **Catching up** (`catchup.py`): what a search on a node without a running worker does first, when
  RULECENTER_SEARCH_CATCH_UP_ON_READ allows: apply what is pending, or build a small database's index.
- **Rebuilding** (`build.py`): a new generation is written beside the live one, committing and recording
  its progress every `BUILD_COMMIT_DOCS` documents so an interrupted rebuild resumes; it notes the outbox
  position before it reads anything, and the follower re-applies every change made while it ran.
- **Pruning** (`prune.py`, run by the index worker): outbox rows go once no node needs them: every node's
  cursor and any unfinished rebuild's starting point are past them. Rows older than
  `RULECENTER_SEARCH_OUTBOX_RETENTION_DAYS` go regardless; a node that had not applied them is marked
  (`Replica.missed_through`) and rebuilds instead of silently skipping what it missed.
"""

from .build import BuildBusy, BuildProgress, rebuild
from .catchup import catch_up, catch_up_for_search, catch_up_forget
from .follow import ApplyResult, Follower, GenerationChanged, apply_pending
from .prune import PruneResult, prune_outbox
from .replica import live_generation, node, replica_get

__all__ = [
    "ApplyResult",
    "BuildBusy",
    "BuildProgress",
    "Follower",
    "GenerationChanged",
    "PruneResult",
    "apply_pending",
    "catch_up",
    "catch_up_for_search",
    "catch_up_forget",
    "live_generation",
    "node",
    "prune_outbox",
    "rebuild",
    "replica_get",
]
