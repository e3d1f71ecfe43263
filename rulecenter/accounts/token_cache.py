"""API tokens and signed-in users answered from memory: a warm process serves a known token, or the user
(with their member row) a sign-in session names, without a query or a round trip.

A token's grant (`selectors.TokenGrant`: whose token, the roles it acts in, its expiry) is looked up in
three layers, each only when the one before has nothing:

1. **This process's memo** (`common.memo.ProcessMemo`): nothing leaves the process.
2. **The shared cache**, when it is one (Redis, memcached, the database or file cache): every process reads
   the same entries. LocMem is each process's own, so with it this layer is skipped rather than trusted.
3. **One plain SQL statement** (`selectors.api_token_grant_read`: the token, its user and its role groups).

What is kept in the first two layers is tagged with the *generation* it was read under and counts only
while that is still the current one, for at most `RULECENTER_TOKEN_CACHE_SECONDS` (60 s).

The generation is one row (`GrantGeneration`). Anything that can take a grant away — a token revoked, a
user disabled, renamed, deleted or given a new password, a role group added to or taken from a user, a group
renamed or deleted, a member's row changed — calls `grants_forget`, which raises it by one *in the change's
own transaction* and empties this process's memo (again once the change commits). Each process reads the
row again at most `RULECENTER_TOKEN_MEMO_SECONDS` (1 s) after it last did — one tiny query per second per
process, whatever the number of tokens — and a new value empties its memo. So:
- a revoked token stops on every node within that second after the revoking transaction commits, and at
  once in the process that revoked it;
- an answer read from the database just before the change committed and kept just after carries the older
  generation, so no process that has seen the new one believes it (deleting entries instead would race
  with it, and a user change would have to find every token of that user);
- no process is told anything and a token in steady use — a partner's tool, a member re-voting — costs no
  query at all for a minute, then one read.
Changes through the services arrive by the change hook (`content_changed`: a token revoked, a user
changed); writes that only Django sees (the admin's user and member forms, `user.groups`, `User.save()`) by
model signals. Both are connected in `receivers`.

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
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
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

from . import selectors, services
from .selectors import TokenGrant
from .services import TOKEN_TOUCH_INTERVAL
from .tasks import api_token_use_record

logger = logging.getLogger("rulecenter.accounts")

GRANT_KEY = "rc:token-grant:{key_hash}"
USER_KEY = "rc:signed-in-user:{user_id}"
# Enough for every token in use within a minute on one process — a consultation's last evening brings tens
# of thousands of members — at about 1 KB a grant (~30 MB at most); full, a memo starts afresh (common.memo),
# which at 4,096 made every token of 20,000 in rotation a read. Signed-in page users are fewer and larger.
MEMO_ENTRIES = 32_768
USER_MEMO_ENTRIES = 8_192
TOUCHED_ENTRIES = 16384

# Each value with the generation it was read under.
_memo: ProcessMemo[str, tuple[int, TokenGrant]] = ProcessMemo(max_entries=MEMO_ENTRIES)
_users: ProcessMemo[int, tuple[int, User]] = ProcessMemo(max_entries=USER_MEMO_ENTRIES)
_clock = time.monotonic
# key hash → when this process last had the token's use recorded (or saw it recorded): the task is enqueued
# at most once a minute per token per process.
_touched: dict[str, datetime] = {}


@dataclass(slots=True)
class _Seen:
    """The generation as this process last read it, and when (on `_clock`)."""

    generation: int | None = None
    checked_at: float = -math.inf


_seen = _Seen()


def _memo_seconds() -> float:
    return float(settings.RULECENTER_TOKEN_MEMO_SECONDS)


def _generation(now: float) -> int:
    """The current generation, read again if this process last read it RULECENTER_TOKEN_MEMO_SECONDS ago
    or more; when it has moved, this process's memos are emptied."""
    seen = _seen.generation
    if seen is not None and now - _seen.checked_at < _memo_seconds():
        return seen
    current = selectors.grant_generation_read()
    if current != seen:
        _memo.forget()
        _users.forget()
    _seen.generation, _seen.checked_at = current, now
    return current


def _kept[K, V](memo: ProcessMemo[K, tuple[int, V]], key: K, *, now: float, generation: int) -> V | None:
    found = memo.get(key, now=now)
    return found[1] if found is not None and found[0] == generation else None


def token_grant_kept(*, token: str, at: datetime | None = None) -> TokenGrant | None:
    """The grant this process keeps for `token` under the current generation, if it has not expired by
    `at` (now): no query (but the generation's, once a second). None says nothing about the token: ask
    `token_grant`."""
    key_hash = selectors.api_token_key(token)
    if key_hash is None or _memo_seconds() <= 0:
        return None
    now = _clock()
    grant = _kept(_memo, key_hash, now=now, generation=_generation(now))
    return None if grant is None or grant.is_expired_at(at or timezone.now()) else grant


def token_grant(*, token: str, at: datetime | None = None) -> TokenGrant | None:
    """The grant of `token` if it is unrevoked, unexpired at `at` (now) and its user active; else None."""
    key_hash = selectors.api_token_key(token)
    if key_hash is None:
        return None
    grant = _kept_or_read(
        _memo,
        key_hash,
        GRANT_KEY.format(key_hash=key_hash),
        lambda: selectors.api_token_grant_read(key_hash=key_hash),
    )
    return None if grant is None or grant.is_expired_at(at or timezone.now()) else grant


def _kept_or_read[K, V](
    memo: ProcessMemo[K, tuple[int, V]], key: K, shared_key: str, read: Callable[[], V | None]
) -> V | None:
    """The value kept here or in the shared cache under the current generation; else `read()`, kept in both.

    The generation is taken before the read: a change committed after it raises the generation, so what
    the read returns is kept under the older one and not believed once the change is seen.
    """
    if _memo_seconds() <= 0:
        return read()
    now = _clock()
    generation = _generation(now)
    value = _kept(memo, key, now=now, generation=generation)
    if value is None:
        value = _shared_or_read(shared_key, read, generation=generation)
        if value is None:
            return None
        memo.put(key, (generation, value), until=now + settings.RULECENTER_TOKEN_CACHE_SECONDS)
    return value


def _shared_cache() -> BaseCache | None:
    """The default cache if every process sees the same one; None for LocMem (one per process) or none."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    return None if isinstance(backend, LocMemCache | DummyCache) else backend


def _shared_or_read[T](key: str, read: Callable[[], T | None], *, generation: int) -> T | None:
    """The shared cache's entry at `key` if it carries `generation`; else `read()`, stored there."""
    shared = _shared_cache()
    if shared is None:
        return read()
    try:
        kept = shared.get(key)
    except Exception:
        # Sign-ins must keep working while the cache is down: the database answers instead.
        logger.warning("token grants: the shared cache is unavailable", exc_info=True)
        return read()
    if isinstance(kept, tuple) and len(kept) == 2 and kept[0] == generation:
        value: T = kept[1]
        return value
    value_read = read()
    if value_read is not None:
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
    user = _kept_or_read(
        _users,
        user_id,
        USER_KEY.format(user_id=user_id),
        lambda: selectors.user_signed_in_read(user_id=user_id),
    )
    return None if user is None else _own_copy(user)


def _own_copy(user: User) -> User:
    # Model.__getstate__ copies the instance's state and its cache of related rows; the member is copied too.
    copied = copy.copy(user)
    related = copied._state.fields_cache
    if related.get("member") is not None:
        related["member"] = copy.copy(related["member"])
    return copied


def grants_forget() -> None:
    """Make every kept grant and signed-in user void: raise the generation in the caller's transaction, and
    empty this process's memos at once and again after that transaction commits (another thread of this
    process may read the old answer in between). Other processes follow within RULECENTER_TOKEN_MEMO_SECONDS
    of the commit.
    """
    services.grant_generation_raise()
    _forget_here()
    if connection.in_atomic_block and not any(entry[1] is _forget_here for entry in connection.run_on_commit):
        transaction.on_commit(_forget_here, robust=True)


def process_forget() -> None:
    """Forget what this process keeps (grants, users, the generation read, last-use marks), nothing shared:
    for a test whose database was rolled back under the memo without any change hook firing (token strings
    repeat across tests, ids do not)."""
    _forget_here()
    _touched.clear()


def _forget_here() -> None:
    _memo.forget()
    _users.forget()
    _seen.generation, _seen.checked_at = None, -math.inf


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
        process_forget()
