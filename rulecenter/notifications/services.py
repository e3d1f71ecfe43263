"""Writes of notifications: subscriptions, events (in the change's own transaction) and their deliveries.

Delivery is at least once: an attempt is *claimed* in one short transaction (its lease pushed past the
longest attempt, and a task queued for the lease's end in case this worker dies mid-send; a batch claims
all of its deliveries together and renews the lease of those it has not reached yet), the request is sent
outside any transaction, and the outcome is recorded in another; the receiver tells repeats apart by the
unchanged `webhook-id` (`Message-ID`). Only a 2xx counts. Failures retry on `RETRY_SCHEDULE` with ±20%
jitter, or when the receiver asks (`Retry-After` on 429/5xx), for about three days; `410 Gone` disables the
subscription at once, and so does failing without a single success for
`RULECENTER_WEBHOOK_DISABLE_AFTER_DAYS`.
"""

import contextlib
import hashlib
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import mailers
from django.core.validators import validate_email
from django.db import connection as database
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from rulecenter.accounts import selectors as account_selectors
from rulecenter.announcements import selectors as announcement_selectors
from rulecenter.cases import selectors as case_selectors
from rulecenter.common import outbound
from rulecenter.common import topics as topic_kinds
from rulecenter.common.actors import Actor
from rulecenter.consultations import selectors as consultation_selectors
from rulecenter.rules import selectors as rule_selectors
from rulecenter.rules import services as rule_services

from . import mail, robots, signing, webhooks
from .models import Delivery, Digest, DigestRun, Event, RobotSend, Subscription

# Retries after the first attempt fails (Standard Webhooks' schedule, stretched to about three days).
RETRY_SCHEDULE = (
    timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
    timedelta(hours=5), timedelta(hours=10), timedelta(hours=10), timedelta(hours=24), timedelta(hours=24),
)  # fmt: skip
JITTER = 0.2
LEASE_MARGIN = timedelta(seconds=30)
FAN_OUT_SAFETY = timedelta(minutes=10)
MAX_RETRY_AFTER = timedelta(hours=24)
MAX_SUBSCRIPTIONS_PER_OWNER = 100
DIGESTS = ("daily", "weekly")
REMINDER_BATCH = 500
ROBOT_WINDOW = timedelta(minutes=1)
ROBOT_KEEP = timedelta(hours=1)
# How long a robot is blocked when told it sent too fast (DingTalk: ten minutes).
ROBOT_BLOCKED = {
    "dingtalk": timedelta(minutes=10),
    "wecom": timedelta(minutes=1),
    "feishu": timedelta(minutes=1),
}

ROBOTS = ("dingtalk", "wecom", "feishu")
TOPIC_INVALID = (
    "主题“{topic}”无效：请用 all、category:<标识>、rule:<标识>、consultation:<编号> 或 search:<检索词>。"
)
TOPIC_UNKNOWN_CATEGORY = "没有标识为“{slug}”的栏目或规则分类。"
TOPIC_UNKNOWN_RULE = "没有标识为“{slug}”的公开规则。"
TOPIC_UNKNOWN_CONSULTATION = "没有编号为 {pk} 的公开意见征集。"
FREQUENCY_WEBHOOK = "Webhook 和机器人即时发送，频率只能是 immediate。"
EMAIL_INVALID = "“{address}”不是有效的电子邮件地址。"
ROBOT_SECRET_ONLY = "只有钉钉和飞书机器人需要签名密钥。"  # noqa: S105 - a message
ROBOT_SECRET_TOO_LONG = "签名密钥最长 200 个字符。"  # noqa: S105 - a message
ALREADY = "已经有同样的订阅（编号 {pk}）。"
LANGUAGE_UNKNOWN = "不支持的语言“{language}”。"
TOO_MANY = "每个账户最多 {limit} 个订阅。"
NOT_YOURS = "这不是你的订阅。"
DISABLED_GONE = "接收方回复 410 Gone"
DISABLED_FAILING = "连续 {days} 天投递失败"
DISABLED_REFUSED = "收件服务器拒收这个地址"


def _is_owner(actor: Actor, subscription: Subscription) -> bool:
    return actor.is_system or actor.superuser or subscription.owner_id == actor.user_id


def topic_check(topic: str) -> str:
    """The topic if it names something that exists; ValidationError (on `topic`) otherwise."""
    kind, _sep, name = topic.partition(":")
    if topic == "all":
        return topic
    if kind == "consultation" and name.isascii() and name.isdigit() and len(name) <= 12:
        if consultation_selectors.consultation_get(pk=int(name)) is None:
            raise ValidationError({"topic": _(TOPIC_UNKNOWN_CONSULTATION).format(pk=name)})
        return topic
    saved = topic_kinds.kind(kind) if kind == "search" else None
    if saved is not None:
        refused = saved.check(name)
        if refused is not None:
            raise ValidationError({"topic": refused})
        return topic
    if kind not in ("category", "rule") or not name or len(name) > 64:
        raise ValidationError({"topic": _(TOPIC_INVALID).format(topic=topic[:200])})
    if kind == "category":
        known = announcement_selectors.category_by_slug(name) is not None
        if not known and rule_selectors.rule_category_by_slug(name) is None:
            raise ValidationError({"topic": _(TOPIC_UNKNOWN_CATEGORY).format(slug=name)})
    elif rule_selectors.public_rule_by_slug(name) is None:
        raise ValidationError({"topic": _(TOPIC_UNKNOWN_RULE).format(slug=name)})
    return topic


def _address_normalised(address: str) -> str:
    local, sep, domain = address.strip().rpartition("@")
    return f"{local}@{domain.lower()}" if sep else address.strip()


def _target_errors(channel: str, target: str, frequency: str, robot_secret: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if channel == Subscription.Channel.EMAIL:
        try:
            validate_email(target)
        except ValidationError:
            errors["target"] = _(EMAIL_INVALID).format(address=target[:100])
    else:
        try:
            webhooks.url_check(target)
            if channel in ROBOTS:
                robots.target_check(channel, target, any_host=bool(settings.RULECENTER_WEBHOOK_ALLOW_PRIVATE))
        except outbound.TargetRefused as refused:  # robots.TargetRefused is one too
            errors["target"] = str(refused)
        if frequency != Subscription.Frequency.IMMEDIATE:
            errors["frequency"] = _(FREQUENCY_WEBHOOK)
    if robot_secret and channel not in ("dingtalk", "feishu"):
        errors["robot_secret"] = _(ROBOT_SECRET_ONLY)
    elif len(robot_secret) > 200:
        errors["robot_secret"] = _(ROBOT_SECRET_TOO_LONG)
    return errors


@transaction.atomic
def subscription_create(
    *,
    actor: Actor,
    owner: User | None,
    channel: str,
    target: str,
    topic: str,
    frequency: str,
    language: str = "zh-hans",
    robot_secret: str = "",
) -> Subscription:
    """A subscription of `owner` (the actor's own user, unless the actor manages accounts; None for a
    visitor's e-mail address). Webhooks and robots get a signing secret, on the returned object only this
    once (it is kept to sign with, never shown again) and are confirmed at once; an e-mail address is sent
    a confirmation and told nothing else until it is confirmed (double opt-in)."""
    if owner is None:
        if channel != Subscription.Channel.EMAIL:
            raise PermissionDenied(_(NOT_YOURS))
    elif not (actor.is_system or actor.superuser or actor.user_id == owner.pk):
        raise PermissionDenied(_(NOT_YOURS))
    if channel == Subscription.Channel.EMAIL:
        target = _address_normalised(target)
    robot_secret = robot_secret.strip()  # pasted from the group's settings, often with a stray space
    errors = _target_errors(channel, target, frequency, robot_secret)
    if language not in dict(settings.LANGUAGES):
        errors["language"] = _(LANGUAGE_UNKNOWN).format(language=language[:10])
    try:
        topic_check(topic)
    except ValidationError as refused:
        errors.update({key: value[0] for key, value in refused.message_dict.items()})
    if owner is not None and Subscription.objects.filter(owner=owner).count() >= MAX_SUBSCRIPTIONS_PER_OWNER:
        errors["__all__"] = _(TOO_MANY).format(limit=MAX_SUBSCRIPTIONS_PER_OWNER)
    if errors:
        raise ValidationError(errors)
    same = Subscription.objects.filter(owner=owner, channel=channel, target=target, topic=topic).first()
    if same is not None and owner is not None:
        raise ValidationError({"__all__": _(ALREADY).format(pk=same.pk)})
    if same is not None:
        # A visitor asking again: the confirmation is sent again, and nothing tells them more than that.
        if same.confirmed_at is None:
            _confirmation_queue(same)
        return same
    is_email = channel == Subscription.Channel.EMAIL
    subscription = Subscription.objects.create(
        owner=owner,
        channel=channel,
        target=target,
        topic=topic,
        frequency=frequency,
        language=language,
        secret="" if is_email else signing.secret_new(),
        robot_secret=robot_secret,
        confirmed_at=None if is_email else timezone.now(),
    )
    if is_email:
        _confirmation_queue(subscription)
    return subscription


def _confirmation_queue(subscription: Subscription) -> None:
    from .tasks import confirmation_send

    pk = subscription.pk
    transaction.on_commit(lambda: confirmation_send.enqueue(subscription_id=pk), robust=True)


def confirmation_send(*, subscription_id: int) -> bool:
    """Send an unconfirmed e-mail subscription its confirmation (the worker's job); whether it went."""
    subscription = Subscription.objects.filter(pk=subscription_id, confirmed_at__isnull=True).first()
    if subscription is None:
        return False
    return mail.send(mail.confirmation_message(subscription)).succeeded


@transaction.atomic
def subscription_confirm(*, token: str) -> Subscription | None:
    """Confirm the e-mail subscription a genuine, recent confirmation token names; None if there is none."""
    pk = mail.confirm_token_read(token)
    subscription = Subscription.objects.select_for_update().filter(pk=pk).first() if pk else None
    if subscription is not None and subscription.confirmed_at is None:
        subscription.confirmed_at = timezone.now()
        subscription.save(update_fields=["confirmed_at"])
    return subscription


@transaction.atomic
def subscriptions_unsubscribe(*, token: str) -> int | None:
    """End the subscriptions an unsubscribe link names (the link is the proof: it was mailed to the
    address); the number ended, or None for a token that is not genuine."""
    ids = mail.unsubscribe_token_read(token)
    if ids is None:
        return None
    _total, per_model = Subscription.objects.filter(pk__in=ids, channel=Subscription.Channel.EMAIL).delete()
    return per_model.get("notifications.Subscription", 0)


@transaction.atomic
def subscription_delete(*, actor: Actor, subscription: Subscription) -> None:
    if not _is_owner(actor, subscription):
        raise PermissionDenied(_(NOT_YOURS))
    subscription.delete()


def event_record(
    *,
    type: str,
    topics: Iterable[str],
    data: dict[str, Any],
    at: datetime | None = None,
    key: str | None = None,
) -> Event | None:
    """Write an event in the caller's transaction (the change's); its fan-out is queued once that commits.
    With a `key`, only the first of any number of calls writes it (None for the others)."""
    from .tasks import event_fan_out

    fields = {
        "type": type,
        "topics": sorted({"all", *topics}),
        "data": data,
        "occurred_at": at or timezone.now(),
    }
    if key is not None:
        event, created = Event.objects.get_or_create(key=key, defaults=fields)
        if not created:
            return None
    else:
        event = Event.objects.create(**fields)
    pk = event.pk

    def enqueue() -> None:
        event_fan_out.enqueue(event_id=pk)
        # A worker killed mid fan-out leaves its task running for ever: this one finds the event fanned out
        # (nothing to do) or does it.
        event_fan_out.using(run_after=timezone.now() + FAN_OUT_SAFETY).enqueue(event_id=pk)

    transaction.on_commit(enqueue, robust=True)
    return event


CONSULTATION_MOMENTS = ("opened", "closing")
CLOSING_NOTICE = timedelta(hours=24)
# A moment this far in the past when it is scheduled is history (an import, the demo): nobody is told.
MOMENT_STALE = timedelta(hours=1)


def consultation_moment_at(moment: str, opens_at: datetime, closes_at: datetime) -> datetime | None:
    """When the clock raises a consultation's `moment`: its opening, or 24 hours before it closes (None if
    the window is shorter than that)."""
    if moment == "opened":
        return opens_at
    at = closes_at - CLOSING_NOTICE
    return at if at > opens_at else None


def consultation_moments_schedule(*, consultation_id: int, opens_at: datetime, closes_at: datetime) -> None:
    """Ask the worker to raise the consultation's opening and closing-soon events at their times (after
    the change commits). A moved window schedules again; a run finding the window moved does nothing."""
    from .tasks import consultation_moment

    now = timezone.now()
    for moment in CONSULTATION_MOMENTS:
        at = consultation_moment_at(moment, opens_at, closes_at)
        if at is not None and at >= now - MOMENT_STALE:
            task = consultation_moment.using(run_after=at)
            enqueue = partial(task.enqueue, consultation_id=consultation_id, moment=moment, at=at.isoformat())
            transaction.on_commit(enqueue, robust=True)


def consultation_event_data(consultation: Any) -> tuple[list[str], dict[str, Any]]:
    """The topics and data of a consultation's events. It targets segments when every draft it consults on
    does (then theirs, together); a draft for everyone makes it everyone's."""
    versions = list(consultation.versions.all())
    rules = sorted({version.rule.slug for version in versions})
    targeted = rule_selectors.version_segments(ids=[version.pk for version in versions])
    segments: set[str] = set()
    if versions and all(version.pk in targeted for version in versions):
        segments = {segment.slug for found in targeted.values() for segment in found}
    data = {
        "consultation": consultation.pk,
        "title": consultation.title,
        "summary": consultation.explanation[:300],
        "opens_at": consultation.opens_at.isoformat(),
        "closes_at": consultation.closes_at.isoformat(),
        "rules": rules,
        "url": f"{settings.RULECENTER_SITE_URL.rstrip('/')}{consultation.get_absolute_url()}",
        "segments": sorted(segments),
    }
    return [f"consultation:{consultation.pk}", *(f"rule:{slug}" for slug in rules)], data


def consultation_moment(*, consultation_id: int, moment: str, at: datetime) -> bool:
    """Raise a consultation's opening or closing-soon event if its window still puts it at `at` and its time
    has come; once, however many runs. Whether it was raised now."""
    consultation = consultation_selectors.consultation_get_any(pk=consultation_id)
    if consultation is None or moment not in CONSULTATION_MOMENTS or timezone.now() < at:
        return False
    if consultation_moment_at(moment, consultation.opens_at, consultation.closes_at) != at:
        return False  # the window moved: the task scheduled for its new time raises it
    if consultation.result_drafted_at is not None:
        return False
    topics, data = consultation_event_data(consultation)
    with transaction.atomic():
        event = event_record(
            type=f"consultation.{moment}",
            topics=topics,
            data=data,
            at=at,
            key=f"consultation.{moment}:{consultation.pk}:{at.isoformat()}",
        )
    return event is not None


def acknowledgment_reminder_at(effective_at: datetime) -> datetime:
    return effective_at - timedelta(hours=int(settings.RULECENTER_ACKNOWLEDGMENT_REMINDER_HOURS))


def acknowledgment_reminder_schedule(*, version_id: int, effective_at: datetime) -> None:
    """Ask the worker to remind, before the version takes effect, the members who have not acknowledged it."""
    from .tasks import acknowledgment_reminders

    at = max(acknowledgment_reminder_at(effective_at), timezone.now())
    task = acknowledgment_reminders.using(run_after=at)
    enqueue = partial(task.enqueue, version_id=version_id, effective_at=effective_at.isoformat())
    transaction.on_commit(enqueue, robust=True)


def acknowledgment_reminders_send(*, version_id: int, effective_at: datetime) -> int:
    """E-mail every member who has neither acknowledged the version nor been reminded of it, if it still
    takes effect at `effective_at` and that is near; each member once, however many runs (a reminder is
    recorded before it is sent: a worker killed in between leaves that member unreminded rather than
    reminded twice). The number sent."""
    found = rule_selectors.versions_with_rule_and_category(ids=[version_id])
    version = found[0] if found else None
    now = timezone.now()
    if (
        version is None
        or not version.acknowledgment_required
        or version.effective_at != effective_at
        or not acknowledgment_reminder_at(effective_at) <= now < effective_at
    ):
        return 0
    sent = 0
    connection = _mailer_opened()
    try:
        while True:
            due = list(rule_selectors.acknowledgment_reminders_due(version=version)[:REMINDER_BATCH])
            if not due:
                break
            mine = rule_services.acknowledgment_reminders_record(
                version=version, user_ids=due, at=timezone.now()
            )
            for user in User.objects.filter(pk__in=mine).select_related("member").order_by("pk"):
                if mail.send(mail.acknowledgment_reminder_message(user, version), connection).succeeded:
                    sent += 1
    finally:
        with contextlib.suppress(Exception):
            connection.close()
    return sent


def digest_period_end(frequency: str, after: datetime) -> datetime:
    """When the daily or weekly digest that takes something happening at `after` goes out: the next
    `RULECENTER_DIGEST_HOUR` o'clock (local time) after it — for weekly, the next Monday's."""
    local = timezone.localtime(after)
    end = local.replace(hour=int(settings.RULECENTER_DIGEST_HOUR), minute=0, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    if frequency == Subscription.Frequency.WEEKLY:
        end += timedelta(days=(7 - end.weekday()) % 7)
    return end


# Topics that did not name the thing changed: a segment-targeted change reaches them only in its segments.
BROAD_TOPICS = Q(topic="all") | Q(topic__startswith="category:") | Q(topic__startswith="search:")


def _concerned(event: Event) -> Q:
    """Which subscriptions a targeted event (its data names `segments`) reaches, as a condition in the query.

    `rule:` and `consultation:` subscriptions always hear: they asked about exactly that. Of `all`,
    `category:` and saved-search ones, only those whose owner is a member in one of the segments (on the
    day it happened), or not a member at all (a partner's or the staff's systems watch everything);
    visitors' e-mail subscriptions (no owner) are not told. An event without segments concerns everyone.
    """
    segments = event.data.get("segments") if isinstance(event.data, dict) else None
    if not segments:
        return Q()
    keys = [str(segment) for segment in segments]
    in_segments = account_selectors.segment_users(keys, at=event.occurred_at)
    not_a_member = Q(owner__isnull=False) & ~Q(owner__in=account_selectors.member_users())
    return ~BROAD_TOPICS | Q(owner__in=in_segments) | not_a_member


def _saved_searches_concerned(event: Event) -> list[str]:
    """The saved-search topics (`search:<query>`) subscribed to whose query the event's title and summary
    answer: each distinct query matched once, however many subscribe to it."""
    saved = topic_kinds.kind("search")
    if saved is None or not isinstance(event.data, dict):
        return []
    queries = (
        Subscription.objects.filter(topic__startswith="search:", disabled_at__isnull=True)
        .values_list("topic", flat=True)
        .distinct()
    )
    return [
        topic
        for topic in queries.iterator()
        if saved.matches(topic.removeprefix("search:"), event.type, event.data)
    ]


def event_fan_out(*, event_id: int) -> int:
    """One delivery per active subscription whose topic the event concerns and that existed when it
    occurred (none twice, whatever the number of runs; one per e-mail address, however many of its topics
    the event concerns) and, for an event that targets segments, that it concerns (`_concerned`).
    Immediate ones are queued for their first attempt in batches; a digest's wait for the end of its
    period. The number of deliveries created."""
    from .tasks import deliveries_attempt, digest_run

    now = timezone.now()
    period_ends = {frequency: digest_period_end(frequency, now) for frequency in ("daily", "weekly")}
    digest_frequencies: set[str] = set()
    with transaction.atomic():
        event = Event.objects.select_for_update().filter(pk=event_id).first()
        if event is None or event.fanned_out_at is not None:
            return 0
        # Those who had subscribed when it happened: a worker that runs late tells no one the news it missed.
        subscriptions = (
            Subscription.objects.filter(
                topic__in=[*event.topics, *_saved_searches_concerned(event)],
                disabled_at__isnull=True,
                confirmed_at__isnull=False,
                created_at__lte=event.occurred_at,
            )
            .filter(_concerned(event))
            .order_by("channel", "frequency", "target", "id")
            .values_list("pk", "channel", "frequency", "target")
        )
        created = 0
        batch: list[Delivery] = []
        previous: tuple[str, str, str] | None = None
        for pk, channel, frequency, target in subscriptions.iterator(chunk_size=2000):
            if channel == Subscription.Channel.EMAIL:
                if previous == (channel, frequency, target):
                    continue  # the same address again, for another of its topics
                previous = (channel, frequency, target)
            due = period_ends.get(frequency, now)
            if frequency in period_ends:
                digest_frequencies.add(frequency)
            batch.append(
                Delivery(
                    event=event, subscription_id=pk, message_id=signing.message_id_new(), next_attempt_at=due
                )
            )
            if len(batch) >= 1000:
                created += len(Delivery.objects.bulk_create(batch, ignore_conflicts=True))
                batch = []
        created += len(Delivery.objects.bulk_create(batch, ignore_conflicts=True))
        event.fanned_out_at = now
        event.save(update_fields=["fanned_out_at"])
        ids = list(
            Delivery.objects.filter(event=event, next_attempt_at__lte=now)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        size = int(settings.RULECENTER_DELIVERY_BATCH)

        def enqueue() -> None:
            for start in range(0, len(ids), size):
                deliveries_attempt.enqueue(delivery_ids=ids[start : start + size])
            for frequency in sorted(digest_frequencies):
                at = period_ends[frequency]
                digest_run.using(run_after=at).enqueue(frequency=frequency, period_end=at.isoformat())

        transaction.on_commit(enqueue, robust=True)
    return created


def event_body(event: Event) -> bytes:
    return json.dumps(
        {"type": event.type, "timestamp": event.occurred_at.isoformat(), "data": event.data},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


def _lease() -> timedelta:
    mail_timeout = settings.MAILERS.get("default", {}).get("OPTIONS", {}).get("timeout") or 0
    seconds = max(float(settings.RULECENTER_WEBHOOK_TIMEOUT_SECONDS), float(mail_timeout))
    return timedelta(seconds=seconds) + LEASE_MARGIN


def _robot(target: str) -> str:
    return hashlib.sha256(target.encode()).hexdigest()


def _robot_slot(subscription: Subscription, now: datetime) -> datetime | None:
    """Take one of the robot's sends of the last minute (in the claim's transaction), or say when one
    frees up. Every subscription naming the robot is locked first, so two workers never both take the
    twentieth (SQLite's IMMEDIATE transactions serialise the same way)."""
    list(Subscription.objects.select_for_update().filter(target=subscription.target).values_list("pk"))
    robot = _robot(subscription.target)
    window = RobotSend.objects.filter(robot=robot, sent_at__gt=now - ROBOT_WINDOW).order_by("sent_at")
    recent = list(window.values_list("sent_at", flat=True)[: robots.PER_MINUTE])
    if len(recent) >= robots.PER_MINUTE:
        return recent[0] + ROBOT_WINDOW + timedelta(milliseconds=100)
    RobotSend.objects.create(robot=robot, sent_at=now)
    RobotSend.objects.filter(robot=robot, sent_at__lt=now - ROBOT_KEEP).delete()
    return None


def _claim(delivery_id: int, now: datetime, *, lease_task: bool = True) -> Delivery | None:
    """Take the delivery's next attempt if it is due, or None: one short transaction. `lease_task`: queue
    the attempt again for the lease's end (a batch queues one safety net for all of its deliveries
    instead)."""
    from .tasks import delivery_attempt

    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update()
            .select_related("event", "subscription")
            .filter(
                pk=delivery_id, status=Delivery.Status.PENDING, next_attempt_at__lte=now, digest__isnull=True
            )
            .exclude(subscription__frequency__in=DIGESTS)
            .first()
        )
        if delivery is None:
            return None
        if delivery.subscription.disabled_at is not None:
            delivery.status, delivery.next_attempt_at = Delivery.Status.FAILED, None
            delivery.error = delivery.subscription.disabled_reason[:500]
            delivery.save(update_fields=["status", "next_attempt_at", "error"])
            return None
        if delivery.subscription.channel in ROBOTS:
            free_at = _robot_slot(delivery.subscription, now)
            if free_at is not None:
                delivery.next_attempt_at = free_at
                delivery.save(update_fields=["next_attempt_at"])
                transaction.on_commit(
                    lambda: delivery_attempt.using(run_after=free_at).enqueue(delivery_id=delivery_id),
                    robust=True,
                )
                return None
        lease_end = now + _lease()
        delivery.attempts += 1
        delivery.last_attempt_at, delivery.next_attempt_at = now, lease_end
        delivery.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at"])
        if lease_task:
            # If this worker dies before the outcome is written, the attempt is made again after the lease.
            transaction.on_commit(
                lambda: delivery_attempt.using(run_after=lease_end).enqueue(delivery_id=delivery_id),
                robust=True,
            )
    return delivery


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one attempt came to, whatever the channel."""

    succeeded: bool
    status: int | None = None  # the HTTP status, for webhooks and robots
    latency_ms: int = 0
    error: str = ""
    retry_after: float | None = None  # seconds the receiver asked us to wait
    gone: str = ""  # why the subscription ends now (410 Gone, an address refused for good)


def _send_webhook(delivery: Delivery) -> Attempt:
    subscription, body = delivery.subscription, event_body(delivery.event)
    timestamp = int(timezone.now().timestamp())
    headers = signing.headers(
        secret=subscription.secret, message_id=delivery.message_id, timestamp=timestamp, body=body
    )
    outcome = webhooks.post(subscription.target, body=body, headers=headers)
    retry_after = outcome.retry_after if outcome.status in (429, 503) else None
    gone = _(DISABLED_GONE) if outcome.status == 410 else ""
    return Attempt(outcome.succeeded, outcome.status, outcome.latency_ms, outcome.error, retry_after, gone)


def _send_robot(delivery: Delivery) -> Attempt:
    subscription, event = delivery.subscription, delivery.event
    payload = robots.message(subscription.channel, event.type, event.data, language=subscription.language)
    url, body, headers = robots.signed_request(
        subscription.channel,
        subscription.target,
        payload,
        secret=subscription.robot_secret,
        now=timezone.now(),
    )
    # Signed per Standard Webhooks too, so a relay in between can tell the message is ours.
    timestamp = int(timezone.now().timestamp())
    headers = {
        **signing.headers(
            secret=subscription.secret, message_id=delivery.message_id, timestamp=timestamp, body=body
        ),
        **headers,
    }
    outcome = webhooks.post(url, body=body, headers=headers, read_body=True)
    answer = robots.outcome(subscription.channel, outcome.status, outcome.body)
    error = outcome.error or answer.error
    if answer.rate_limited:
        # Told it sent too fast (another sender shares the robot): wait as long as the platform blocks it.
        blocked = robots.RATE_LIMITED_WAIT.get(subscription.channel, ROBOT_WINDOW).total_seconds()
        return Attempt(False, outcome.status, outcome.latency_ms, error, blocked)
    gone = _(DISABLED_GONE) if outcome.status == 410 else ""
    return Attempt(answer.succeeded, outcome.status, outcome.latency_ms, error, outcome.retry_after, gone)


def _send_email(delivery: Delivery, connection: Any = None, frames: "Frames | None" = None) -> Attempt:
    subscription, event = delivery.subscription, delivery.event
    if frames is None:
        message = mail.event_message(subscription, event, delivery.message_id)
    else:
        key = (event.pk, subscription.language, subscription.topic)
        frame = frames.get(key)
        if frame is None:
            frame = frames[key] = mail.EventMail(event, subscription.language, subscription.topic)
        message = frame.message(subscription, delivery.message_id)
    sent = mail.send(message, connection)
    return Attempt(
        sent.succeeded, None, sent.latency_ms, sent.error, None, _(DISABLED_REFUSED) if sent.permanent else ""
    )


def _next_attempt(delivery: Delivery, attempt: Attempt, now: datetime) -> datetime | None:
    if delivery.attempts > len(RETRY_SCHEDULE):
        return None
    wait = RETRY_SCHEDULE[delivery.attempts - 1] * random.uniform(1 - JITTER, 1 + JITTER)
    if attempt.retry_after is not None:
        wait = max(wait, min(timedelta(seconds=attempt.retry_after), MAX_RETRY_AFTER))
    return now + wait


def _send(delivery: Delivery, connection: Any = None, frames: "Frames | None" = None) -> Attempt:
    channel = delivery.subscription.channel
    if channel == Subscription.Channel.EMAIL:
        return _send_email(delivery, connection, frames)
    if channel in ROBOTS:
        return _send_robot(delivery)
    return _send_webhook(delivery)


def delivery_attempt(*, delivery_id: int, connection: Any = None, lease_task: bool = True) -> str | None:
    """Make the delivery's due attempt and record it: its status after, or None if nothing was due.
    `connection`: an open mail connection to send through (a batch shares one)."""
    delivery = _claim(delivery_id, timezone.now(), lease_task=lease_task)
    if delivery is None:
        return None
    return _outcome_record(delivery, _send(delivery, connection))


SUCCEEDED_SQL = (
    f"UPDATE {Delivery._meta.db_table} SET status = %s, next_attempt_at = NULL, "  # noqa: S608 - no input
    "response_status = %s, latency_ms = %s, error = %s WHERE id = %s"
)


def _outcome_record(delivery: Delivery, attempt: Attempt) -> str:
    """Write what the attempt came to: its delivery's status after. A success for a subscription that has
    not been failing — nearly every one — is one statement on the delivery alone; anything else locks the
    delivery and its subscription, schedules the retry or disables the subscription."""
    from .tasks import delivery_attempt as attempt_task

    if attempt.succeeded and delivery.subscription.failing_since is None:
        # One statement per delivery, written as plain SQL: the ORM compiling this UPDATE cost more CPU
        # than the rest of recording it (a tenth of a delivery's); the parameters are bound as ever.
        with database.cursor() as cursor:
            cursor.execute(
                SUCCEEDED_SQL,
                [
                    Delivery.Status.SUCCEEDED,
                    attempt.status,
                    attempt.latency_ms,
                    attempt.error[:500],
                    delivery.pk,
                ],
            )
        return Delivery.Status.SUCCEEDED
    now = timezone.now()
    disabled = False
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
        subscription = Subscription.objects.select_for_update().get(pk=delivery.subscription_id)
        delivery.response_status, delivery.latency_ms = attempt.status, attempt.latency_ms
        delivery.error = attempt.error
        retry_at = None
        if attempt.succeeded:
            delivery.status, delivery.next_attempt_at = Delivery.Status.SUCCEEDED, None
            subscription.failing_since = None
        else:
            subscription.failing_since = subscription.failing_since or now
            days = int(settings.RULECENTER_WEBHOOK_DISABLE_AFTER_DAYS)
            if subscription.disabled_at is None:
                if attempt.gone:
                    subscription.disabled_at, subscription.disabled_reason = now, attempt.gone[:200]
                elif now - subscription.failing_since >= timedelta(days=days):
                    subscription.disabled_at = now
                    subscription.disabled_reason = _(DISABLED_FAILING).format(days=days)
                disabled = subscription.disabled_at is not None
            retry_at = None if subscription.disabled_at else _next_attempt(delivery, attempt, now)
            delivery.status = Delivery.Status.PENDING if retry_at else Delivery.Status.FAILED
            delivery.next_attempt_at = retry_at
        delivery.save(update_fields=["response_status", "latency_ms", "error", "status", "next_attempt_at"])
        subscription.save(update_fields=["failing_since", "disabled_at", "disabled_reason"])
        if retry_at is not None:
            at, delivery_id = retry_at, delivery.pk
            transaction.on_commit(
                lambda: attempt_task.using(run_after=at).enqueue(delivery_id=delivery_id), robust=True
            )
        if disabled and subscription.owner_id is not None:
            _owner_told_queue(subscription)
    return delivery.status


# The e-mails of a batch, built once per event, language and topic (see `mail.EventMail`).
Frames = dict[tuple[int, str, str], mail.EventMail]


def _claim_batch(delivery_ids: list[int], now: datetime) -> tuple[list[Delivery], list[int]]:
    """Take the due first attempts of a batch in one short transaction, as `_claim` does one: the
    e-mails and webhooks to send now (their lease pushed past the longest attempt, by one statement), and
    the robot deliveries, which take their robot's send slots one by one. Those of a disabled subscription
    fail here."""
    with transaction.atomic():
        due = list(
            Delivery.objects.select_for_update()
            .select_related("subscription")
            .filter(
                pk__in=delivery_ids,
                status=Delivery.Status.PENDING,
                next_attempt_at__lte=now,
                digest__isnull=True,
            )
            .exclude(subscription__frequency__in=DIGESTS)
            .order_by("pk")
        )
        taken, robot_ids, ended = [], [], []
        for delivery in due:
            if delivery.subscription.disabled_at is not None:
                delivery.status, delivery.next_attempt_at = Delivery.Status.FAILED, None
                delivery.error = delivery.subscription.disabled_reason[:500]
                ended.append(delivery)
            elif delivery.subscription.channel in ROBOTS:
                robot_ids.append(delivery.pk)
            else:
                taken.append(delivery)
        if ended:
            Delivery.objects.bulk_update(ended, ["status", "next_attempt_at", "error"])
        if taken:
            lease_end = now + _lease()
            Delivery.objects.filter(pk__in=[delivery.pk for delivery in taken]).update(
                attempts=F("attempts") + 1, last_attempt_at=now, next_attempt_at=lease_end
            )
            events = Event.objects.in_bulk({delivery.event_id for delivery in taken})
            for delivery in taken:
                delivery.attempts += 1
                delivery.last_attempt_at, delivery.next_attempt_at = now, lease_end
                delivery.event = events[delivery.event_id]
    return taken, robot_ids


def _lease_renew(rest: list[Delivery]) -> None:
    """Push the lease of a batch's unsent deliveries past the longest attempt again, in one statement, for
    those still held (their lease unchanged since this batch took them); any other is marked as not to be
    sent (`next_attempt_at` None), another having taken it. Without it, a batch slower than its lease
    would have its safety net send its last deliveries a second time."""
    lease_end = timezone.now() + _lease()
    by_lease: dict[datetime, list[int]] = {}
    for delivery in rest:
        if delivery.next_attempt_at is not None:
            by_lease.setdefault(delivery.next_attempt_at, []).append(delivery.pk)
    with transaction.atomic():
        for lease, pks in by_lease.items():
            Delivery.objects.filter(pk__in=pks, next_attempt_at=lease, status=Delivery.Status.PENDING).update(
                next_attempt_at=lease_end
            )
        renewed = set(
            Delivery.objects.filter(
                pk__in=[delivery.pk for delivery in rest], next_attempt_at=lease_end
            ).values_list("pk", flat=True)
        )
    for delivery in rest:
        delivery.next_attempt_at = lease_end if delivery.pk in renewed else None


def deliveries_attempt(*, delivery_ids: list[int]) -> int:
    """A batch of first attempts: claimed together, sent one after another (e-mails through one SMTP
    connection, each event's message built once), each outcome written as soon as it is known — so a
    worker killed midway repeats at most the one send it was making. The number that succeeded.

    A worker killed midway leaves its task running for ever (the queue does not take it back), so the batch
    first queues itself again for a lease later — one safety net for the batch, instead of one lease task per
    delivery. That run attempts only what is still due (an attempt cut short once its lease is over, the
    deliveries never reached) and queues another only while some delivery of the batch is mid-attempt or
    due; a batch that finished finds nothing to do.
    """
    from .tasks import deliveries_attempt as batch_task

    now = timezone.now()
    unfinished = Delivery.objects.filter(
        pk__in=delivery_ids, status=Delivery.Status.PENDING, next_attempt_at__lte=now + _lease()
    )
    if not unfinished.exists():
        return 0
    batch_task.using(run_after=now + _lease() + LEASE_MARGIN).enqueue(delivery_ids=delivery_ids)
    connection = _mailer_opened()
    frames: Frames = {}
    succeeded = 0
    try:
        taken, robot_ids = _claim_batch(delivery_ids, now)
        renew_below = _lease() - LEASE_MARGIN / 2
        for index, delivery in enumerate(taken):
            held_until = delivery.next_attempt_at
            if held_until is not None and held_until - timezone.now() < renew_below:
                _lease_renew(taken[index:])  # half the margin gone: hold the rest of the batch longer
            if delivery.next_attempt_at is None:
                continue  # taken by another since (an editor's redelivery)
            if _outcome_record(delivery, _send(delivery, connection, frames)) == Delivery.Status.SUCCEEDED:
                succeeded += 1
        for pk in robot_ids:
            if delivery_attempt(delivery_id=pk, lease_task=False) == Delivery.Status.SUCCEEDED:
                succeeded += 1
    finally:
        with contextlib.suppress(Exception):
            connection.close()
    return succeeded


def _mailer_opened() -> Any:
    """The default mailer with its connection opened, for a batch to share (if the server cannot be
    reached now, each message tries again and records why it failed)."""
    connection = mailers.default
    with contextlib.suppress(Exception):
        connection.open()
    return connection


def _owner_told_queue(subscription: Subscription) -> None:
    from .tasks import owner_told

    pk = subscription.pk
    transaction.on_commit(lambda: owner_told.enqueue(subscription_id=pk), robust=True)


def owner_told(*, subscription_id: int) -> bool:
    """E-mail the owner of a subscription that was just disabled (if their account has an address)."""
    subscription = Subscription.objects.select_related("owner").filter(pk=subscription_id).first()
    if subscription is None or subscription.owner is None or not subscription.owner.email:
        return False
    return mail.send(mail.disabled_message(subscription)).succeeded


def _digest_due(frequency: str, period_end: datetime) -> Any:
    return Delivery.objects.filter(
        status=Delivery.Status.PENDING,
        digest__isnull=True,
        subscription__channel=Subscription.Channel.EMAIL,
        subscription__frequency=frequency,
        next_attempt_at__lte=period_end,
    )


def digest_run(*, frequency: str, period_end: datetime) -> int:
    """The daily or weekly digest of one period: one e-mail per address with every event of all its
    subscriptions since its last digest, none for an address with nothing new; recorded (`DigestRun`), so
    any number of runs — a worker killed midway, two workers at once — send each digest once. The number
    of digests sent by this run."""
    now = timezone.now()
    if period_end > now or frequency not in DIGESTS:
        return 0
    with transaction.atomic():
        run, _created = DigestRun.objects.get_or_create(frequency=frequency, period_end=period_end)
        if run.finished_at is not None:
            return 0
        addresses = (
            _digest_due(frequency, period_end)
            .order_by("subscription__target")
            .values_list("subscription__target", "subscription__language")
            .distinct()
        )
        batch: list[Digest] = []
        for address, language in addresses.iterator(chunk_size=2000):
            batch.append(
                Digest(run=run, address=address, language=language, message_id=signing.message_id_new())
            )
            if len(batch) >= 1000:
                Digest.objects.bulk_create(batch, ignore_conflicts=True)
                batch = []
        Digest.objects.bulk_create(batch, ignore_conflicts=True)
    sent = 0
    connection = _mailer_opened()
    try:
        for pk in Digest.objects.filter(run=run, status=Digest.Status.PENDING).values_list("pk", flat=True):
            if _digest_send(pk, run, connection):
                sent += 1
    finally:
        with contextlib.suppress(Exception):
            connection.close()
    with transaction.atomic():
        run = DigestRun.objects.select_for_update().get(pk=run.pk)
        if not Digest.objects.filter(run=run, status=Digest.Status.PENDING).exists():
            run.finished_at = timezone.now()
        run.digests = Digest.objects.filter(run=run, status=Digest.Status.SENT).count()
        run.deliveries = Delivery.objects.filter(digest__run=run).count()
        run.save(update_fields=["finished_at", "digests", "deliveries"])
    return sent


def _digest_claim(digest_id: int, run: DigestRun, now: datetime) -> tuple[Digest, list[Delivery]] | None:
    from .tasks import digest_run as digest_task

    with transaction.atomic():
        digest = (
            Digest.objects.select_for_update()
            .filter(pk=digest_id, status=Digest.Status.PENDING)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .first()
        )
        if digest is None:
            return None
        # Its events: those it already took (an attempt cut short) and any due since for the address.
        _digest_due(run.frequency, run.period_end).filter(subscription__target=digest.address).update(
            digest=digest
        )
        deliveries = list(
            Delivery.objects.filter(digest=digest)
            .select_related("event")
            .order_by("event__occurred_at", "pk")
        )
        if not deliveries:  # everything it was to carry was unsubscribed since
            digest.delete()
            return None
        lease_end = now + _lease()
        digest.attempts += 1
        digest.next_attempt_at = lease_end
        digest.save(update_fields=["attempts", "next_attempt_at"])
        at, frequency = lease_end, run.frequency
        period = run.period_end.isoformat()
        transaction.on_commit(
            lambda: digest_task.using(run_after=at).enqueue(frequency=frequency, period_end=period),
            robust=True,
        )
    return digest, deliveries


def _digest_send(digest_id: int, run: DigestRun, connection: Any) -> bool:
    claimed = _digest_claim(digest_id, run, timezone.now())
    if claimed is None:
        return False
    digest, deliveries = claimed
    events = list({delivery.event_id: delivery.event for delivery in deliveries}.values())
    message = mail.digest_message(
        address=digest.address,
        language=digest.language,
        frequency=run.frequency,
        period_end=run.period_end,
        events=events,
        subscription_ids=sorted({delivery.subscription_id for delivery in deliveries}),
        message_id=digest.message_id,
    )
    sent = mail.send(message, connection)
    now = timezone.now()
    with transaction.atomic():
        digest = Digest.objects.select_for_update().get(pk=digest.pk)
        digest.error = sent.error
        if sent.succeeded:
            digest.status, digest.sent_at, digest.next_attempt_at = Digest.Status.SENT, now, None
            Delivery.objects.filter(digest=digest).update(
                status=Delivery.Status.SUCCEEDED,
                next_attempt_at=None,
                attempts=digest.attempts,
                last_attempt_at=now,
            )
        elif sent.permanent or digest.attempts > len(RETRY_SCHEDULE):
            digest.status, digest.next_attempt_at = Digest.Status.FAILED, None
            Delivery.objects.filter(digest=digest).update(
                status=Delivery.Status.FAILED, next_attempt_at=None, error=sent.error[:500]
            )
        else:
            wait = RETRY_SCHEDULE[digest.attempts - 1] * random.uniform(1 - JITTER, 1 + JITTER)
            digest.next_attempt_at = now + wait
            at, frequency, period = digest.next_attempt_at, run.frequency, run.period_end.isoformat()
            from .tasks import digest_run as digest_task

            transaction.on_commit(
                lambda: digest_task.using(run_after=at).enqueue(frequency=frequency, period_end=period),
                robust=True,
            )
        digest.save()
    return sent.succeeded


@transaction.atomic
def delivery_redeliver(*, actor: Actor, delivery: Delivery) -> Delivery:
    """Send a delivery again now (same `webhook-id`), whatever became of it; for a disabled subscription
    too, which this enables again."""
    from .tasks import delivery_attempt

    subscription = delivery.subscription
    if not _is_owner(actor, subscription):
        raise PermissionDenied(_(NOT_YOURS))
    if subscription.disabled_at is not None:
        subscription.disabled_at, subscription.disabled_reason, subscription.failing_since = None, "", None
        subscription.save(update_fields=["disabled_at", "disabled_reason", "failing_since"])
    delivery.status, delivery.next_attempt_at = Delivery.Status.PENDING, timezone.now()
    delivery.save(update_fields=["status", "next_attempt_at"])
    pk = delivery.pk
    transaction.on_commit(lambda: delivery_attempt.enqueue(delivery_id=pk), robust=True)
    return delivery


def case_step_tell_schedule(*, step_id: int) -> None:
    """After the commit, ask the worker to tell the member of a step of their case."""
    from .tasks import case_step_told

    transaction.on_commit(partial(case_step_told.enqueue, step_id=step_id), robust=True)


def case_step_tell(*, step_id: int) -> bool:
    """E-mail the member who filed a case about one of its steps (if their account has an address)."""
    step = case_selectors.step_with_case(pk=step_id)
    if step is None or not step.case.member.email:
        return False
    return mail.send(mail.case_step_message(step)).succeeded


def case_deadline_schedule(*, case_id: int, due_at: datetime) -> None:
    """After the commit, ask the worker to look at the case when its deadline passes."""
    from .tasks import case_overdue

    task = case_overdue.using(run_after=due_at)
    enqueue = partial(task.enqueue, case_id=case_id, due_at=due_at.isoformat())
    transaction.on_commit(enqueue, robust=True)


def case_overdue_tell(*, case_id: int, due_at: datetime) -> int:
    """Tell the reviewers (and the case's handler) that a case passed its deadline unanswered, if it still
    has that deadline and is still open; the number of e-mails sent. A repeat carries the same Message-ID."""
    case = case_selectors.case_with_rule(pk=case_id)
    if case is None or not case.is_open or case.due_at != due_at or timezone.now() < due_at:
        return 0
    recipients = dict(account_selectors.staff_addresses(role="reviewer"))
    if case.handler is not None and case.handler.email:
        recipients[case.handler.get_username()] = case.handler.email
    sent = 0
    connection = _mailer_opened()
    try:
        for address in sorted(set(recipients.values())):
            sent += mail.send(mail.case_overdue_message(case, address), connection).succeeded
    finally:
        with contextlib.suppress(Exception):
            connection.close()
    return sent
