"""What a process read lately, kept in its own memory for a moment, in front of the shared cache or a query.

One idiom for the three places that keep per-process copies (the listing state, rendered news pages, the
search index's "current" mark). Each entry lives until an instant on a monotonic clock the caller passes in,
so a caller (and its tests) keep one clock of their own and the memo does no timing. Reads never wait: the
dict's own atomic operations are enough under the GIL, and a lost race only costs a second fetch.
"""

import weakref
from collections.abc import Callable


class ProcessMemo[K, V]:
    """At most `max_entries` values, each until an instant; full, it starts afresh rather than evicting."""

    _every: "weakref.WeakSet[ProcessMemo[object, object]]" = weakref.WeakSet()

    def __init__(self, *, max_entries: int = 256) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}
        ProcessMemo._every.add(self)  # type: ignore[arg-type]

    @classmethod
    def forget_every(cls) -> None:
        """Empty every memo of this process: for tests, whose database is rolled back under the memos without
        any change hook firing (and whose ids then repeat)."""
        for memo in list(cls._every):
            memo.forget()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K, *, now: float) -> V | None:
        """The value kept for `key` if it is still good at `now`, else None."""
        found = self._entries.get(key)
        return found[1] if found is not None and now < found[0] else None

    def put(self, key: K, value: V, *, until: float) -> V:
        if len(self._entries) >= self.max_entries and key not in self._entries:
            self._entries.clear()  # the keys are few and hot: they come back at once
        self._entries[key] = (until, value)
        return value

    def get_or_fetch(self, key: K, fetch: Callable[[], V], *, now: float, seconds: float) -> V:
        """The kept value, or `fetch()` kept for `seconds` (not kept at all when `seconds` <= 0)."""
        if seconds <= 0:
            return fetch()
        found = self.get(key, now=now)
        if found is not None:
            return found
        return self.put(key, fetch(), until=now + seconds)

    def forget(self) -> None:
        """Drop everything (this process changed what the values were read from)."""
        self._entries.clear()
