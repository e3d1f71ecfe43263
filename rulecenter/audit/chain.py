"""The chain's arithmetic, defined once: canonical JSON, the canonical entry, the entry hash, verification.

No database here: the receiver hashes what it writes with these functions, and `verify_rows` recomputes the
chain from rows however they were read (the command streams them from the database, the benchmark too).
docs/audit.md states the same definition for anyone re-implementing verify outside this code:

    canonical JSON   json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False), UTF-8
    canonical entry  the canonical JSON of the object
                       {"action", "actor_id", "actor_name", "actor_roles", "at", "data_sha256",
                        "data_stored", "kind", "object_ids", "rule_ids", "seq"}
                     — every recorded field but `hash`, `prev_hash` and the data text itself, which it
                     covers through `data_sha256` (and `data_stored`, whether the text was kept);
                     `at` is UTC as "YYYY-MM-DDTHH:MM:SS.ffffffZ", ids are JSON arrays of integers
    hash             hex(SHA-256(UTF-8(prev_hash ‖ decimal seq ‖ canonical entry))); prev_hash of seq 1
                     is 64 zeros. prev_hash has a fixed length and the entry starts with "{", so the
                     concatenation needs no separator.
"""

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any
from uuid import UUID

from django.utils.functional import Promise
from django.utils.translation import gettext as _

GENESIS_HASH = "0" * 64
AT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# The columns verification reads, in this order (the command's SELECT, the benchmark's rows).
ROW_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_name",
    "actor_roles",
    "kind",
    "action",
    "object_ids",
    "rule_ids",
    "data",
    "data_sha256",
    "prev_hash",
    "hash",
)

_IDS = re.compile(r"\[(?:(?:0|-?[1-9][0-9]*)(?:,(?:0|-?[1-9][0-9]*))*)?\]")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ENTRY = (
    '{"action":%s,"actor_id":%s,"actor_name":%s,"actor_roles":%s,"at":"%s","data_sha256":"%s",'
    '"data_stored":%s,"kind":%s,"object_ids":%s,"rule_ids":%s,"seq":%d}'
)

BREAK_MISSING = "第 {seq} 条缺失：记录被删除（下一条是第 {found} 条）。"
BREAK_LINK = (
    "第 {seq} 条与第 {prev} 条接不上（前一哈希不符）：第 {seq} 条被插入、替换或调换了顺序，"
    "或第 {prev} 条连同哈希被改写。"
)
BREAK_EDITED = "第 {seq} 条被改动：按其内容重新计算的哈希与记录的哈希不符。"
BREAK_DATA = "第 {seq} 条的内容被改动：内容的 SHA-256 与记录的不符。"
BREAK_CHECKPOINT = "第 {seq} 条的哈希与{label}不符：链在第 {seq} 条或更早处被改写。"
BREAK_CHECKPOINT_MISSING = "{label}所指的第 {seq} 条不存在：链只到第 {last} 条，末尾被截断。"
BREAK_HEAD_MISSING = "链头记录到第 {head} 条，但记录只到第 {last} 条：第 {seq} 条起的末尾被删除。"
BREAK_HEAD_HASH = "链头记录的第 {seq} 条的哈希与该条记录不符。"
BREAK_HEAD_BEHIND = "第 {seq} 条在链头（第 {head} 条）之后：记录是绕过系统插入的。"


def _json_default(value: Any) -> Any:
    """What json cannot write by itself, as the audit chain records it."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (Decimal, UUID, Promise)):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON-able")


def canonical_json(value: Any) -> str:
    """Keys sorted, no spaces, UTF-8 text as is: the same value always gives the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def ids_json(ids: Iterable[int]) -> str:
    return "[" + ",".join(str(int(i)) for i in ids) + "]"


def at_text(at: datetime) -> str:
    """An instant as the chain hashes it: UTC, microseconds, "Z" (a naive value is taken as UTC).

    The same as `at.strftime(AT_FORMAT)`, by isoformat(), which costs a tenth of strftime (verify does it a
    million times).
    """
    if at.tzinfo is not None:
        if at.utcoffset():
            at = at.astimezone(UTC)
        text = at.isoformat()[:-6]  # without "+00:00"
    else:
        text = at.isoformat()
    return text + "Z" if at.microsecond else text + ".000000Z"


def roles_text(roles: Iterable[str]) -> str:
    return ",".join(sorted(str(role) for role in roles))


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def entry_canonical(
    *,
    seq: int,
    at: datetime,
    actor_id: int | None,
    actor_name: str,
    actor_roles: str,
    kind: str,
    action: str,
    object_ids: str,
    rule_ids: str,
    data_sha256: str,
    data_stored: bool,
) -> str:
    """The canonical entry: `canonical_json` of the recorded fields (a test checks the two agree).

    Written with a template for speed (verify runs it a million times): `object_ids` and `rule_ids` are
    already canonical JSON arrays and `data_sha256` is hex, which `verify_rows` checks before it relies on it.
    """
    return _ENTRY % (
        encode_basestring(action),
        "null" if actor_id is None else int(actor_id),
        encode_basestring(actor_name),
        encode_basestring(actor_roles),
        at_text(at),
        data_sha256,
        "true" if data_stored else "false",
        encode_basestring(kind),
        object_ids,
        rule_ids,
        seq,
    )


def entry_hash(prev_hash: str, seq: int, canonical: str) -> str:
    return hashlib.sha256(f"{prev_hash}{seq}{canonical}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Expected:
    """A hash the entry at `seq` must have: a checkpoint published earlier, or one stored beside the chain."""

    seq: int
    hash: str
    label: str


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first place the chain does not hold, by the entry's sequence number."""

    seq: int
    reason: str  # missing, link, edited, data, checkpoint, truncated, head
    message: str


@dataclass(slots=True)
class Verification:
    checked: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    problem: ChainBreak | None = None
    checkpoints_matched: int = 0
    expectations: list[Expected] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_rows(rows: Iterable[Sequence[Any]], *, expected: Iterable[Expected] = ()) -> Verification:
    """Recompute the chain from rows in `ROW_FIELDS` order, ascending seq; stop at the first break.

    `at` may be aware or naive (taken as UTC); `data` text or its UTF-8 bytes.

    Every entry must follow the one before (seq + 1, prev_hash = its hash), hash to its recorded hash and,
    when its data text was kept, have that text's SHA-256. Each `expected` (seq, hash) must be met on the way.
    """
    by_seq: dict[int, list[Expected]] = {}
    for item in expected:
        by_seq.setdefault(item.seq, []).append(item)
    result = Verification(expectations=list(expected))
    prev_seq, prev_hash = 0, GENESIS_HASH
    ids_ok, hex_ok, sha256, when = _IDS.fullmatch, _HEX64.fullmatch, hashlib.sha256, at_text
    template, quote = _ENTRY, encode_basestring
    checked = matched = 0
    for (
        seq,
        at,
        actor_id,
        actor_name,
        roles,
        kind,
        action,
        object_ids,
        rule_ids,
        data,
        data_sha,
        link,
        hash_,
    ) in rows:
        if seq != prev_seq + 1:
            result.problem = ChainBreak(
                prev_seq + 1, "missing", _(BREAK_MISSING).format(seq=prev_seq + 1, found=seq)
            )
            break
        if link != prev_hash:
            result.problem = ChainBreak(seq, "link", _(BREAK_LINK).format(seq=seq, prev=prev_seq))
            break
        if not (ids_ok(object_ids) and ids_ok(rule_ids) and hex_ok(data_sha)):
            result.problem = ChainBreak(seq, "edited", _(BREAK_EDITED).format(seq=seq))
            break
        canonical = template % (
            quote(action),
            "null" if actor_id is None else int(actor_id),
            quote(actor_name),
            quote(roles),
            when(at),
            data_sha,
            "false" if data is None else "true",
            quote(kind),
            object_ids,
            rule_ids,
            seq,
        )
        if sha256(f"{link}{seq}{canonical}".encode()).hexdigest() != hash_:
            result.problem = ChainBreak(seq, "edited", _(BREAK_EDITED).format(seq=seq))
            break
        # The data may come as bytes (the command reads it so, saving a decode and an encode) or as text.
        if (
            data is not None
            and sha256(data.encode() if isinstance(data, str) else data).hexdigest() != data_sha
        ):
            result.problem = ChainBreak(seq, "data", _(BREAK_DATA).format(seq=seq))
            break
        if seq in by_seq:
            for item in by_seq[seq]:
                if item.hash != hash_:
                    result.problem = ChainBreak(
                        seq, "checkpoint", _(BREAK_CHECKPOINT).format(seq=seq, label=item.label)
                    )
                    break
                matched += 1
            if result.problem is not None:
                break
        prev_seq, prev_hash = seq, hash_
        checked += 1
    result.checked, result.head_seq, result.head_hash = checked, prev_seq, prev_hash
    result.checkpoints_matched = matched
    if result.problem is None:
        beyond = sorted((item for item in result.expectations if item.seq > prev_seq), key=lambda e: e.seq)
        if beyond:
            item = beyond[0]
            result.problem = ChainBreak(
                item.seq,
                "truncated",
                _(BREAK_CHECKPOINT_MISSING).format(label=item.label, seq=item.seq, last=prev_seq),
            )
    return result


def head_break(
    *, verified: Verification, head_seq: int, head_hash: str, newest_seq: int
) -> ChainBreak | None:
    """Compare a sound chain with the head row read before it (`newest_seq`: the highest seq at that moment).

    Every writer moves the head in the transaction that appends, so a head beyond the last entry means the
    tail was deleted, and an entry beyond the head was written around the system.
    """
    last = verified.head_seq
    if last < head_seq:
        return ChainBreak(
            last + 1, "truncated", _(BREAK_HEAD_MISSING).format(head=head_seq, last=last, seq=last + 1)
        )
    if head_hash != verified.head_hash:
        return ChainBreak(last, "head", _(BREAK_HEAD_HASH).format(seq=last))
    if newest_seq > head_seq:
        return ChainBreak(head_seq + 1, "head", _(BREAK_HEAD_BEHIND).format(seq=head_seq + 1, head=head_seq))
    return None


def expected_from_text(text: str) -> tuple[int, str]:
    """`<seq>:<hash>` → (seq, hash); ValueError with the reason otherwise."""
    seq_text, sep, hash_text = text.strip().partition(":")
    hash_text = hash_text.strip().lower()
    if not sep or not seq_text.strip().isdigit() or int(seq_text) < 1 or not _HEX64.fullmatch(hash_text):
        raise ValueError(text)
    return int(seq_text), hash_text
