"""The search outbox and each node's place in it. The index itself is derived data under var/."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OutboxEntry(models.Model):
    """ "This content changed": written in the same transaction as the change, read in order by every node.

    The row says only what changed, never how; the indexer reads the content as it stands when it applies
    the row, so applying a row twice, or two rows for one item, gives the same index.
    """

    class Entity(models.TextChoices):
        ANNOUNCEMENT = "announcement", _("公告")
        RULE = "rule", _("规则")

    id = models.BigAutoField(primary_key=True)
    entity = models.CharField(_("内容类型"), max_length=16, choices=Entity.choices)
    object_id = models.BigIntegerField(_("内容编号"))
    created_at = models.DateTimeField(_("写入时间"), auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("搜索变更记录")
        verbose_name_plural = _("搜索变更记录")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(entity__in=["announcement", "rule"]), name="search_outbox_entity_valid"
            )
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.entity}:{self.object_id}"


class Replica(models.Model):
    """One node's search index: which generation is live, how far into the outbox it is, and any rebuild.

    `position` is the highest outbox id applied; `gaps` are lower ids not yet seen — on PostgreSQL a
    transaction that took an id earlier may commit later — each with when it was first missed, re-checked
    until `RULECENTER_SEARCH_GAP_SECONDS` have passed. `missed_through` is set when outbox rows this node
    had not applied were pruned (older than `RULECENTER_SEARCH_OUTBOX_RETENTION_DAYS`): the node's index
    cannot catch up by following and must be rebuilt; a rebuild that started after those rows clears it.
    """

    node = models.CharField(_("节点"), max_length=100, primary_key=True)
    generation = models.CharField(_("当前索引"), max_length=64, blank=True)
    position = models.BigIntegerField(_("已应用到"), default=0)
    gaps = models.JSONField(_("待补的记录"), default=list, blank=True)
    building = models.CharField(_("正在重建的索引"), max_length=64, blank=True)
    build_position = models.BigIntegerField(_("重建起点"), default=0)
    build_progress = models.JSONField(_("重建进度"), default=dict, blank=True)
    missed_through = models.BigIntegerField(_("未应用即被清理的记录截至"), default=0)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        ordering = ["node"]
        verbose_name = _("搜索索引副本")
        verbose_name_plural = _("搜索索引副本")

    def __str__(self) -> str:
        return f"{self.node}: {self.generation or '-'} @ {self.position}"

    @property
    def must_rebuild(self) -> bool:
        return self.missed_through > 0
