"""Who is told what, and the record of every attempt to tell them (docs/notifications.md).

A `Subscription` names a channel, a target and a topic; an `Event` is written in the transaction of the
change it reports (the change hook), with the topics it concerns; a `Delivery` is one event for one
subscription, attempted until it succeeds or its retries run out — the delivery log a subscriber reads.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

# A topic: everything, a category (an announcement's 栏目 or a rule's category), a rule, a consultation.
TOPIC_PATTERN = r"^(all|category:[-a-zA-Z0-9_]{1,64}|rule:[-a-zA-Z0-9_]{1,64}|consultation:[0-9]{1,12})$"


class Subscription(models.Model):
    class Channel(models.TextChoices):
        WEBHOOK = "webhook", _("Webhook")
        EMAIL = "email", _("电子邮件")
        DINGTALK = "dingtalk", _("钉钉机器人")
        WECOM = "wecom", _("企业微信机器人")
        FEISHU = "feishu", _("飞书机器人")

    class Frequency(models.TextChoices):
        IMMEDIATE = "immediate", _("即时")
        DAILY = "daily", _("每日汇总")
        WEEKLY = "weekly", _("每周汇总")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("订阅者"),
        on_delete=models.CASCADE,
        related_name="subscriptions",
    )
    channel = models.CharField(_("渠道"), max_length=16, choices=Channel.choices)
    target = models.CharField(
        _("地址"), max_length=2000, help_text=_("Webhook 或机器人的网址，或电子邮件地址。")
    )
    topic = models.CharField(
        _("主题"), max_length=80, help_text=_("all、category:<标识>、rule:<标识> 或 consultation:<编号>。")
    )
    frequency = models.CharField(
        _("频率"), max_length=16, choices=Frequency.choices, default=Frequency.IMMEDIATE
    )
    # The signing secret of a webhook (whsec_ + base64), shown to the subscriber once, kept to sign with.
    secret = models.CharField(_("签名密钥"), max_length=100, blank=True, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    # Since when every attempt has failed (None while the endpoint answers); past the setting it is disabled.
    failing_since = models.DateTimeField(_("连续失败起始"), null=True, blank=True)
    disabled_at = models.DateTimeField(_("停用时间"), null=True, blank=True)
    disabled_reason = models.CharField(_("停用原因"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("订阅")
        verbose_name_plural = _("订阅")
        indexes = [models.Index(fields=["topic", "channel"], name="subscription_topic_channel")]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__in=["webhook", "email", "dingtalk", "wecom", "feishu"]),
                name="subscription_channel_known",
            ),
            models.CheckConstraint(
                condition=Q(frequency__in=["immediate", "daily", "weekly"]),
                name="subscription_frequency_known",
            ),
            models.CheckConstraint(
                condition=Q(topic="all")
                | Q(topic__startswith="category:")
                | Q(topic__startswith="rule:")
                | Q(topic__startswith="consultation:"),
                name="subscription_topic_form",
            ),
            models.CheckConstraint(condition=~Q(target=""), name="subscription_target_not_empty"),
            # A webhook is always signed.
            models.CheckConstraint(
                condition=~Q(channel="webhook") | Q(secret__startswith="whsec_"),  # noqa: S106 - a prefix
                name="subscription_webhook_signed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.target} ({self.topic})"

    @property
    def active(self) -> bool:
        return self.disabled_at is None


class Event(models.Model):
    """Something a subscriber may want to hear of, written with the change it reports."""

    type = models.CharField(_("类型"), max_length=64)  # announcement.published, rule.noticed …
    topics = models.JSONField(_("主题"), default=list)  # the topics it concerns, "all" always among them
    data = models.JSONField(_("内容"), default=dict)
    occurred_at = models.DateTimeField(_("发生时间"))
    fanned_out_at = models.DateTimeField(_("分发时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("通知事件")
        verbose_name_plural = _("通知事件")
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("待发送")
        SUCCEEDED = "succeeded", _("已送达")
        FAILED = "failed", _("已放弃")

    event = models.ForeignKey(
        Event, verbose_name=_("事件"), on_delete=models.CASCADE, related_name="deliveries"
    )
    subscription = models.ForeignKey(
        Subscription, verbose_name=_("订阅"), on_delete=models.CASCADE, related_name="deliveries"
    )
    # The webhook-id header: the same on every attempt, so a receiver can drop a repeat.
    message_id = models.CharField(_("消息编号"), max_length=64, unique=True)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("最近尝试"), null=True, blank=True)
    response_status = models.PositiveIntegerField(_("响应状态码"), null=True, blank=True)
    latency_ms = models.PositiveIntegerField(_("耗时（毫秒）"), null=True, blank=True)
    error = models.CharField(_("错误"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("投递")
        verbose_name_plural = _("投递")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "subscription"], name="delivery_once_per_subscription"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "succeeded", "failed"]), name="delivery_status_known"
            ),
            models.CheckConstraint(
                condition=~Q(status="pending") | Q(next_attempt_at__isnull=False),
                name="delivery_pending_has_next_attempt",
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.message_id} → {self.subscription_id} ({self.status})"
