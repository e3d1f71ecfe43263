"""Who is told what, and the record of every attempt to tell them (docs/notifications.md).

A `Subscription` names a channel, a target and a topic; an `Event` is written in the transaction of the
change it reports (the change hook), with the topics it concerns; a `Delivery` is one event for one
subscription, attempted until it succeeds or its retries run out — the delivery log a subscriber reads.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# A topic: everything, a category (an announcement's 栏目 or a rule's category), a rule, a consultation, a
# saved search (its query and filters, read by the search app: common/topics.py).
TOPIC_PATTERN = (
    r"^(all|category:[-a-zA-Z0-9_]{1,64}|rule:[-a-zA-Z0-9_]{1,64}|consultation:[0-9]{1,12}|search:.{1,193})$"
)


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

    # A member or partner; None for a visitor's e-mail subscription (double opt-in, unsubscribed by link).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("订阅者"),
        on_delete=models.CASCADE,
        related_name="subscriptions",
        null=True,
        blank=True,
    )
    channel = models.CharField(_("渠道"), max_length=16, choices=Channel.choices)
    target = models.CharField(
        _("地址"), max_length=2000, help_text=_("Webhook 或机器人的网址，或电子邮件地址。")
    )
    topic = models.CharField(
        _("主题"),
        max_length=200,
        help_text=_("all、category:<标识>、rule:<标识>、consultation:<编号> 或 search:<检索词>。"),
    )
    frequency = models.CharField(
        _("频率"), max_length=16, choices=Frequency.choices, default=Frequency.IMMEDIATE
    )
    # The signing secret of a webhook (whsec_ + base64), shown to the subscriber once, kept to sign with.
    secret = models.CharField(_("签名密钥"), max_length=100, blank=True, editable=False)
    # A chat robot's own signing secret (DingTalk 加签 SEC…, Feishu 签名校验), given by the subscriber.
    robot_secret = models.CharField(_("机器人签名密钥"), max_length=200, blank=True, editable=False)
    # The language messages are written in: the subscriber's when they subscribed.
    language = models.CharField(_("语言"), max_length=8, choices=settings.LANGUAGES, default="zh-hans")
    # E-mail is sent only once the address's owner has confirmed it (double opt-in); other channels are
    # confirmed when made (the token's holder named the URL).
    confirmed_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    # Since when every attempt has failed (None while the endpoint answers); past the setting it is disabled.
    failing_since = models.DateTimeField(_("连续失败起始"), null=True, blank=True)
    disabled_at = models.DateTimeField(_("停用时间"), null=True, blank=True)
    disabled_reason = models.CharField(_("停用原因"), max_length=200, blank=True)

    class Meta:
        verbose_name = pgettext_lazy("noun", "订阅")
        verbose_name_plural = pgettext_lazy("plural noun", "订阅")
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
                | Q(topic__startswith="consultation:")
                | Q(topic__startswith="search:"),
                name="subscription_topic_form",
            ),
            models.CheckConstraint(condition=~Q(target=""), name="subscription_target_not_empty"),
            # Only an e-mail address may be subscribed without an account (it confirms by mail).
            models.CheckConstraint(
                condition=Q(owner__isnull=False) | Q(channel="email"), name="subscription_owner_or_email"
            ),
            # Digests are for e-mail; every other channel is told at once.
            models.CheckConstraint(
                condition=Q(channel="email") | Q(frequency="immediate"), name="subscription_digest_is_email"
            ),
            models.CheckConstraint(
                condition=Q(language__in=["zh-hans", "en"]), name="subscription_language_known"
            ),
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
        return self.disabled_at is None and self.confirmed_at is not None

    @property
    def is_digest(self) -> bool:
        return self.frequency != self.Frequency.IMMEDIATE


class Event(models.Model):
    """Something a subscriber may want to hear of, written with the change it reports."""

    type = models.CharField(_("类型"), max_length=64)  # announcement.published, rule.noticed …
    topics = models.JSONField(_("主题"), default=list)  # the topics it concerns, "all" always among them
    data = models.JSONField(_("内容"), default=dict)
    occurred_at = models.DateTimeField(_("发生时间"))
    # For an event the clock raises (a consultation opening, closing soon): written once, whoever runs it.
    key = models.CharField(_("唯一键"), max_length=200, null=True, blank=True, unique=True, editable=False)
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
        Subscription,
        verbose_name=pgettext_lazy("noun", "订阅"),
        on_delete=models.CASCADE,
        related_name="deliveries",
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
    # For a daily or weekly e-mail subscription: the digest that carried it (None until its period ends).
    digest = models.ForeignKey(
        "Digest",
        verbose_name=_("汇总邮件"),
        on_delete=models.PROTECT,
        related_name="deliveries",
        null=True,
        blank=True,
    )

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


class DigestRun(models.Model):
    """One run of the daily or weekly digest for one period: recorded, so a run is never done twice."""

    frequency = models.CharField(_("频率"), max_length=16, choices=Subscription.Frequency.choices)
    period_end = models.DateTimeField(_("周期结束"))
    started_at = models.DateTimeField(_("开始时间"), auto_now_add=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    digests = models.PositiveIntegerField(_("汇总邮件数"), default=0)
    deliveries = models.PositiveIntegerField(_("事件条数"), default=0)

    class Meta:
        verbose_name = _("汇总运行")
        verbose_name_plural = _("汇总运行")
        ordering = ["-period_end", "frequency"]
        constraints = [
            models.UniqueConstraint(fields=["frequency", "period_end"], name="digest_run_once_per_period"),
            models.CheckConstraint(
                condition=Q(frequency__in=["daily", "weekly"]), name="digest_run_frequency"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_frequency_display()} {self.period_end:%Y-%m-%d %H:%M}"


class Digest(models.Model):
    """One e-mail to one address for one period: every event of all its subscriptions, grouped."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待发送")
        SENT = "sent", _("已发送")
        FAILED = "failed", _("已放弃")

    run = models.ForeignKey(
        DigestRun, verbose_name=_("汇总运行"), on_delete=models.PROTECT, related_name="digest_set"
    )
    address = models.EmailField(_("电子邮件地址"), max_length=254)
    language = models.CharField(_("语言"), max_length=8, choices=settings.LANGUAGES, default="zh-hans")
    # The Message-ID: the same on every attempt, so a mail system can drop a repeat.
    message_id = models.CharField(_("消息编号"), max_length=64, unique=True)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试"), null=True, blank=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    error = models.CharField(_("错误"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("汇总邮件")
        verbose_name_plural = _("汇总邮件")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "address"], name="digest_once_per_address_per_run"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sent", "failed"]), name="digest_status_known"
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False), name="digest_sent_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.address} · {self.run}"


class RobotSend(models.Model):
    """One message sent to a chat robot: the last minute's count keeps each robot under its limit
    (20 a minute; going over blocks a DingTalk robot for ten minutes)."""

    robot = models.CharField(_("机器人"), max_length=64)  # SHA-256 of the robot's URL
    sent_at = models.DateTimeField(_("发送时间"))

    class Meta:
        verbose_name = _("机器人发送记录")
        verbose_name_plural = _("机器人发送记录")
        indexes = [models.Index(fields=["robot", "sent_at"], name="robot_send_window")]

    def __str__(self) -> str:
        return f"{self.robot[:12]} {self.sent_at:%H:%M:%S}"
