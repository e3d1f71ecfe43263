"""The chain's definition: the fast canonical entry is exactly the documented canonical JSON."""

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from rulecenter.audit import chain

TEXT = st.text(max_size=40)  # quotes, backslashes, control characters, CJK, astral planes
IDS = st.lists(st.integers(min_value=0, max_value=2**53), max_size=4)


@given(
    seq=st.integers(min_value=1, max_value=2**62),
    at=st.datetimes(min_value=datetime(1970, 1, 2), timezones=st.just(UTC)),  # noqa: DTZ001 - hypothesis wants naive bounds
    actor_id=st.none() | st.integers(min_value=1, max_value=2**62),
    actor_name=TEXT,
    actor_roles=TEXT,
    kind=TEXT,
    action=TEXT,
    object_ids=IDS,
    rule_ids=IDS,
    data_stored=st.booleans(),
)
def test_the_canonical_entry_is_the_canonical_json_of_the_recorded_fields(
    seq, at, actor_id, actor_name, actor_roles, kind, action, object_ids, rule_ids, data_stored
) -> None:
    digest = "ab" * 32
    fast = chain.entry_canonical(
        seq=seq,
        at=at,
        actor_id=actor_id,
        actor_name=actor_name,
        actor_roles=actor_roles,
        kind=kind,
        action=action,
        object_ids=chain.ids_json(object_ids),
        rule_ids=chain.ids_json(rule_ids),
        data_sha256=digest,
        data_stored=data_stored,
    )
    documented = json.dumps(
        {
            "action": action,
            "actor_id": actor_id,
            "actor_name": actor_name,
            "actor_roles": actor_roles,
            "at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "data_sha256": digest,
            "data_stored": data_stored,
            "kind": kind,
            "object_ids": object_ids,
            "rule_ids": rule_ids,
            "seq": seq,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert fast == documented


def test_times_are_hashed_in_utc_whatever_their_zone() -> None:
    shanghai = timezone(timedelta(hours=8))
    assert chain.at_text(datetime(2025, 3, 2, 10, tzinfo=shanghai)) == "2025-03-02T02:00:00.000000Z"
    naive = datetime(2025, 3, 2, 2)  # noqa: DTZ001 - as SQLite returns stored times: UTC, no zone
    assert chain.at_text(naive) == "2025-03-02T02:00:00.000000Z"


def test_data_is_written_as_canonical_json_with_dates_and_sets_spelled_out() -> None:
    data = {"b": {2, 1}, "a": datetime(2025, 3, 2, 10, tzinfo=timezone(timedelta(hours=8))), "c": "发货"}
    data |= {"d": date(2025, 3, 2), "e": Decimal("1.50")}

    assert chain.canonical_json(data) == (
        '{"a":"2025-03-02T02:00:00+00:00","b":[1,2],"c":"发货","d":"2025-03-02","e":"1.50"}'
    )


def test_a_checkpoint_is_read_as_seq_colon_hash() -> None:
    assert chain.expected_from_text(f" 12:{'AB' * 32} ") == (12, "ab" * 32)
    for bad in ("12", "0:" + "a" * 64, "x:" + "a" * 64, "12:" + "a" * 63, "12:" + "g" * 64):
        try:
            chain.expected_from_text(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")
