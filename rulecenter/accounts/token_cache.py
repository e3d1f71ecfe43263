"""API tokens and signed-in users answered from memory: a warm process serves a known token, or the user
(with their member row) a sign-in session names, without a query or a round trip.

A token's grant (`selectors.TokenGrant`: whose token, the roles it acts in, its expiry) is looked up in
three layers, each only when the one before has nothing:

1. **This process's memo** (`common.memo.ProcessMemo`), kept `RULECENTER_TOKEN_MEMO_SECONDS` (1 s) from
   the moment it was read below: nothing leaves the process.
2. **The shared cache**, when it is one (Redis, memcached, the database or file cache): every process reads
   the same entries. LocMem is each process's own, so with it this layer is skipped rather than trusted.
   An entry stays `RULECENTER_TOKEN_CACHE_SECONDS` and counts only while it carries the current
   *generation* (below); the generation and the entry come in one round trip (`get_many`).
3. **One plain SQL statement** (`selectors.api_token_grant_read`: the token, its user and its role groups).

Invalidation: a generation key and a memo of at most a second, rather than deleting entries or telling
processes. Anything that can take a grant away — a token revoked, a user disabled, renamed or deleted, a
role group added to or taken from a user, a group renamed or deleted — calls `grants_forget`, which gives
the shared generation key a new random value, at once and again after the change commits, and empties
this process's memo. Every shared entry read under an older generation is then ignored:
- deleting the token's entry instead would race with a request that read the database just before the
  commit and stores its answer just after (its entry carries the old generation, so it is ignored), and a
  user change would have to find every token of that user;
- no process is told anything: each asks the shared layer (or, without one, the database) again at most
  `RULECENTER_TOKEN_MEMO_SECONDS` after it last did, so a revoked token stops on every node within that
  time (1 s) after the revoking call returns, and the process that revoked it stops at once. The cost is
  one round trip per token per second per process; a token in steady use costs no query at all.
Changes through the services arrive by the change hook (`content_changed`: a token revoked, a user
changed); writes that only Django sees (the admin's user form, `user.groups`, `User.save()`) by model
signals. Both are connected in `receivers`.

Signed-in users (`signed_in_user`, through `backends.SignedInBackend`) go through the same three layers
under the same generation, keyed by the user's id: a vote page no longer reads the user and then the member
for every request. A password change forgets them too (it ends the user's other sessions, which Django
checks against the user's password hash).

Only grants are kept: a refused token is asked of the database each time (the refusal path, which
`RULECENTER_API_ANON_RATE` limits per address), and a grant's expiry is checked at every use.

The token's last use (`last_used_at`) is recorded by a task, enqueued by a process at most once a minute
per token after the request's transaction (if any) commits, and written by one guarded UPDATE
(`services.api_token_touch`): the token's row sees at most one write a minute whatever the number of
processes, and no request writes to it.
"""

import copy
import logging
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.signals import setting_changed
from django.db import connection, transaction
from django.dispatch import receiver
from django.utils import timezone

from rulecenter.common.memo import ProcessMemo

from . import selectors
from .selectors import TokenGrant
from .services import TOKEN_TOUCH_INTERVAL
from .tasks import api_token_use_record

logger = logging.getLogger("rulecenter.accounts")

GENERATION_KEY = "rc:token-grants:generation"
GRANT_KEY = "rc:token-grant:{key_hash}"
USER_KEY = "rc:signed-in-user:{user_id}"
# Enough for every token in steady use on one process; full, the memo starts afresh (common.memo).
MEMO_ENTRIES = 4096
TOUCHED_ENTRIES = 16384

_memo: ProcessMemo[str, TokenGrant] = ProcessMemo(max_entries=MEMO_ENTRIES)
_users: ProcessMemo[int, User] = ProcessMemo(max_entries=MEMO_ENTRIES)
_clock = time.monotonic
# key hash → when this process last had the token's use recorded (or saw it recorded): the task is enqueued
# at most once a minute per token per process.
_touched: dict[str, datetime] = {}


def token_grant_kept(*, token: str, at: datetime | None = None) -> TokenGrant | None:
    """The grant this process read for `token` within RULECENTER_TOKEN_MEMO_SECONDS, if it has not expired
    by `at` (now): no query, no round trip. None says nothing about the token: ask `token_grant`."""
    key_hash = selectors.api_token_key(token)
    seconds = float(settings.RULECENTER_TOKEN_MEMO_SECONDS)
    if key_hash is None or seconds <= 0:
        return None
    grant = _memo.get(key_hash, now=_clock())
    return None if grant is None or grant.is_expired_at(at or timezone.now()) else grant


def token_grant(*, token: str, at: datetime | None = None) -> TokenGrant | None:
    """The grant of `token` if it is unrevoked, unexpired at `at` (now) and its user active; else None."""
    key_hash = selectors.api_token_key(token)
    if key_hash is None:
        return None
    seconds = float(settings.RULECENTER_TOKEN_MEMO_SECONDS)
    now = _clock()  # before the read: a kept grant is never older than `seconds`
    grant = _memo.get(key_hash, now=now) if seconds > 0 else None
    if grant is None:
        grant = _grant_shared_or_read(key_hash)
        if grant is None:
            return None
        if seconds > 0:
            _memo.put(key_hash, grant, until=now + seconds)
    return None if grant.is_expired_at(at or timezone.now()) else grant


def _shared_cache() -> BaseCache | None:
    """The default cache if every process sees the same one; None for LocMem (one per process) or none."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    return None if isinstance(backend, LocMemCache | DummyCache) else backend


def _grant_shared_or_read(key_hash: str) -> TokenGrant | None:
    return _shared_or_read(
        GRANT_KEY.format(key_hash=key_hash), lambda: selectors.api_token_grant_read(key_hash=key_hash)
    )


def _shared_or_read[T](key: str, read: Callable[[], T | None]) -> T | None:
    """The shared cache's entry at `key` if it carries the current generation; else `read()`, stored there."""
    shared = _shared_cache()
    if shared is None:
        return read()
    try:
        found = shared.get_many([GENERATION_KEY, key])
        generation = found.get(GENERATION_KEY)
        if generation is None:
            shared.add(GENERATION_KEY, secrets.token_hex(8), timeout=None)
            generation = shared.get(GENERATION_KEY)
        else:
            kept = found.get(key)
            if isinstance(kept, tuple) and len(kept) == 2 and kept[0] == generation:
                value: T = kept[1]
                return value
    except Exception:
        # Sign-ins must keep working while the cache is down: the database answers instead.
        logger.warning("token grants: the shared cache is unavailable", exc_info=True)
        return read()
    # Read after the generation: a change committed before this read has already replaced it, so an entry
    # stored below with an older generation is never believed.
    value_read = read()
    if value_read is not None and generation is not None:
        try:
            shared.set(key, (generation, value_read), timeout=settings.RULECENTER_TOKEN_CACHE_SECONDS)
        except Exception:
            logger.warning("token grants: the shared cache is unavailable", exc_info=True)
    return value_read


def signed_in_user(*, user_id: int) -> User | None:
    """The user a signed-in session names, with their member row (or its absence) loaded, from the same
    layers and under the same generation as token grants: no query on a warm process, where Django's
    backend reads the user and the vote page then the member (issue 17).

    Active or not: the caller (`backends.SignedInBackend`) checks. Each call gets its own copy, so nothing a
    request sets on its user (a permission cache, a changed field) reaches another request.
    """
    seconds = float(settings.RULECENTER_TOKEN_MEMO_SECONDS)
    now = _clock()  # before the read, as for grants
    user = _users.get(user_id, now=now) if seconds > 0 else None
    if user is None:
        user = _shared_or_read(
            USER_KEY.format(user_id=user_id), lambda: selectors.user_signed_in_read(user_id=user_id)
        )
        if user is None:
            return None
        if seconds > 0:
            _users.put(user_id, user, until=now + seconds)
    return _own_copy(user)


def _own_copy(user: User) -> User:
    # Model.__getstate__ copies the instance's state and its cache of related rows; the member is copied too.
    copied = copy.copy(user)
    related = copied._state.fields_cache
    if related.get("member") is not None:
        related["member"] = copy.copy(related["member"])
    return copied


def grants_forget() -> None:
    """Stop believing every kept grant, here at once and on every process within the memo's lifetime.

    Called inside the transaction of the change and once more after it commits: a process that read the
    database in between keeps the old answer no longer than its memo's lifetime.
    """
    _forget_now()
    if connection.in_atomic_block and not any(entry[1] is _forget_now for entry in connection.run_on_commit):
        transaction.on_commit(_forget_now, robust=True)


def process_forget() -> None:
    """Forget what this process keeps (grants and last-use marks), nothing shared: for a test whose database was
    rolled back under the memo without any change hook firing (token strings repeat across tests, ids do not)."""
    _memo.forget()
    _users.forget()
    _touched.clear()


def _forget_now() -> None:
    _memo.forget()
    _users.forget()
    shared = _shared_cache()
    if shared is None:
        return
    try:
        shared.set(GENERATION_KEY, secrets.token_hex(8), timeout=None)
    except Exception:
        # The entries then end with RULECENTER_TOKEN_CACHE_SECONDS; say so loudly.
        logger.error("token grants: the generation could not be replaced in the shared cache", exc_info=True)


def token_use_record(grant: TokenGrant, *, at: datetime | None = None) -> None:
    """Have the token's last use recorded, at most once a minute per token from this process, by a task
    enqueued after the current transaction commits (at once outside one)."""
    now = at or timezone.now()
    known = [moment for moment in (_touched.get(grant.key_hash), grant.last_used_at) if moment is not None]
    if known and now - max(known) < TOKEN_TOUCH_INTERVAL:
        return
    if len(_touched) >= TOUCHED_ENTRIES:
        _touched.clear()
    _touched[grant.key_hash] = now
    token_id, used_at = grant.token_id, now.isoformat()

    def enqueue() -> None:
        api_token_use_record.enqueue(token_id=token_id, used_at=used_at)

    transaction.on_commit(enqueue, robust=True)


@receiver(setting_changed)
def _forget_on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in {"RULECENTER_TOKEN_MEMO_SECONDS", "RULECENTER_TOKEN_CACHE_SECONDS", "CACHES"}:
        _memo.forget()
        _users.forget()
        _touched.clear()
