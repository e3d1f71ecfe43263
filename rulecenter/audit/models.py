"""The audit chain: an append-only, hash-chained record of every announced change (docs/audit.md).

Entries, their subjects and checkpoints are never updated or deleted — database triggers refuse both
(migration 0002), whoever asks. Actors are recorded by value (id, name, roles as they were), never by a
foreign key: a record must not change or vanish when a user does.
"""

import json

from django.db import models
from django.utils.translation import gettext_lazy as _

from .chain import GENESIS_HASH


class AuditEntry(models.Model):
    """One announced change. `hash = SHA-256(prev_hash ‖ seq ‖ canonical entry)`; see `chain.entry_hash`."""

    seq = models.PositiveBigIntegerField(_("序号"), primary_key=True)
    at = models.DateTimeField(_("时间"))
    actor_id = models.BigIntegerField(_("操作人编号"), null=True, blank=True)  # None: the platform itself
    actor_name = models.CharField(_("操作人"), max_length=150)
    actor_roles = models.CharField(_("角色"), max_length=200, blank=True)  # sorted, comma-joined
    kind = models.CharField(_("对象类型"), max_length=32)
    action = models.CharField(_("动作"), max_length=32)
    object_ids = models.TextField(_("对象编号"))  # canonical JSON: [3] or [3,4]
    rule_ids = models.TextField(_("规则编号"), default="[]")  # canonical JSON
    # The canonical JSON of what the write set; None when longer than RULECENTER_AUDIT_DATA_MAX_BYTES.
    data = models.TextField(_("内容"), null=True, blank=True)  # noqa: DJ001 - None: not kept, "" is text
    data_sha256 = models.CharField(_("内容的 SHA-256"), max_length=64)
    prev_hash = models.CharField(_("前一条的哈希"), max_length=64)
    hash = models.CharField(_("哈希"), max_length=64)

    class Meta:
        ordering = ["seq"]
        verbose_name = _("审计记录")
        verbose_name_plural = _("审计记录")
        indexes = [models.Index(fields=["actor_id", "seq"], name="audit_entry_actor")]
        constraints = [
            models.CheckConstraint(condition=models.Q(seq__gte=1), name="audit_entry_seq_positive")
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind}:{self.action} {self.object_ids}"

    @property
    def object_id_list(self) -> list[int]:
        return [int(i) for i in json.loads(self.object_ids)]

    @property
    def rule_id_list(self) -> list[int]:
        return [int(i) for i in json.loads(self.rule_ids)]

    @property
    def role_list(self) -> list[str]:
        return [role for role in self.actor_roles.split(",") if role]


class AuditSubject(models.Model):
    """What an entry is about, one row per (kind, id) — its objects and its rules — for index seeks by object."""

    # No index of its own: lookups go by object (the index below); one less page to write per entry.
    entry = models.ForeignKey(
        AuditEntry,
        verbose_name=_("审计记录"),
        on_delete=models.PROTECT,
        related_name="subjects",
        db_index=False,
    )
    kind = models.CharField(_("对象类型"), max_length=32)
    object_id = models.BigIntegerField(_("对象编号"))

    class Meta:
        verbose_name = _("审计对象")
        verbose_name_plural = _("审计对象")
        indexes = [models.Index(fields=["object_id", "kind", "entry"], name="audit_subject_object")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.object_id} → #{self.entry_id}"


class AuditCheckpoint(models.Model):
    """A published head of the chain (seq and hash): anyone who kept it can detect a rewritten tail."""

    class Reason(models.TextChoices):
        NOTICE = "notice", _("规则公示")
        DAILY = "daily", _("每日")
        MANUAL = "manual", _("手动")

    seq = models.PositiveBigIntegerField(_("序号"))
    hash = models.CharField(_("哈希"), max_length=64)
    at = models.DateTimeField(_("时间"))
    reason = models.CharField(_("原因"), max_length=16, choices=Reason.choices)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("审计检查点")
        verbose_name_plural = _("审计检查点")
        indexes = [models.Index(fields=["seq"], name="audit_checkpoint_seq")]

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


class AuditHead(models.Model):
    """The chain's head, one row (pk 1): the lock every writer takes, so sequence numbers have no gaps.

    A database sequence would leave gaps (a rolled-back transaction spends its number); this row, locked
    with SELECT … FOR UPDATE for the rest of the writing transaction, hands out seq + 1 only to a
    transaction that commits it. It also keeps what the receiver needs without another query: when the
    last checkpoint was made and how many there are (the public page's pager).
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)
    checkpoint_at = models.DateTimeField(null=True, blank=True)
    checkpoint_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("审计链头")
        verbose_name_plural = _("审计链头")
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_head_single_row")]

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"
