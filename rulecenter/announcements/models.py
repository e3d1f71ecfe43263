from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


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
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    # Rendered once on save (services.announcement_render); the listing reads these instead of Markdown.
    body_html = models.TextField(editable=False, default="")
    excerpt = models.CharField(editable=False, max_length=1000, default="")

    class Meta:
        ordering = ["-published_at", "-id"]
        verbose_name = _("公告")
        verbose_name_plural = _("公告")
        # Held by the publisher role (accounts' data migration); editors and reviewers cannot publish.
        permissions = [("publish_announcement", _("可以发布和撤回公告"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="draft") | Q(status="published", published_at__isnull=False),
                name="announcement_published_has_date",
                violation_error_message=_("已发布的公告必须有发布时间。"),
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "published"]), name="announcement_status_valid"
            ),
            models.CheckConstraint(condition=~Q(title=""), name="announcement_title_not_empty"),
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
