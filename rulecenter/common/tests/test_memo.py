"""ProcessMemo: a value is answered until its instant, then fetched again; forgetting and size are bounded."""

import pytest

from rulecenter.common.memo import ProcessMemo


def test_a_value_is_kept_until_its_instant_and_not_after() -> None:
    memo: ProcessMemo[str, int] = ProcessMemo()
    memo.put("a", 1, until=10.0)
    assert memo.get("a", now=9.999) == 1
    assert memo.get("a", now=10.0) is None
    assert memo.get("b", now=0.0) is None


def test_get_or_fetch_fetches_once_per_interval_and_never_with_no_interval() -> None:
    memo: ProcessMemo[str, int] = ProcessMemo()
    calls: list[int] = []

    def fetch() -> int:
        calls.append(1)
        return len(calls)

    assert memo.get_or_fetch("k", fetch, now=0.0, seconds=1.0) == 1
    assert memo.get_or_fetch("k", fetch, now=0.5, seconds=1.0) == 1
    assert memo.get_or_fetch("k", fetch, now=1.0, seconds=1.0) == 2
    assert memo.get_or_fetch("k", fetch, now=1.1, seconds=0) == 3
    assert memo.get_or_fetch("k", fetch, now=1.2, seconds=0) == 4
    assert len(calls) == 4


def test_forget_drops_everything() -> None:
    memo: ProcessMemo[str, int] = ProcessMemo()
    memo.put("a", 1, until=100.0)
    memo.forget()
    assert memo.get("a", now=0.0) is None


def test_a_full_memo_starts_afresh_and_stays_bounded() -> None:
    memo: ProcessMemo[int, int] = ProcessMemo(max_entries=3)
    for key in range(10):
        memo.put(key, key, until=100.0)
        assert len(memo) <= 3
    assert memo.get(9, now=0.0) == 9
    memo.put(9, 99, until=100.0)  # replacing a key never clears the others
    assert memo.get(9, now=0.0) == 99


def test_a_memo_needs_room_for_one_value() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ProcessMemo(max_entries=0)
