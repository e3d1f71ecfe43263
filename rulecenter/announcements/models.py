from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from rulecenter.common.translations import ContentTranslation, language_constraint, title_constraint


class Category(models.Model):
    slug = models.SlugField(_("标识"), max_length=64, unique=True)
    name = models.CharField(_("名称"), max_length=64, unique=True)
    position = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("栏目")
        verbose_name_plural = _("栏目")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return f"{reverse('announcements:list')}?category={self.slug}"


class Announcement(models.Model):
    class Kind(models.TextChoices):
        RULE_CHANGE = "rule_change", _("规则变更公示")
        CONSULTATION_RESULT = "consultation_result", _("意见征集结果反馈")
        AGREEMENT_CHANGE = "agreement_change", _("协议变更公告")
        GUIDE = "guide", _("避坑指南")
        COMPLIANCE = "compliance", _("合规指引")
        TOPIC = "topic", _("专题")
        NEWS = "news", _("新闻")

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        PUBLISHED = "published", _("已发布")
        # Kept, never deleted: its URL answers 410 with the reason (services.announcement_withdraw).
        WITHDRAWN = "withdrawn", _("已撤回")

    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("正文"), help_text=_("Markdown；发布前会清理掉不安全的 HTML。"))
    summary = models.CharField(_("摘要"), max_length=500, blank=True, help_text=_("留空则从正文截取。"))
    kind = models.CharField(_("类型"), max_length=32, choices=Kind.choices, default=Kind.NEWS)
    category = models.ForeignKey(
        Category, verbose_name=_("栏目"), on_delete=models.PROTECT, related_name="announcements"
    )
    source_url = models.URLField(_("来源链接"), max_length=1000, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    # Four eyes: the last person who wrote the draft (null: the platform itself) and who approved it.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("作者"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审核人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    approved_at = models.DateTimeField(_("审核通过时间"), null=True, blank=True)
    review_comment = models.TextField(_("退回意见"), blank=True)
    # A 公示 notice the rule lifecycle published: frozen, by the services and by database triggers.
    statutory = models.BooleanField(_("法定公示"), default=False, editable=False)
    corrected_at = models.DateTimeField(_("最近更正时间"), null=True, blank=True, editable=False)
    withdrawn_at = models.DateTimeField(_("撤回时间"), null=True, blank=True, editable=False)
    withdrawn_reason = models.TextField(_("撤回原因"), blank=True, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    # Rendered once on save (services.announcement_render); the listing reads these instead of Markdown.
    body_html = models.TextField(editable=False, default="")
    excerpt = models.CharField(editable=False, max_length=1000, default="")
    # The segments it mainly concerns (issue 13): it stays public, but only their members' subscriptions are
    # told. Set on drafts only (services.announcement_segments_set); the database refuses it once published.
    segments = models.ManyToManyField(
        "accounts.Segment",
        verbose_name=_("涉及的商家分群"),
        blank=True,
        related_name="+",
        help_text=_("留空表示面向所有商家。选定后，公告仍对所有人公开，但通知只发给这些分群的商家。"),
    )

    class Meta:
        ordering = ["-published_at", "-id"]
        verbose_name = _("公告")
        verbose_name_plural = _("公告")
        # Held by the publisher role (accounts' data migration); editors and reviewers cannot publish.
        permissions = [("publish_announcement", _("可以发布和撤回公告"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="draft")
                | Q(status__in=["published", "withdrawn"], published_at__isnull=False),
                name="announcement_published_has_date",
                violation_error_message=_("已发布的公告必须有发布时间。"),
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "published", "withdrawn"]), name="announcement_status_valid"
            ),
            models.CheckConstraint(condition=~Q(title=""), name="announcement_title_not_empty"),
            models.CheckConstraint(
                condition=~Q(status="withdrawn") | (Q(withdrawn_at__isnull=False) & ~Q(withdrawn_reason="")),
                name="announcement_withdrawn_has_time_and_reason",
                violation_error_message=_("撤回的公告必须有撤回时间和原因。"),
            ),
            models.CheckConstraint(
                condition=Q(statutory=False) | Q(status="published"),
                name="announcement_statutory_is_published",
                violation_error_message=_("法定公示只能是已发布的公告。"),
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | Q(approved_at__isnull=False),
                name="announcement_approval_has_time",
            ),
        ]
        indexes = [
            # Newest-first listing and keyset seeks; partial so drafts never enter the listing's index.
            models.Index(
                fields=["-published_at", "-id"],
                condition=Q(status="published"),
                name="announcement_listing",
            ),
            models.Index(
                fields=["category", "-published_at", "-id"],
                condition=Q(status="published"),
                name="announcement_category_listing",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("announcements:detail", args=[self.pk])

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED

    @property
    def is_withdrawn(self) -> bool:
        return self.status == self.Status.WITHDRAWN

    @property
    def is_approved(self) -> bool:
        return self.approved_at is not None


class AnnouncementRevision(models.Model):
    """The text a published announcement had before a correction replaced it; never changed or deleted.

    `number` counts an announcement's corrections from 1; the text after revision n is revision n + 1's,
    or the announcement's own for the last one. Who replaced it is kept as values, not a foreign key, so
    the record outlives the account.
    """

    announcement = models.ForeignKey(
        Announcement, verbose_name=_("公告"), on_delete=models.PROTECT, related_name="revisions"
    )
    number = models.PositiveIntegerField(_("序号"))
    title = models.CharField(_("标题"), max_length=200)
    summary = models.CharField(_("摘要"), max_length=500, blank=True)
    body = models.TextField(_("正文"))
    replaced_at = models.DateTimeField(_("更正时间"))
    replaced_by_user_id = models.BigIntegerField(_("更正人 ID"), null=True, blank=True)
    replaced_by_name = models.CharField(_("更正人"), max_length=150)

    class Meta:
        ordering = ["announcement", "number"]
        verbose_name = _("更正记录")
        verbose_name_plural = _("更正记录")
        constraints = [
            models.UniqueConstraint(
                fields=["announcement", "number"], name="announcementrevision_number_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.number})"


class AnnouncementTranslation(ContentTranslation):
    """An editor's translation of an announcement's title and summary (common/translations.py): shown to
    readers of its language, marked as a translation; written once, the newest shown."""

    announcement = models.ForeignKey(
        Announcement, verbose_name=_("公告"), on_delete=models.PROTECT, related_name="translations"
    )

    class Meta:
        verbose_name = _("译文")
        verbose_name_plural = _("译文")
        ordering = ["announcement", "language", "-translated_at", "-id"]
        constraints = [
            language_constraint("announcementtranslation_language"),
            title_constraint("announcementtranslation_title"),
        ]
        indexes = [
            models.Index(fields=["announcement", "language", "-id"], name="announcementtranslation_newest")
        ]


class ListingCounter(models.Model):
    """How many published announcements a listing scope holds, and a version bumped on every change.

    The pager's total and the pages' ETags come from here: one primary-key read instead of a COUNT(*)
    over a million rows. Services update it in the same transaction as the announcement;
    `rulecenter recount_listing` rebuilds it after bulk loads.
    """

    ALL = "all"

    scope = models.CharField(max_length=80, primary_key=True)
    published_count = models.PositiveBigIntegerField(default=0)
    version = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("列表计数")
        verbose_name_plural = _("列表计数")

    def __str__(self) -> str:
        return f"{self.scope}: {self.published_count}"

    @staticmethod
    def scope_for(category_id: int | None) -> str:
        return ListingCounter.ALL if category_id is None else f"category:{category_id}"
