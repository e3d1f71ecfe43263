"""Complaints and appeals (申诉 / 投诉) against rules and their application (docs/cases.md).

A `Case` is filed by a member about a rule (and a clause), a rule change, or the application of a rule to
them at an instant; the version in force at that instant is pinned to it, so the answer is judged against
the text that bound the member then. Its `steps` are its timeline — every move, by whom, when — written
once and never changed (the database refuses it). Attachments are files kept through Django's storage API.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

OPEN_STATUSES = ("received", "under_review", "escalated")


class Case(models.Model):
    class Subject(models.TextChoices):
        RULE = "rule", _("规则或条款本身")
        CHANGE = "change", _("一次规则变更")
        APPLICATION = "application", _("规则对我的适用（处罚、处理决定）")

    class Status(models.TextChoices):
        RECEIVED = "received", _("已受理")
        UNDER_REVIEW = "under_review", _("审查中")
        ANSWERED = "answered", _("已答复")
        ESCALATED = "escalated", _("人工复核中")
        CLOSED = "closed", _("已结案")

    class Outcome(models.TextChoices):
        UPHELD = "upheld", _("成立")
        PARTLY_UPHELD = "partly_upheld", _("部分成立")
        REJECTED = "rejected", _("不成立")

    number = models.CharField(_("案件编号"), max_length=20, unique=True, editable=False)
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("会员"), on_delete=models.PROTECT, related_name="cases"
    )
    subject = models.CharField(_("申诉对象"), max_length=16, choices=Subject.choices)
    rule = models.ForeignKey(
        "rules.Rule", verbose_name=_("规则"), on_delete=models.PROTECT, related_name="cases"
    )
    # The version in force at `at`: the text the case is judged against. Pinned when filed, never changed.
    version = models.ForeignKey(
        "rules.RuleVersion",
        verbose_name=pgettext_lazy("case", "适用版本"),
        on_delete=models.PROTECT,
        related_name="cases",
    )
    at = models.DateTimeField(_("发生时间"))
    clause = models.CharField(_("条款"), max_length=64, blank=True)
    penalty_reference = models.CharField(_("处罚或处理决定编号"), max_length=100, blank=True)
    # The member says the decision complained of was made by an automated system or without a person.
    automated = models.BooleanField(_("自动化决定"), default=False)
    text = models.TextField(_("申诉内容"))
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.RECEIVED)
    received_at = models.DateTimeField(_("受理时间"))
    # When the platform must have answered the current stage (a setting's days after receipt/escalation).
    due_at = models.DateTimeField(_("答复期限"))
    handler = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("承办人"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    outcome = models.CharField(_("结论"), max_length=16, choices=Outcome.choices, blank=True)
    answer = models.TextField(_("答复及理由"), blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("答复人"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    answered_at = models.DateTimeField(_("答复时间"), null=True, blank=True)
    # Whether the current answer came by its deadline (None until answered): the public statistics' figure.
    answered_in_time = models.BooleanField(_("按期答复"), null=True, blank=True)
    # Who gave the first answer, when the member asked for a human review: the review is someone else's.
    first_answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("首次答复人"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    escalated_at = models.DateTimeField(_("申请人工复核时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("结案时间"), null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("申诉")
        verbose_name_plural = _("申诉与投诉")
        indexes = [
            models.Index(fields=["member", "received_at"], name="case_member"),
            models.Index(fields=["status", "due_at"], name="case_status_due"),
            # Covers the rule's public statistics: counted from the index alone, never the texts' rows.
            models.Index(
                fields=["rule", "status", "outcome", "answered_in_time", "due_at"],
                name="case_rule_statistics",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(subject__in=["rule", "change", "application"]), name="case_subject_known"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["received", "under_review", "answered", "escalated", "closed"]),
                name="case_status_known",
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=["", "upheld", "partly_upheld", "rejected"]),
                name="case_outcome_known",
            ),
            models.CheckConstraint(condition=~Q(text=""), name="case_text_not_empty"),
            # Answered or closed after an answer: with a conclusion and its reasons, by someone, at a time.
            models.CheckConstraint(
                condition=~Q(status__in=["answered", "closed"])
                | (~Q(outcome="") & ~Q(answer="") & Q(answered_at__isnull=False)),
                name="case_answer_complete",
            ),
            # A human review is never the first answerer's: a different person looks again.
            models.CheckConstraint(
                condition=Q(first_answered_by__isnull=True)
                | Q(answered_by__isnull=True)
                | ~Q(answered_by=F("first_answered_by")),
                name="case_review_by_another",
            ),
            models.CheckConstraint(condition=Q(due_at__gte=F("received_at")), name="case_due_after_receipt"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class CaseStep(models.Model):
    """One move of a case — filed, taken up, answered, escalated, closed — written once (the timeline)."""

    class Kind(models.TextChoices):
        FILED = "filed", _("提交申诉")
        TAKEN = "taken", _("开始审查")
        ANSWERED = "answered", _("作出答复")
        ESCALATED = "escalated", _("申请人工复核")
        CLOSED = "closed", _("结案")

    case = models.ForeignKey(Case, verbose_name=_("申诉"), on_delete=models.PROTECT, related_name="steps")
    kind = models.CharField(_("步骤"), max_length=16, choices=Kind.choices)
    at = models.DateTimeField(_("时间"))
    # Who, as shown to the member: 您 for their own steps, 平台 for staff (their names stay internal).
    actor_id = models.BigIntegerField(_("操作人编号"), null=True, blank=True)
    staff = models.BooleanField(_("平台操作"), default=False)
    note = models.TextField(_("说明"), blank=True)
    outcome = models.CharField(_("结论"), max_length=16, choices=Case.Outcome.choices, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("申诉进展")
        verbose_name_plural = _("申诉进展")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["filed", "taken", "answered", "escalated", "closed"]),
                name="casestep_kind_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind}"


class CaseAttachment(models.Model):
    """Evidence attached to a case: an image or a PDF, its type read from its bytes, kept through storage."""

    case = models.ForeignKey(
        Case, verbose_name=_("申诉"), on_delete=models.PROTECT, related_name="attachments"
    )
    file = models.FileField(_("文件"), upload_to="cases/%Y/%m/", max_length=200)
    name = models.CharField(_("文件名"), max_length=200)
    content_type = models.CharField(_("类型"), max_length=32)
    size = models.PositiveIntegerField(_("大小（字节）"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)

    class Meta:
        ordering = ["id"]
        verbose_name = _("附件")
        verbose_name_plural = _("附件")
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    content_type__in=["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"]
                ),
                name="caseattachment_type_allowed",
            ),
        ]

    def __str__(self) -> str:
        return self.name
