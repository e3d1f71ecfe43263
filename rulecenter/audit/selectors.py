"""Reads of the audit chain: the head, checkpoints, entries by object or actor, and verification."""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from rulecenter.common.changes import ChangeAction, ContentKind

from .chain import GENESIS_HASH, ROW_FIELDS, Expected, Verification, head_break, verify_rows
from .models import AuditCheckpoint, AuditEntry, AuditHead, AuditSubject

VERIFY_CHUNK = 5_000
AGAINST_LABEL = "命令行给出的检查点 {seq}:{hash}"
STORED_LABEL = "{at} 记下的检查点（{reason}）"


@dataclass(frozen=True, slots=True)
class Head:
    """The chain's newest entry (seq 0 and 64 zeros when empty) and how many checkpoints were made."""

    seq: int
    hash: str
    checkpoint_count: int
    recorded: bool = True  # False: no head row (a wiped database); the figures come from the entries


def audit_head() -> Head:
    """One primary-key read (the page's ETag and pager come from it)."""
    row = AuditHead.objects.filter(pk=1).values_list("seq", "hash", "checkpoint_count").first()
    if row is not None:
        return Head(*row)
    last = AuditEntry.objects.order_by("-seq").values_list("seq", "hash").first() or (0, GENESIS_HASH)
    return Head(last[0], last[1], AuditCheckpoint.objects.count(), recorded=False)


def audit_entry_at(seq: int) -> AuditEntry | None:
    return AuditEntry.objects.filter(seq=seq).first()


def checkpoints_page(*, offset: int, limit: int) -> list[AuditCheckpoint]:
    """Checkpoints newest first."""
    return list(AuditCheckpoint.objects.order_by("-id")[offset : offset + limit])


def checkpoint_latest() -> AuditCheckpoint | None:
    return AuditCheckpoint.objects.order_by("-id").first()


def audit_entries_for(*, objects: Iterable[tuple[str, int]]) -> list[AuditEntry]:
    """Every entry about any of these (kind, object id) pairs, in seq order — a version's or bundle's record.

    A version's entries are found by ("rule_version", id), a rule's by ("rule", id) — which also finds the
    entries of its versions, categories aside —, a bundle's by ("change_bundle", id). Index seeks on
    (object_id, kind) per pair, then on the entries' primary key.
    """
    condition = Q()
    for kind, object_id in objects:
        condition |= Q(kind=str(kind), object_id=int(object_id))
    if not condition:
        return []
    seqs = AuditSubject.objects.filter(condition).values("entry_id")
    return list(AuditEntry.objects.filter(seq__in=seqs).order_by("seq"))


def audit_entries_by_actor(*, actor_id: int | None, limit: int = 100) -> list[AuditEntry]:
    """The newest entries written by one user (None: by the platform itself), an index seek on (actor_id, seq)."""
    if actor_id is None:
        entries = AuditEntry.objects.filter(actor_id__isnull=True)
    else:
        entries = AuditEntry.objects.filter(actor_id=actor_id)
    return list(entries.order_by("-seq")[:limit])


def checkpoint_at_notice(version_ids: Sequence[int]) -> AuditCheckpoint | None:
    """The checkpoint made when these versions were noticed (公示): the first at or after their last notice entry.

    For the notice announcement's footer: a reader who keeps its (seq, hash) can later check, with
    `rulecenter audit verify --against seq:hash`, that nothing recorded up to the notice was rewritten.
    """
    if not version_ids:
        return None
    noticed = (
        AuditSubject.objects.filter(
            kind=str(ContentKind.RULE_VERSION), object_id__in=[int(v) for v in version_ids]
        )
        .filter(entry__action=str(ChangeAction.NOTICED))
        .order_by("-entry_id")
        .values_list("entry_id", flat=True)
        .first()
    )
    if noticed is None:
        return None
    return AuditCheckpoint.objects.filter(seq__gte=noticed).order_by("seq", "id").first()


def _rows(*, upto: int, chunk_size: int) -> Iterator[tuple[Any, ...]]:
    """Entries with seq ≤ `upto` in seq order, `chunk_size` at a time (keyset pages: constant memory)."""
    # A raw cursor: no model instance per row. Names come from the model (each field's column is its name).
    # The data as UTF-8 bytes, what its SHA-256 is taken of: no decoding into str and encoding back.
    as_bytes = "convert_to(data, 'UTF8')" if connection.vendor == "postgresql" else "CAST(data AS BLOB)"
    quote = connection.ops.quote_name
    columns = ", ".join(as_bytes if name == "data" else quote(name) for name in ROW_FIELDS)
    sql = (
        f"SELECT {columns} FROM {quote(AuditEntry._meta.db_table)} "  # noqa: S608 - no user input
        "WHERE seq > %s AND seq <= %s ORDER BY seq LIMIT %s"
    )
    last = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(sql, [last, upto, chunk_size])
            rows = cursor.fetchall()
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def _head_snapshot() -> tuple[Head, int]:
    """The head row and the highest seq in the table, read in one statement (one snapshot)."""
    head_table = connection.ops.quote_name(AuditHead._meta.db_table)
    entry_table = connection.ops.quote_name(AuditEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT MAX(seq) FROM {entry_table}), h.seq, h.hash, h.checkpoint_count "  # noqa: S608
            f"FROM (SELECT 1 AS one) AS x LEFT JOIN {head_table} AS h ON h.id = 1"
        )
        newest, seq, hash_, count = cursor.fetchone()
    newest = newest or 0
    if seq is None:
        return Head(newest, "", 0, recorded=False), newest
    return Head(seq, hash_, count), newest


def _stored_label(checkpoint: AuditCheckpoint) -> str:
    at = timezone.localtime(checkpoint.at).strftime("%Y-%m-%d %H:%M:%S")
    return _(STORED_LABEL).format(at=at, reason=checkpoint.get_reason_display())


def audit_chain_verify(
    *, against: Sequence[tuple[int, str]] = (), chunk_size: int = VERIFY_CHUNK
) -> Verification:
    """Recompute the whole chain up to the head as it stands now; report the first break (see `chain`).

    Besides the chain itself: each checkpoint given (`against`, published earlier) and each stored in the
    database must name an existing entry with its hash, and the head row must match the last entry — a
    deleted tail, or an entry written around the system, shows there.
    """
    head, newest = _head_snapshot()
    upto = head.seq if head.recorded else newest
    expected = [Expected(seq, hash_, _(AGAINST_LABEL).format(seq=seq, hash=hash_)) for seq, hash_ in against]
    stored = list(AuditCheckpoint.objects.order_by("seq", "id"))
    if any(checkpoint.seq > upto for checkpoint in stored):
        # Made after the head was read, or left behind when the tail was cut: only the latter counts.
        upto_now = audit_head().seq
        stored = [c for c in stored if c.seq <= upto or c.seq > upto_now]
    expected += [Expected(c.seq, c.hash, _stored_label(c)) for c in stored]
    result = verify_rows(_rows(upto=upto, chunk_size=chunk_size), expected=expected)
    if result.problem is None and head.recorded:
        result.problem = head_break(
            verified=result, head_seq=head.seq, head_hash=head.hash, newest_seq=newest
        )
    return result
