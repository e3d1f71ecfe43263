"""Writes to the audit chain: an entry per announced change, and checkpoints of its head.

Both run inside the caller's transaction and hold the head row's lock until it commits: on PostgreSQL
concurrent writers queue there (SQLite serialises writers already), so sequence numbers have no gaps and
each entry's prev_hash is the hash of the entry committed just before it. A rolled-back write takes its
entry, its sequence number and the head's move back with it.

The receiver runs in every write, so its four statements are plain SQL on the caller's cursor: building the
same queries through the ORM cost ~0.8 ms of CPU per write, more than the rest of the entry (docs/performance.md).
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from rulecenter.common.changes import ChangeAction, ContentChange, ContentKind

from .chain import GENESIS_HASH, canonical_json, entry_canonical, entry_hash, ids_json, roles_text, sha256_hex
from .models import AuditCheckpoint, AuditEntry, AuditHead

logger = logging.getLogger(__name__)

CHECKPOINT_EMPTY = "审计链还没有记录，没有可以记下的检查点。"
RECORD_OUTSIDE_TRANSACTION = "audit_record must run inside the transaction of the change it records"

_HEAD_SELECT = "SELECT seq, hash, checkpoint_at, checkpoint_count FROM audit_audithead WHERE id = 1"
_HEAD_UPDATE = (
    "UPDATE audit_audithead SET seq = %s, hash = %s, checkpoint_at = %s, checkpoint_count = %s WHERE id = 1"
)
_ENTRY_INSERT = (
    "INSERT INTO audit_auditentry (seq, at, actor_id, actor_name, actor_roles, kind, action, object_ids, "
    "rule_ids, data, data_sha256, prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
_SUBJECT_INSERT = "INSERT INTO audit_auditsubject (entry_id, kind, object_id) VALUES "


@dataclass(slots=True)
class _Head:
    seq: int
    hash: str
    checkpoint_at: datetime | None
    checkpoint_count: int


def _aware(value: datetime | None) -> datetime | None:
    # A raw SQLite cursor returns stored times naive (they are UTC); PostgreSQL's are aware already.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _head_locked(cursor: Any) -> _Head:
    """The head row, locked until the transaction ends; rebuilt from the entries if it is missing."""
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    cursor.execute(_HEAD_SELECT + lock)
    row = cursor.fetchone()
    if row is None:
        # Only a wiped database lacks it (the migration creates it; tests' flush empties every table).
        last = AuditEntry.objects.order_by("-seq").values_list("seq", "hash").first() or (0, GENESIS_HASH)
        newest = AuditCheckpoint.objects.order_by("-id").values_list("at", flat=True).first()
        if last[0]:
            logger.warning("audit head row missing; rebuilt from entry %s", last[0])
        head = AuditHead(
            pk=1,
            seq=last[0],
            hash=last[1],
            checkpoint_at=newest,
            checkpoint_count=AuditCheckpoint.objects.count(),
        )
        # Another writer may rebuild it at the same moment: then take its row (after waiting for its lock).
        AuditHead.objects.bulk_create([head], ignore_conflicts=True)
        cursor.execute(_HEAD_SELECT + lock)
        row = cursor.fetchone()
    seq, hash_, checkpoint_at, checkpoint_count = row
    return _Head(seq, hash_, _aware(checkpoint_at), checkpoint_count)


def _head_save(cursor: Any, head: _Head) -> None:
    checkpoint_at = connection.ops.adapt_datetimefield_value(head.checkpoint_at)
    cursor.execute(_HEAD_UPDATE, [head.seq, head.hash, checkpoint_at, head.checkpoint_count])


def _subjects(change: ContentChange) -> list[tuple[str, int]]:
    pairs = [(str(change.kind), object_id) for object_id in change.ids]
    pairs += [(str(ContentKind.RULE), rule_id) for rule_id in change.rule_ids]
    return list(dict.fromkeys(pairs))


def _checkpoint_reason(change: ContentChange, head: _Head, now: datetime) -> str | None:
    if change.action is ChangeAction.NOTICED:
        return AuditCheckpoint.Reason.NOTICE
    every = timedelta(hours=settings.RULECENTER_AUDIT_CHECKPOINT_HOURS)
    if head.checkpoint_at is None or now - head.checkpoint_at >= every:
        return AuditCheckpoint.Reason.DAILY
    return None


def audit_record(*, change: ContentChange) -> AuditEntry:
    """Append the entry of one announced change (the receiver of `content_changed` calls this).

    At a rule version's notice, and when the last checkpoint is older than RULECENTER_AUDIT_CHECKPOINT_HOURS,
    the new head is also recorded as a checkpoint — no scheduler needed. Returns the entry (not re-read).
    """
    if not connection.in_atomic_block:
        raise RuntimeError(RECORD_OUTSIDE_TRANSACTION)
    with connection.cursor() as cursor:
        head = _head_locked(cursor)
        now = timezone.now()
        seq = head.seq + 1
        data = canonical_json(change.data)
        stored = len(data.encode()) <= settings.RULECENTER_AUDIT_DATA_MAX_BYTES
        actor = change.actor
        entry = AuditEntry(
            seq=seq,
            at=now,
            actor_id=actor.user_id,
            actor_name=actor.name,
            actor_roles=roles_text(actor.roles),
            kind=str(change.kind),
            action=str(change.action),
            object_ids=ids_json(change.ids),
            rule_ids=ids_json(change.rule_ids),
            data=data if stored else None,
            data_sha256=sha256_hex(data),
            prev_hash=head.hash,
        )
        entry.hash = entry_hash(head.hash, seq, _canonical(entry))
        cursor.execute(
            _ENTRY_INSERT,
            [
                seq,
                connection.ops.adapt_datetimefield_value(now),
                entry.actor_id,
                entry.actor_name,
                entry.actor_roles,
                entry.kind,
                entry.action,
                entry.object_ids,
                entry.rule_ids,
                entry.data,
                entry.data_sha256,
                entry.prev_hash,
                entry.hash,
            ],
        )
        subjects = _subjects(change)
        cursor.execute(
            _SUBJECT_INSERT + ", ".join(["(%s, %s, %s)"] * len(subjects)),
            [value for kind, object_id in subjects for value in (seq, kind, object_id)],
        )
        head.seq, head.hash = seq, entry.hash
        reason = _checkpoint_reason(change, head, now)
        if reason is not None:
            _checkpoint_add(head, reason=reason, now=now)
        _head_save(cursor, head)
    entry._state.adding = False
    return entry


def _canonical(entry: AuditEntry) -> str:
    return entry_canonical(
        seq=entry.seq,
        at=entry.at,
        actor_id=entry.actor_id,
        actor_name=entry.actor_name,
        actor_roles=entry.actor_roles,
        kind=entry.kind,
        action=entry.action,
        object_ids=entry.object_ids,
        rule_ids=entry.rule_ids,
        data_sha256=entry.data_sha256,
        data_stored=entry.data is not None,
    )


def _checkpoint_add(head: _Head, *, reason: str, now: datetime) -> AuditCheckpoint:
    checkpoint = AuditCheckpoint.objects.create(seq=head.seq, hash=head.hash, at=now, reason=reason)
    head.checkpoint_at, head.checkpoint_count = now, head.checkpoint_count + 1
    return checkpoint


@transaction.atomic
def audit_checkpoint_make(*, reason: str = AuditCheckpoint.Reason.MANUAL) -> AuditCheckpoint:
    """Record the current head as a checkpoint (`rulecenter audit checkpoint`); refused on an empty chain."""
    with connection.cursor() as cursor:
        head = _head_locked(cursor)
        if head.seq == 0:
            raise ValidationError(_(CHECKPOINT_EMPTY))
        checkpoint = _checkpoint_add(head, reason=reason, now=timezone.now())
        _head_save(cursor, head)
    return checkpoint
