"""Reads from PostgreSQL streaming replicas, writes to the primary, and every writer reads their own writes
(issue 14, docs/deployment.md#replicas).

`DATABASE_REPLICA_URLS` adds each replica as a database alias `replica1`, `replica2`, … Then:

- **What reads where.** A page or API request with a safe method (GET, HEAD, OPTIONS) reads from a replica
  (one of those that can serve, at random); every other request, every transaction (a read inside `atomic()`
  sees its own writes) and everything outside a request (commands, workers, the index follower) use the
  primary. The choice is made once per request by
  `ReadRoutingMiddleware` and kept in a context variable the router reads: Django's `DATABASE_ROUTERS`, no
  second connection pool.
- **Read-your-writes.** After a write request that was not refused (below 400), the primary's WAL position
  (`pg_current_wal_lsn()`) is kept for the writer: in a cookie for browsers (`rulecenter_wrote`), under the
  bearer token's hash in the cache for API clients. Until a replica has replayed past it (`pg_last_wal_replay_lsn()`), that writer's reads go
  to the primary — never a fixed sleep. The pin lasts at most `RULECENTER_REPLICA_MAX_LAG_SECONDS`: a replica
  further behind than that is not read from anyway.
- **A replica that cannot serve is skipped:** down, or more than `RULECENTER_REPLICA_MAX_LAG_SECONDS` behind
  (`now() - pg_last_xact_replay_timestamp()` while it has WAL still to replay; 0 when it has replayed all it
  received). Each process asks each replica at most once a second.
- **The primary lost:** reads keep going to a replica (a writer's pin too, for `PRIMARY_RETRY_SECONDS` after
  the primary failed), and so do the reads of who may do what (`authority`: token grants, the grants'
  generation — on the primary otherwise, so a revocation counts at once); a read that failed on the primary is
  read again from the replica; writes answer 503 (common.problems), so the site stays readable.
"""

import contextvars
import hashlib
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest, HttpResponseBase

logger = logging.getLogger(__name__)

PRIMARY = "default"
REPLICA_PREFIX = "replica"
COOKIE = "rulecenter_wrote"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CHECK_SECONDS = 1.0
PRIMARY_RETRY_SECONDS = 5.0

_reads_from: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "rulecenter_reads_from", default=None
)


def replica_aliases() -> list[str]:
    return [alias for alias in settings.DATABASES if alias.startswith(REPLICA_PREFIX)]


class ReplicaRouter:
    """Django's router: reads where the request chose (a replica or the primary), writes and migrations on
    the primary, and inside a transaction on the primary everything there."""

    def db_for_read(self, model: object, **hints: Any) -> str:
        return read_alias()

    def db_for_write(self, model: object, **hints: Any) -> str:
        return PRIMARY

    def allow_relation(self, obj1: object, obj2: object, **hints: Any) -> bool:
        return True  # the replicas are copies of the primary: the same rows

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == PRIMARY


def read_alias() -> str:
    """Where this request's reads go: its replica, or the primary (outside a request, inside a transaction)."""
    alias = _reads_from.get()
    if alias is None or connections[PRIMARY].in_atomic_block:
        return PRIMARY
    return alias


def reading() -> BaseDatabaseWrapper:
    """The connection a raw-SQL read uses: where the router sends this request's reads (a replica or the
    primary). `django.db.connection` is always the primary."""
    return connections[read_alias()]


def authority() -> BaseDatabaseWrapper:
    """The connection for who-may-do-what (a token's grant, the grants' generation): the primary, so a
    revocation counts on every node within a second whatever a replica's lag; while the primary cannot be
    reached — when nothing can be revoked — the replica this request reads from, so signed-in members and
    API clients keep reading."""
    return connections[authority_alias()]


def authority_alias() -> str:
    alias = _reads_from.get()
    return alias if alias is not None and replicas.primary_down else PRIMARY


@dataclass(frozen=True)
class ReplicaState:
    alias: str
    up: bool  # it answers
    in_recovery: bool  # still a replica (not promoted)
    lag_seconds: float  # 0 when it has replayed all the WAL it received
    replayed: str | None  # pg_last_wal_replay_lsn()
    checked_at: float


class _Replicas:
    """Each replica's state as this process last saw it, asked again once CHECK_SECONDS have passed."""

    def __init__(self) -> None:
        self._states: dict[str, ReplicaState] = {}
        self._lock = threading.Lock()
        self.primary_down_until = 0.0

    def state(self, alias: str, *, fresh: bool = False) -> ReplicaState:
        known = self._states.get(alias)
        now = time.monotonic()
        if known is not None and not fresh and now - known.checked_at < CHECK_SECONDS:
            return known
        # One thread asks; the others go on with what was known rather than wait behind it (a replica that does
        # not answer holds the asker for its connect timeout).
        if not self._lock.acquire(blocking=known is None or fresh):
            return known  # type: ignore[return-value]  # not None: it blocks when nothing is known
        try:
            known = self._states.get(alias)
            if known is not None and not fresh and time.monotonic() - known.checked_at < CHECK_SECONDS:
                return known
            state = _ask(alias)
            if known is not None and (known.up, known.in_recovery) != (state.up, state.in_recovery):
                logger.warning("replica %s: answers %s, replaying %s", alias, state.up, state.in_recovery)
            self._states[alias] = state
            return state
        finally:
            self._lock.release()

    def usable(self) -> list[ReplicaState]:
        limit = float(settings.RULECENTER_REPLICA_MAX_LAG_SECONDS)
        return [
            state
            for state in map(self.state, replica_aliases())
            # A replica promoted while this process still knows the old primary (a failover under way) is a
            # primary of its own: read from it only while the old one cannot be reached.
            if state.up and (state.in_recovery or self.primary_down) and state.lag_seconds <= limit
        ]

    def primary_failed(self) -> None:
        self.primary_down_until = time.monotonic() + PRIMARY_RETRY_SECONDS

    def replica_failed(self, alias: str) -> None:
        """Not read from again until it is asked again (CHECK_SECONDS)."""
        connections[alias].close()
        self._states[alias] = ReplicaState(alias, False, False, float("inf"), None, time.monotonic())

    @property
    def primary_down(self) -> bool:
        return self.primary_down_until > time.monotonic()


LAG_SQL = """
SELECT pg_is_in_recovery(),
       CASE WHEN NOT pg_is_in_recovery() THEN 0
            WHEN pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()
            THEN COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)
            ELSE 0 END,
       pg_last_wal_replay_lsn()::text
"""


def _ask(alias: str) -> ReplicaState:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(LAG_SQL)
            in_recovery, lag, replayed = cursor.fetchone()
    except DatabaseError as error:
        connections[alias].close()
        logger.debug("replica %s unreachable: %s", alias, error)
        return ReplicaState(alias, False, False, float("inf"), None, time.monotonic())
    return ReplicaState(alias, True, bool(in_recovery), float(lag or 0), replayed, time.monotonic())


replicas = _Replicas()


def database_failed(request: HttpRequest) -> None:
    """The request could not reach the database it used (common.problems / common.views answer 503): remember
    which, so this process leaves it alone for a while and a read is tried once more elsewhere."""
    alias = _reads_from.get()
    # Django marks the connection an error came through (`errors_occurred`): blame the one that failed.
    if connections[PRIMARY].errors_occurred or alias is None:
        replicas.primary_failed()
    if alias is not None and connections[alias].errors_occurred:
        replicas.replica_failed(alias)
    request.rulecenter_database_failed = True  # type: ignore[attr-defined]


def _lsn(text: str | None) -> int | None:
    """A WAL position `X/Y` as a number, None when it does not read as one (a cookie is the client's)."""
    match = _LSN.fullmatch(text or "")
    if match is None:
        return None
    return (int(match[1], 16) << 32) + int(match[2], 16)


_LSN = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})", re.ASCII)


def _token_key(request: HttpRequest) -> str | None:
    authorization = request.META.get("HTTP_AUTHORIZATION", "")
    if not authorization:
        return None
    return "rc:wrote:" + hashlib.sha256(authorization.encode("utf-8", "replace")).hexdigest()[:32]


def _written(request: HttpRequest) -> int | None:
    """The WAL position this client last wrote at, if it wrote in the last RULECENTER_REPLICA_MAX_LAG_SECONDS."""
    written = _lsn(request.COOKIES.get(COOKIE))
    key = _token_key(request)
    if key is not None:
        kept = cache.get(key)  # a miss while Redis is down (common.cache fails soft)
        if isinstance(kept, int):
            written = max(written or 0, kept)
    return written


def choose(request: HttpRequest) -> str | None:
    """Where this request reads: a replica's alias, or None for the primary."""
    if request.method not in SAFE_METHODS:
        return None
    usable = replicas.usable()
    if not usable:
        return None
    written = _written(request)
    random.shuffle(usable)  # several replicas share the reads
    if written is None or replicas.primary_down:
        return usable[0].alias
    for known in usable:
        replayed = _lsn(known.replayed)
        if replayed is None or replayed < written:
            replayed = _lsn(replicas.state(known.alias, fresh=True).replayed)
        if replayed is not None and replayed >= written:
            return known.alias
    return None  # no replica has this writer's last write yet: the primary has it


def wal_position() -> str | None:
    """The primary's WAL position now (after this request's commits), None when it cannot be asked."""
    try:
        with connections[PRIMARY].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()::text")
            return str(cursor.fetchone()[0])
    except DatabaseError:
        return None  # the primary is gone: there is no write to wait for


def _remember_write(request: HttpRequest, response: HttpResponseBase) -> None:
    position = wal_position()
    if position is None:
        return
    seconds = int(settings.RULECENTER_REPLICA_MAX_LAG_SECONDS)
    key = _token_key(request)
    if key is not None:
        value = _lsn(position)
        cache.set(key, value, seconds)
    else:
        response.set_cookie(
            COOKIE, position, max_age=seconds, httponly=True, samesite="Lax", secure=request.is_secure()
        )


class ReadRoutingMiddleware:
    """Chooses where the request reads (see the module's docstring); after a write, keeps where it wrote.
    Without replicas it only hands the request on."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.enabled = bool(replica_aliases())

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not self.enabled:
            return self.get_response(request)
        alias = choose(request)
        response = self._read_from(alias, request)
        if getattr(request, "rulecenter_database_failed", False) and request.method in SAFE_METHODS:
            # A replica (or the primary) went away under this read: read once more where the next choice says,
            # so a reader sees the page rather than the 503 — a read can be repeated. With the primary now
            # known down, the same replica serves what the primary did (`authority`).
            again = choose(request)
            if again != alias or (again is not None and replicas.primary_down):
                request.rulecenter_database_failed = False  # type: ignore[attr-defined]
                response = self._read_from(again, request)
        # A refused request (4xx) wrote nothing: no position to keep, and no query for a flood of refusals.
        if request.method not in SAFE_METHODS and response.status_code < 400:
            _remember_write(request, response)
        return response

    def _read_from(self, alias: str | None, request: HttpRequest) -> HttpResponseBase:
        token = _reads_from.set(alias)
        try:
            return self.get_response(request)
        finally:
            _reads_from.reset(token)
