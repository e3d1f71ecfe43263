from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

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


class Channel(models.Model):
    """Another platform's rule channel, followed: its listing pages fetched on a schedule and imported.

    New and changed items go through the import (`services.listing_import`), so they become announcements
    with their revisions and facts, and raise the same change events as any announcement. The fields below
    `paused` are its health, written by each fetch; `ChannelFetch` keeps the last fetches one by one.
    """

    class Adapter(models.TextChoices):
        AUTO = "auto", _("自动识别（本站文本格式或通用识别）")
        LIST = "list", _("预设：列表（li > a + 日期）")
        CARDS = "cards", _("预设：卡片（article > h2/h3）")
        TABLE = "table", _("预设：表格（tr > a + 日期列）")
        DEFINITION_LIST = "definition-list", _("预设：定义列表（dt > a，dd 日期）")
        SELECTORS = "selectors", _("自定义 CSS 选择器")

    class Format(models.TextChoices):
        AUTO = "auto", _("自动判断")
        HTML = "html", "HTML"
        TEXT = "text", _("纯文本")

    name = models.CharField(_("名称"), max_length=100, unique=True)
    source = models.CharField(
        _("来源"),
        max_length=100,
        help_text=_("导入的公告记在这个来源下，如 rulechannel.1688.com；默认取第一页的主机名。"),
    )
    adapter = models.CharField(_("读取方式"), max_length=20, choices=Adapter.choices, default=Adapter.AUTO)
    selectors = models.JSONField(
        _("CSS 选择器"),
        default=dict,
        blank=True,
        help_text=_("读取方式为自定义时：item、title 必填，link、date、excerpt 可选。"),
    )
    format = models.CharField(_("页面格式"), max_length=10, choices=Format.choices, default=Format.AUTO)
    interval_minutes = models.PositiveIntegerField(_("抓取间隔（分钟）"), default=60)
    paused = models.BooleanField(_("已暂停"), default=False)
    next_fetch_at = models.DateTimeField(_("下次抓取"))
    fetching_until = models.DateTimeField(
        _("抓取中（租约到期）"), null=True, blank=True, help_text=_("一次抓取进行中；到期未完成视为中断。")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建者"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    last_fetched_at = models.DateTimeField(_("最近抓取"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("最近成功"), null=True, blank=True)
    last_error_at = models.DateTimeField(_("最近出错"), null=True, blank=True)
    last_error = models.TextField(_("最近的错误"), blank=True)
    failures = models.PositiveIntegerField(_("连续失败次数"), default=0)
    items_seen = models.PositiveIntegerField(_("最近读到的条目"), default=0)

    class Meta:
        ordering = ["name"]
        verbose_name = pgettext_lazy("one", "关注的频道")
        verbose_name_plural = _("关注的频道")
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="channel_name_not_empty"),
            models.CheckConstraint(condition=~Q(source=""), name="channel_source_not_empty"),
            models.CheckConstraint(
                condition=Q(interval_minutes__gte=5, interval_minutes__lte=10080),
                name="channel_interval_range",
            ),
            models.CheckConstraint(
                condition=Q(adapter__in=["auto", "list", "cards", "table", "definition-list", "selectors"]),
                name="channel_adapter_known",
            ),
            models.CheckConstraint(
                condition=Q(format__in=["auto", "html", "text"]), name="channel_format_known"
            ),
        ]
        indexes = [
            models.Index(fields=["next_fetch_at"], condition=Q(paused=False), name="channel_due"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def health(self) -> str:
        """paused, new (never fetched), ok (the last fetch succeeded) or failing."""
        if self.paused:
            return "paused"
        if self.last_fetched_at is None:
            return "new"
        return "failing" if self.failures else "ok"


class ChannelPage(models.Model):
    """One listing page of a channel, with what the last good fetch of it left: the validators the next
    fetch sends back (conditional GET) and the hash of the body, so an unchanged page is not read again."""

    channel = models.ForeignKey(
        Channel, verbose_name=_("频道"), on_delete=models.CASCADE, related_name="pages"
    )
    position = models.PositiveSmallIntegerField(_("顺序"))
    url = models.URLField(_("网址"), max_length=2000)
    etag = models.CharField("ETag", max_length=500, blank=True)
    last_modified = models.CharField("Last-Modified", max_length=100, blank=True)
    body_sha256 = models.CharField(_("内容摘要"), max_length=64, blank=True)
    fetched_at = models.DateTimeField(_("最近读取"), null=True, blank=True)

    class Meta:
        ordering = ["channel", "position"]
        verbose_name = pgettext_lazy("one", "频道页面")
        verbose_name_plural = _("频道页面")
        constraints = [
            models.UniqueConstraint(fields=["channel", "position"], name="channelpage_position_unique"),
            models.UniqueConstraint(fields=["channel", "url"], name="channelpage_url_unique"),
        ]

    def __str__(self) -> str:
        return self.url


class ChannelFetch(models.Model):
    """One fetch of a channel, as it went: kept for the channel's page in the admin and the API. Unchanged
    fetches in a row are one record (`repeats`, `last_at`): an hourly channel that does not change leaves one
    row a day or a month, not one an hour."""

    class Outcome(models.TextChoices):
        NOT_MODIFIED = "not_modified", _("未变化（304 或内容相同）")
        IMPORTED = "imported", _("已读取并导入")
        FAILED = "failed", _("失败")

    channel = models.ForeignKey(
        Channel, verbose_name=_("频道"), on_delete=models.CASCADE, related_name="fetches"
    )
    started_at = models.DateTimeField(_("开始"))
    repeats = models.PositiveIntegerField(_("次数"), default=1, help_text=_("连续几次同样的结果（未变化）。"))
    last_at = models.DateTimeField(_("最近一次"), null=True, blank=True)
    elapsed_ms = models.PositiveIntegerField(_("用时（毫秒）"), default=0)
    outcome = models.CharField(_("结果"), max_length=20, choices=Outcome.choices)
    status = models.PositiveSmallIntegerField(_("HTTP 状态"), null=True, blank=True)
    pages = models.PositiveSmallIntegerField(_("读取的页面"), default=0)
    bytes = models.PositiveIntegerField(_("字节"), default=0)
    items = models.PositiveIntegerField(_("条目"), default=0)
    new = models.PositiveIntegerField(pgettext_lazy("import action", "新增"), default=0)
    updated = models.PositiveIntegerField(_("更新"), default=0)
    unsure = models.PositiveIntegerField(_("不确定"), default=0)
    error = models.TextField(_("错误"), blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = pgettext_lazy("one", "频道抓取记录")
        verbose_name_plural = _("频道抓取记录")
        indexes = [models.Index(fields=["channel", "-started_at"], name="channelfetch_channel_recent")]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome__in=["not_modified", "imported", "failed"]),
                name="channelfetch_outcome_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{timezone.localtime(self.started_at):%Y-%m-%d %H:%M} · {self.get_outcome_display()}"
