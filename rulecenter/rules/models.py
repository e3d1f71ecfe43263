from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from rulecenter.common.translations import ContentTranslation, language_constraint, title_constraint


class RuleCategory(models.Model):
    """A node of the rule library's tree (市场管理, 交易规则, 协议 …)."""

    slug = models.SlugField(_("标识"), max_length=64, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上级"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    position = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("规则分类")
        verbose_name_plural = _("规则分类")
        constraints = [
            models.CheckConstraint(condition=~Q(parent=F("id")), name="rulecategory_not_own_parent")
        ]

    def __str__(self) -> str:
        return self.name


class Rule(models.Model):
    class Kind(models.TextChoices):
        RULE = "rule", _("规则")
        AGREEMENT = "agreement", _("协议")
        IMPLEMENTATION = "implementation", _("实施细则")

    slug = models.SlugField(_("标识"), max_length=100, unique=True)
    title = models.CharField(
        _("名称"), max_length=200, unique=True, help_text=_("不含书名号，如：1688指定渠道禁限售规则")
    )
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices, default=Kind.RULE)
    category = models.ForeignKey(
        RuleCategory, verbose_name=_("分类"), on_delete=models.PROTECT, related_name="rules"
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        ordering = ["category__position", "title"]
        verbose_name = _("规则")
        verbose_name_plural = _("规则")
        constraints = [models.CheckConstraint(condition=~Q(title=""), name="rule_title_not_empty")]

    def __str__(self) -> str:
        return f"《{self.title}》"

    def get_absolute_url(self) -> str:
        return reverse("rules:detail", args=[self.slug])


class ChangeBundle(models.Model):
    """Versions of several rules that are noticed and take effect together (和其相关规则)."""

    title = models.CharField(_("名称"), max_length=200)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("变更包")
        verbose_name_plural = _("变更包")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("rules:bundle", args=[self.pk])


class RuleVersion(models.Model):
    """One text of a rule. Its status is a function of its dates and the instant asked, never a stored flag."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        SCHEDULED = "scheduled", _("待公示")
        NOTICED = "noticed", _("公示中")
        IN_FORCE = "in_force", _("现行有效")
        SUPERSEDED = "superseded", _("已被替代")

    class ReviewState(models.TextChoices):
        """Where a version stands on the writing side; derived from its fields, never stored."""

        AWAITING_REVIEW = "awaiting_review", _("待审核")
        APPROVED = "approved", _("已审核通过")
        SCHEDULED = "scheduled", _("已排期")
        NOTICED = "noticed", _("已公示")

    rule = models.ForeignKey(Rule, verbose_name=_("规则"), on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField(_("版本号"))
    text = models.TextField(_("全文"), help_text=_("Markdown；按“第X条”“一、”“1.”分条款。"))
    summary = models.TextField(_("变更摘要"), blank=True)
    major = models.BooleanField(
        _("重大变更"),
        default=False,
        help_text=_("重大变更适用更长的法定公示期（设置 RULECENTER_MAJOR_NOTICE_DAYS）。"),
    )
    # The 2026 measures forbid consent by default: a change that needs it asks each member to acknowledge it.
    acknowledgment_required = models.BooleanField(
        _("需要商家确认"),
        default=False,
        help_text=_(
            "重大变更可要求商家逐一确认“我已阅读并知悉”（不预先勾选，浏览不算确认）；生效前会提醒未确认的商家。"
        ),
    )
    notice_at = models.DateTimeField(_("公示时间"), null=True, blank=True)
    effective_at = models.DateTimeField(_("生效时间"), null=True, blank=True)
    buffer_ends_at = models.DateTimeField(_("缓冲期结束"), null=True, blank=True)
    bundle = models.ForeignKey(
        ChangeBundle,
        verbose_name=_("变更包"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="versions",
    )
    # Four eyes: the last person who wrote the text (null for the platform itself) and who approved it.
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
    # The segments the change mainly concerns (issue 13): the version stays public, but only their members'
    # subscriptions are told and asked to acknowledge. Frozen from the notice on, in the database too.
    segments = models.ManyToManyField(
        "accounts.Segment",
        verbose_name=_("涉及的商家分群"),
        blank=True,
        related_name="+",
        help_text=_(
            "留空表示面向所有商家。选定后，规则仍对所有人公开，但通知和确认请求只发给这些分群的商家；公示后不能修改。"
        ),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        ordering = ["rule", "-number"]
        verbose_name = _("规则版本")
        verbose_name_plural = _("规则版本")
        constraints = [
            models.UniqueConstraint(fields=["rule", "number"], name="ruleversion_number_unique"),
            models.UniqueConstraint(fields=["rule", "effective_at"], name="ruleversion_effective_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="ruleversion_number_positive"),
            models.CheckConstraint(
                condition=Q(notice_at__isnull=True, effective_at__isnull=True)
                | Q(notice_at__isnull=False, effective_at__gt=F("notice_at")),
                name="ruleversion_effective_after_notice",
                violation_error_message=_("生效时间必须晚于公示时间，且二者须同时设置。"),
            ),
            models.CheckConstraint(
                condition=Q(buffer_ends_at__isnull=True) | Q(buffer_ends_at__gt=F("effective_at")),
                name="ruleversion_buffer_after_effective",
                violation_error_message=_("缓冲期结束时间必须晚于生效时间。"),
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | Q(approved_at__isnull=False),
                name="ruleversion_approval_has_time",
            ),
            models.CheckConstraint(
                condition=Q(acknowledgment_required=False) | Q(major=True),
                name="ruleversion_acknowledgment_major",
                violation_error_message=_("只有重大变更可以要求商家确认。"),
            ),
        ]
        # Covers point-in-time seeks and the history's count and paging without touching table rows.
        indexes = [
            models.Index(fields=["rule", "-effective_at", "notice_at"], name="ruleversion_point_in_time")
        ]

    def __str__(self) -> str:
        return f"{self.rule} v{self.number}"

    def get_absolute_url(self) -> str:
        return reverse("rules:version", args=[self.rule.slug, self.number])

    def status_at(self, at: datetime, *, next_effective_at: datetime | None) -> "RuleVersion.Status":
        """The status at `at`, given when the rule's next version (if any) takes effect."""
        if self.notice_at is None or self.effective_at is None:
            return self.Status.DRAFT
        if at < self.notice_at:
            return self.Status.SCHEDULED
        if at < self.effective_at:
            return self.Status.NOTICED
        if next_effective_at is not None and next_effective_at <= at:
            return self.Status.SUPERSEDED
        return self.Status.IN_FORCE

    def is_noticed_at(self, at: datetime) -> bool:
        """Once noticed a version is public record: frozen, never deleted."""
        return self.notice_at is not None and self.notice_at <= at

    def review_state_at(self, at: datetime) -> "RuleVersion.ReviewState":
        """A draft awaits review until approved; an edit withdraws the approval (the services see to it)."""
        if self.is_noticed_at(at):
            return self.ReviewState.NOTICED
        if self.notice_at is not None:
            return self.ReviewState.SCHEDULED
        if self.approved_at is not None:
            return self.ReviewState.APPROVED
        return self.ReviewState.AWAITING_REVIEW


class RuleVersionTranslation(ContentTranslation):
    """An editor's translation of a version's rule title and change summary (common/translations.py):
    shown to readers of its language once the version is public, marked as a translation; written once,
    the newest shown."""

    version = models.ForeignKey(
        RuleVersion, verbose_name=_("版本"), on_delete=models.PROTECT, related_name="translations"
    )

    class Meta:
        verbose_name = _("译文")
        verbose_name_plural = _("译文")
        ordering = ["version", "language", "-translated_at", "-id"]
        constraints = [
            language_constraint("ruleversiontranslation_language"),
            title_constraint("ruleversiontranslation_title"),
        ]
        indexes = [models.Index(fields=["version", "language", "-id"], name="ruleversiontranslation_newest")]


class RuleVersionTally(models.Model):
    """How many of a rule's versions have a notice date (scheduled or public), kept by the database.

    Triggers on the versions table (migration 0003) keep the row right whoever writes a version — the
    services, the admin, a bulk import or a hand-typed UPDATE — so the history's 共N条 is this number minus
    the rule's few versions noticed in the future, never a COUNT over all its versions. Application code
    only reads it.
    """

    rule = models.OneToOneField(
        Rule, verbose_name=_("规则"), primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    scheduled = models.IntegerField(_("已排期版本数"), default=0)

    class Meta:
        verbose_name = _("版本计数")
        verbose_name_plural = _("版本计数")
        constraints = [
            models.CheckConstraint(condition=Q(scheduled__gte=0), name="ruleversiontally_not_negative")
        ]

    def __str__(self) -> str:
        return f"{self.rule_id}: {self.scheduled}"


class LifecycleEvent(models.Model):
    """A transition due at a moment (公示, 生效, 缓冲期结束), run once by the worker or `run_due`."""

    class Kind(models.TextChoices):
        NOTICE = "notice", _("公示")
        EFFECTIVE = "effective", _("生效")
        BUFFER_END = "buffer_end", _("缓冲期结束")

    version = models.ForeignKey(
        RuleVersion, verbose_name=_("规则版本"), on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    due_at = models.DateTimeField(_("应执行时间"))
    done_at = models.DateTimeField(_("执行时间"), null=True, blank=True)
    announcement = models.ForeignKey(
        "announcements.Announcement",
        verbose_name=_("生成的公告"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("生命周期事件")
        verbose_name_plural = _("生命周期事件")
        constraints = [
            models.UniqueConstraint(fields=["version", "kind"], name="lifecycleevent_once_per_kind")
        ]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(done_at__isnull=True), name="lifecycleevent_pending")
        ]

    def __str__(self) -> str:
        return f"{self.version} {self.get_kind_display()} @ {self.due_at:%Y-%m-%d %H:%M}"

    @property
    def late_by_seconds(self) -> float | None:
        return None if self.done_at is None else (self.done_at - self.due_at).total_seconds()


class ExitRequest(models.Model):
    """A member refuses a bundle's change and exits under the old terms (E-Commerce Law art. 34)."""

    bundle = models.ForeignKey(
        ChangeBundle, verbose_name=_("变更包"), on_delete=models.PROTECT, related_name="exit_requests"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("会员"),
        on_delete=models.PROTECT,
        related_name="exit_requests",
    )
    reason = models.TextField(_("理由"), blank=True, max_length=2000)
    created_at = models.DateTimeField(_("申请时间"), auto_now_add=True)
    # The versions in force when the request was made: the terms that keep binding this member.
    binding_versions = models.ManyToManyField(RuleVersion, verbose_name=_("适用版本"), related_name="+")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("退出申请")
        verbose_name_plural = _("退出申请")
        constraints = [models.UniqueConstraint(fields=["bundle", "user"], name="exitrequest_once_per_member")]

    def __str__(self) -> str:
        return f"{self.user} · {self.bundle}"


class Acknowledgment(models.Model):
    """A member's explicit 我已阅读并知悉 of a change that asks for it: the change's ledger (who, when, which
    version). Never implied by a visit, never pre-ticked; written once."""

    version = models.ForeignKey(
        RuleVersion, verbose_name=_("规则版本"), on_delete=models.PROTECT, related_name="acknowledgments"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("会员"),
        on_delete=models.PROTECT,
        related_name="acknowledgments",
    )
    acknowledged_at = models.DateTimeField(_("确认时间"))

    class Meta:
        ordering = ["-acknowledged_at", "-id"]
        verbose_name = _("确认记录")
        verbose_name_plural = _("确认记录")
        constraints = [
            models.UniqueConstraint(fields=["version", "user"], name="acknowledgment_once_per_member")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.version}"


class AcknowledgmentReminder(models.Model):
    """A reminder sent to a member who had not acknowledged a change before it takes effect: once each."""

    version = models.ForeignKey(
        RuleVersion,
        verbose_name=_("规则版本"),
        on_delete=models.CASCADE,
        related_name="acknowledgment_reminders",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("会员"), on_delete=models.CASCADE, related_name="+"
    )
    sent_at = models.DateTimeField(_("提醒时间"))

    class Meta:
        verbose_name = _("确认提醒")
        verbose_name_plural = _("确认提醒")
        constraints = [
            models.UniqueConstraint(
                fields=["version", "user"], name="acknowledgment_reminder_once_per_member"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.version}"
