import re
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

# The one rule for an option's key (the API's `choice`): the model's validator, the database's check and
# the API schema's pattern all read it from here.
OPTION_KEY_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
OPTION_KEY_INVALID = "选项标识“{key}”无效：只能用小写字母、数字和下划线，以字母开头，最多 32 个字符。"
_OPTION_KEY = re.compile(OPTION_KEY_PATTERN)


def validate_option_key(value: str) -> None:
    """Refuse a key other than lower-case letters, digits and underscores, a letter first, at most 32."""
    # fullmatch: a search would let `$` match before a trailing newline.
    if not _OPTION_KEY.fullmatch(value):
        raise ValidationError(gettext(OPTION_KEY_INVALID).format(key=value[:40]), code="option_key_invalid")


class Consultation(models.Model):
    """A window in which members vote and comment on draft rule versions (意见征集 / 规则众议院).

    Its status is a function of the clock (`status_at`), never a stored flag.
    """

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("未开始")
        OPEN = "open", _("征集中")
        CLOSED = "closed", _("已结束")

    title = models.CharField(_("标题"), max_length=200)
    explanation = models.TextField(_("说明"), blank=True, help_text=_("Markdown：为什么改、改了什么。"))
    versions = models.ManyToManyField(
        "rules.RuleVersion", verbose_name=_("规则版本（草案）"), related_name="consultations"
    )
    bundle = models.ForeignKey(
        "rules.ChangeBundle",
        verbose_name=_("变更包"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="consultations",
    )
    opens_at = models.DateTimeField(_("开始时间"))
    closes_at = models.DateTimeField(_("截止时间"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("发起人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    # The 结果反馈 drafted from the ledger when the window closed (services.consultation_result_draft).
    result_announcement = models.ForeignKey(
        "announcements.Announcement",
        verbose_name=_("结果反馈"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    result_drafted_at = models.DateTimeField(_("结果反馈起草时间"), null=True, blank=True)

    class Meta:
        ordering = ["-opens_at", "-id"]
        verbose_name = _("意见征集")
        verbose_name_plural = _("意见征集")
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="consultation_title_not_empty"),
            models.CheckConstraint(
                condition=Q(closes_at__gt=F("opens_at")),
                name="consultation_closes_after_opens",
                violation_error_message=_("截止时间必须晚于开始时间。"),
            ),
        ]
        indexes = [
            models.Index(
                fields=["closes_at"], condition=Q(result_drafted_at__isnull=True), name="consultation_due"
            )
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("consultations:detail", args=[self.pk])

    def status_at(self, at: datetime) -> "Consultation.Status":
        if at < self.opens_at:
            return self.Status.SCHEDULED
        if at < self.closes_at:
            return self.Status.OPEN
        return self.Status.CLOSED


class ConsultationOption(models.Model):
    """One answer a member can give (支持, 可再评估 …); some require a reason."""

    consultation = models.ForeignKey(
        Consultation, verbose_name=_("意见征集"), on_delete=models.CASCADE, related_name="options"
    )
    key = models.SlugField(
        _("标识"),
        max_length=32,
        validators=[validate_option_key],
        help_text=_("API 中的取值，如 support、reevaluate：小写字母、数字和下划线，以字母开头"),
    )
    label = models.CharField(_("名称"), max_length=32)
    requires_reason = models.BooleanField(_("须填写理由"), default=False)
    position = models.PositiveSmallIntegerField(_("排序"), default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("投票选项")
        verbose_name_plural = _("投票选项")
        constraints = [
            models.UniqueConstraint(fields=["consultation", "key"], name="consultationoption_key_unique"),
            models.UniqueConstraint(fields=["consultation", "label"], name="consultationoption_label_unique"),
            models.CheckConstraint(condition=~Q(label=""), name="consultationoption_label_not_empty"),
            models.CheckConstraint(
                # SQLite's REGEXP is Python's re.search, whose `$` also matches before a final newline.
                condition=Q(key__regex=OPTION_KEY_PATTERN) & ~Q(key__contains="\n"),
                name="consultationoption_key_format",
                violation_error_message=_(
                    "选项标识只能用小写字母、数字和下划线，以字母开头，最多 32 个字符。"
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.label


class Vote(models.Model):
    """A member's standing vote: one row per member and consultation, replaced in place by a re-vote.

    The unique constraint is the guarantee; services write with INSERT … ON CONFLICT DO UPDATE, so two
    concurrent votes of one member can never leave two rows. Every submission is also kept in VoteHistory.
    """

    # No index of its own: the unique constraint's index leads with it (one B-tree less to write per vote).
    consultation = models.ForeignKey(
        Consultation,
        verbose_name=_("意见征集"),
        on_delete=models.PROTECT,
        related_name="votes",
        db_index=False,
    )
    member = models.ForeignKey(
        "accounts.Member", verbose_name=_("会员"), on_delete=models.PROTECT, related_name="consultation_votes"
    )
    choice = models.CharField(_("选项"), max_length=32)
    reason = models.TextField(_("理由"), blank=True)
    cast_at = models.DateTimeField(_("首次投票时间"))
    updated_at = models.DateTimeField(_("最近投票时间"))

    class Meta:
        ordering = ["consultation", "id"]
        verbose_name = _("投票")
        verbose_name_plural = _("投票")
        constraints = [
            models.UniqueConstraint(fields=["consultation", "member"], name="vote_one_per_member"),
            models.CheckConstraint(condition=~Q(choice=""), name="vote_choice_not_empty"),
        ]
        # The tally is one GROUP BY choice over this index.
        indexes = [models.Index(fields=["consultation", "choice"], name="vote_tally")]

    def __str__(self) -> str:
        return f"{self.member_id} → {self.choice}"


class VoteHistory(models.Model):
    """Every vote submitted, in order: the ledger behind the standing votes. Never updated or deleted."""

    consultation = models.ForeignKey(
        Consultation,
        verbose_name=_("意见征集"),
        on_delete=models.PROTECT,
        related_name="vote_history",
        db_index=False,  # the (consultation, member, cast_at) index leads with it
    )
    member = models.ForeignKey(
        "accounts.Member", verbose_name=_("会员"), on_delete=models.PROTECT, related_name="+"
    )
    choice = models.CharField(_("选项"), max_length=32)
    reason = models.TextField(_("理由"), blank=True)
    cast_at = models.DateTimeField(_("投票时间"))

    class Meta:
        ordering = ["cast_at", "id"]
        verbose_name = _("投票记录")
        verbose_name_plural = _("投票记录")
        indexes = [models.Index(fields=["consultation", "member", "cast_at"], name="votehistory_member")]

    def __str__(self) -> str:
        return f"{self.member_id} → {self.choice} @ {self.cast_at:%Y-%m-%d %H:%M}"


class OpinionCluster(models.Model):
    """Near-duplicate opinions grouped together (form letters, copy-paste campaigns), answered once."""

    consultation = models.ForeignKey(
        Consultation, verbose_name=_("意见征集"), on_delete=models.CASCADE, related_name="clusters"
    )
    representative = models.ForeignKey(
        "Opinion",
        verbose_name=_("代表意见"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    size = models.PositiveIntegerField(_("意见数"), default=0)
    response = models.TextField(_("平台回应"), blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("回应人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    responded_at = models.DateTimeField(_("回应时间"), null=True, blank=True)

    class Meta:
        ordering = ["consultation", "-size", "id"]
        verbose_name = _("相似意见组")
        verbose_name_plural = _("相似意见组")

    def __str__(self) -> str:
        text = self.representative.text if self.representative else ""
        return f"{text[:30]}（{self.size}）"


class Opinion(models.Model):
    """The reason given with a standing vote, as an operator reviews it (有效意见 or not)."""

    class Verdict(models.TextChoices):
        PENDING = "pending", _("待审核")
        VALID = "valid", _("有效")
        INVALID = "invalid", _("无效")

    class Code(models.TextChoices):
        SUBSTANTIVE = "substantive", _("有效：对变更内容提出具体问题或建议")
        CLARIFICATION = "clarification", _("有效：对条款含义或执行标准的疑问")
        OFF_TOPIC = "off_topic", _("无效：与本次规则变更无关")
        NO_CONTENT = "no_content", _("无效：无实质内容")
        ABUSIVE = "abusive", _("无效：辱骂或人身攻击")
        SPAM = "spam", _("无效：广告或灌水")

    VALID_CODES = (Code.SUBSTANTIVE, Code.CLARIFICATION)
    INVALID_CODES = (Code.OFF_TOPIC, Code.NO_CONTENT, Code.ABUSIVE, Code.SPAM)

    consultation = models.ForeignKey(
        Consultation, verbose_name=_("意见征集"), on_delete=models.CASCADE, related_name="opinions"
    )
    vote = models.OneToOneField(
        Vote, verbose_name=_("投票"), on_delete=models.CASCADE, related_name="opinion"
    )
    choice = models.CharField(_("选项"), max_length=32)
    text = models.TextField(_("意见"))
    verdict = models.CharField(_("审核结论"), max_length=16, choices=Verdict.choices, default=Verdict.PENDING)
    code = models.CharField(_("理由代码"), max_length=32, choices=Code.choices, blank=True)
    cluster = models.ForeignKey(
        OpinionCluster,
        verbose_name=_("相似意见组"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="opinions",
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审核人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("审核时间"), null=True, blank=True)

    class Meta:
        ordering = ["consultation", "id"]
        verbose_name = _("意见")
        verbose_name_plural = _("意见")
        constraints = [
            models.CheckConstraint(
                condition=Q(verdict="pending", code="")
                | Q(verdict="valid", code__in=["substantive", "clarification"])
                | Q(verdict="invalid", code__in=["off_topic", "no_content", "abusive", "spam"]),
                name="opinion_verdict_matches_code",
                violation_error_message=_(
                    "审核结论须配一个相应的理由代码：有效意见用“有效：…”，无效意见用“无效：…”。"
                ),
            ),
        ]
        indexes = [models.Index(fields=["consultation", "verdict"], name="opinion_verdict")]

    def __str__(self) -> str:
        return self.text[:40]
