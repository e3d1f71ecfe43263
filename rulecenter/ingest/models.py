from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .extract import Kind


class ImportedItem(models.Model):
    """An announcement that came from another rule channel's listing page, known by its source and title.

    The title is the item's identity in its source (listing pages carry no ids); the excerpt is the text
    as last seen. When a later import sees a different excerpt, the old one is kept as an ImportRevision.
    """

    announcement = models.OneToOneField(
        "announcements.Announcement",
        verbose_name=_("公告"),
        on_delete=models.CASCADE,
        related_name="imported_item",
    )
    source = models.CharField(_("来源"), max_length=100, help_text=_("来源频道，如 rulechannel.1688.com"))
    title = models.CharField(_("标题"), max_length=200)
    excerpt = models.TextField(_("摘要"), blank=True)
    source_url = models.URLField(_("来源链接"), max_length=1000, blank=True)
    first_seen_at = models.DateTimeField(_("首次导入"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("最近导入"))

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        verbose_name = _("导入的公告")
        verbose_name_plural = _("导入的公告")
        constraints = [
            models.UniqueConstraint(fields=["source", "title"], name="importeditem_source_title_unique"),
            models.CheckConstraint(condition=~Q(title=""), name="importeditem_title_not_empty"),
        ]

    def __str__(self) -> str:
        return self.title


class ImportRevision(models.Model):
    """The text an imported item had before a later import changed it (never edited, never deleted)."""

    item = models.ForeignKey(
        ImportedItem, verbose_name=_("导入的公告"), on_delete=models.CASCADE, related_name="revisions"
    )
    title = models.CharField(_("标题"), max_length=200)
    excerpt = models.TextField(_("摘要"), blank=True)
    source_url = models.URLField(_("来源链接"), max_length=1000, blank=True)
    body = models.TextField(_("公告正文"), blank=True, help_text=_("被替换前的公告正文（编辑可能改过）。"))
    replaced_at = models.DateTimeField(_("被替换时间"), auto_now_add=True)

    class Meta:
        ordering = ["-replaced_at", "-id"]
        verbose_name = _("导入历史版本")
        verbose_name_plural = _("导入历史版本")

    def __str__(self) -> str:
        return f"{self.title} @ {self.replaced_at:%Y-%m-%d %H:%M}"


class ExtractedFacts(models.Model):
    """What the extractor read in an announcement's text (rulecenter.ingest.extract).

    Observations, not rules of ours: a text may name an effective date before its notice date, and that
    is stored as read. Dates are calendar days as the text gives them (Asia/Shanghai).
    """

    announcement = models.OneToOneField(
        "announcements.Announcement",
        verbose_name=_("公告"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="extracted_facts",
    )
    kind = models.CharField(
        _("识别的类型"),
        max_length=32,
        choices=[
            (Kind.RULE_CHANGE_NOTICE.value, _("规则变更公示")),
            (Kind.CONSULTATION.value, _("意见征集")),
            (Kind.CONSULTATION_RESULT.value, _("意见征集结果")),
            (Kind.AGREEMENT_CHANGE.value, _("协议变更")),
            (Kind.GUIDE.value, _("指南 / 解读")),
            (Kind.OTHER.value, _("其他")),
        ],
    )
    notice_date = models.DateField(_("公示日期"), null=True, blank=True)
    effective_date = models.DateField(_("生效日期"), null=True, blank=True)
    comment_start = models.DateField(_("征集开始"), null=True, blank=True)
    comment_end = models.DateField(_("征集截止"), null=True, blank=True)
    rule_names = models.JSONField(_("规则名称"), default=list, blank=True)
    links = models.JSONField(_("链接"), default=list, blank=True)
    extractor_version = models.PositiveSmallIntegerField(_("识别程序版本"))
    extracted_at = models.DateTimeField(_("识别时间"), auto_now=True)

    class Meta:
        ordering = ["-extracted_at"]
        verbose_name = _("识别出的要素")
        verbose_name_plural = _("识别出的要素")
        indexes = [
            models.Index(fields=["notice_date"], name="facts_notice_date"),
            models.Index(fields=["effective_date"], name="facts_effective_date"),
            models.Index(fields=["comment_end"], name="facts_comment_end"),
        ]

    def __str__(self) -> str:
        return f"{self.announcement_id}: {self.kind}"
