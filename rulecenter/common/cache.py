"""Django's Redis cache, failing soft: with Redis down, the site answers from the database (issue 14).

Django's `RedisCache` raises whatever redis-py raises, so a Redis that stops takes every cached page down with
it (a 500 on /news/). `ResilientRedisCache` is that same backend — same keys, same client, same pipeline the
limits use — whose every operation, when Redis cannot be reached, answers as a miss (`get` → the default,
`set`/`add` → not stored, `delete` → nothing deleted) and logs once. After a failure it leaves Redis alone for
`RETRY_SECONDS`, so a Redis host that does not answer costs one connect timeout per process and period, not
one per request; then it tries again. Short socket timeouts (CACHES' OPTIONS) bound that one wait.

What is not a cache decides for itself what Redis being down means: rate limits let reads through
(`common.limits`), sign-in refuses (`SigninCacheHandler`: no lock-out count, no sign-in), the task queue is
RQ's (its producers enqueue after commit and log a failure; the sweeps re-queue what is due).
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

RETRY_SECONDS = 5.0
T = TypeVar("T")


class ResilientRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._down_until = 0.0
        self._lock = threading.Lock()

    def _failed(self, error: RedisError) -> None:
        with self._lock:
            first = self._down_until <= time.monotonic()
            self._down_until = time.monotonic() + RETRY_SECONDS
        if first:
            logger.warning("Redis unreachable, the cache answers as a miss for %ss: %s", RETRY_SECONDS, error)

    def soft(self, call: Callable[[], T], default: T) -> T:
        """`call()`, or `default` when Redis is down or fails now (then left alone for RETRY_SECONDS)."""
        if self._down_until > time.monotonic():
            return default
        try:
            return call()
        except RedisError as error:
            self._failed(error)
            return default

    @property
    def down(self) -> bool:
        """Whether an operation failed in the last RETRY_SECONDS (Redis is left alone until then)."""
        return self._down_until > time.monotonic()

    def reachable(self) -> bool:
        """Whether Redis answers now (a PING), remembered like a failed operation."""
        if self._down_until > time.monotonic():
            return False
        try:
            self._cache.get_client(None).ping()
        except RedisError as error:
            self._failed(error)
            return False
        return True

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self.soft(lambda: super(ResilientRedisCache, self).add(key, value, timeout, version), False)

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self.soft(lambda: super(ResilientRedisCache, self).get(key, default, version), default)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        self.soft(lambda: super(ResilientRedisCache, self).set(key, value, timeout, version), None)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self.soft(lambda: super(ResilientRedisCache, self).touch(key, timeout, version), False)

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self.soft(lambda: super(ResilientRedisCache, self).delete(key, version), False)

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        return self.soft(lambda: super(ResilientRedisCache, self).get_many(keys, version), {})

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self.soft(lambda: super(ResilientRedisCache, self).has_key(key, version), False)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        # No number to give back: a missing key's ValueError, as a cold cache would answer.
        result = self.soft(lambda: super(ResilientRedisCache, self).incr(key, delta, version), None)
        if result is None:
            raise ValueError(f"Key '{key}' not found")
        return result

    def set_many(self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> list[Any]:
        return self.soft(
            lambda: super(ResilientRedisCache, self).set_many(data, timeout, version), list(data)
        )

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        self.soft(lambda: super(ResilientRedisCache, self).delete_many(keys, version), None)

    def clear(self) -> None:
        self.soft(lambda: super(ResilientRedisCache, self).clear(), None)
