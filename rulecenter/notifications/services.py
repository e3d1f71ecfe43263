"""Writes of notifications: subscriptions, events (in the change's own transaction) and their deliveries.

Delivery is at least once: an attempt is *claimed* in one short transaction (its lease pushed past the
longest attempt, and a task queued for the lease's end in case this worker dies mid-send), the request is
sent outside any transaction, and the outcome is recorded in another; the receiver tells repeats apart by
the unchanged `webhook-id`. Only a 2xx counts. Failures retry on `RETRY_SCHEDULE` with ±20% jitter, or when
the receiver asks (`Retry-After` on 429/5xx), for about three days; `410 Gone` disables the subscription at
once, and so does failing without a single success for `RULECENTER_WEBHOOK_DISABLE_AFTER_DAYS`.
"""

import json
import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from rulecenter.announcements import selectors as announcement_selectors
from rulecenter.common.actors import Actor
from rulecenter.rules import selectors as rule_selectors

from . import signing, webhooks
from .models import Delivery, Event, Subscription

# Retries after the first attempt fails (Standard Webhooks' schedule, stretched to about three days).
RETRY_SCHEDULE = (
    timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
    timedelta(hours=5), timedelta(hours=10), timedelta(hours=10), timedelta(hours=24), timedelta(hours=24),
)  # fmt: skip
JITTER = 0.2
LEASE_MARGIN = timedelta(seconds=30)
MAX_RETRY_AFTER = timedelta(hours=24)
MAX_SUBSCRIPTIONS_PER_OWNER = 100

CHANNEL_NOT_YET = "“{channel}”渠道尚未开放：目前可以订阅 webhook。"
TOPIC_INVALID = "主题“{topic}”无效：请用 all、category:<标识> 或 rule:<标识>。"
TOPIC_UNKNOWN_CATEGORY = "没有标识为“{slug}”的栏目或规则分类。"
TOPIC_UNKNOWN_RULE = "没有标识为“{slug}”的公开规则。"
TOPIC_CONSULTATION_NOT_YET = "意见征集的通知尚未开放：请先订阅 all 或规则。"
FREQUENCY_WEBHOOK = "Webhook 即时发送，频率只能是 immediate。"
TOO_MANY = "每个账户最多 {limit} 个订阅。"
NOT_YOURS = "这不是你的订阅。"
DISABLED_GONE = "接收方回复 410 Gone"
DISABLED_FAILING = "连续 {days} 天投递失败"


def _is_owner(actor: Actor, subscription: Subscription) -> bool:
    return actor.is_system or actor.superuser or subscription.owner_id == actor.user_id


def topic_check(topic: str) -> str:
    """The topic if it names something that exists; ValidationError (on `topic`) otherwise."""
    kind, _sep, name = topic.partition(":")
    if topic == "all":
        return topic
    if kind == "consultation" and name.isdigit():
        raise ValidationError({"topic": _(TOPIC_CONSULTATION_NOT_YET)})
    if kind not in ("category", "rule") or not name or len(name) > 64:
        raise ValidationError({"topic": _(TOPIC_INVALID).format(topic=topic[:80])})
    if kind == "category":
        known = announcement_selectors.category_by_slug(name) is not None
        if not known and rule_selectors.rule_category_by_slug(name) is None:
            raise ValidationError({"topic": _(TOPIC_UNKNOWN_CATEGORY).format(slug=name)})
    elif rule_selectors.public_rule_by_slug(name) is None:
        raise ValidationError({"topic": _(TOPIC_UNKNOWN_RULE).format(slug=name)})
    return topic


@transaction.atomic
def subscription_create(
    *, actor: Actor, owner: User, channel: str, target: str, topic: str, frequency: str
) -> Subscription:
    """A subscription of `owner` (the actor's own user, unless the actor manages accounts). Webhooks get a
    signing secret, on the returned object only this once (it is kept to sign with, never shown again)."""
    if not (actor.is_system or actor.superuser or actor.user_id == owner.pk):
        raise PermissionDenied(_(NOT_YOURS))
    errors: dict[str, str] = {}
    if channel != Subscription.Channel.WEBHOOK:
        errors["channel"] = _(CHANNEL_NOT_YET).format(channel=channel[:20])
    else:
        try:
            webhooks.url_check(target)
        except webhooks.TargetRefused as refused:
            errors["target"] = str(refused)
        if frequency != Subscription.Frequency.IMMEDIATE:
            errors["frequency"] = _(FREQUENCY_WEBHOOK)
    try:
        topic_check(topic)
    except ValidationError as refused:
        errors.update({key: value[0] for key, value in refused.message_dict.items()})
    if Subscription.objects.filter(owner=owner).count() >= MAX_SUBSCRIPTIONS_PER_OWNER:
        errors["__all__"] = _(TOO_MANY).format(limit=MAX_SUBSCRIPTIONS_PER_OWNER)
    if errors:
        raise ValidationError(errors)
    return Subscription.objects.create(
        owner=owner,
        channel=channel,
        target=target,
        topic=topic,
        frequency=frequency,
        secret=signing.secret_new(),
    )


@transaction.atomic
def subscription_delete(*, actor: Actor, subscription: Subscription) -> None:
    if not _is_owner(actor, subscription):
        raise PermissionDenied(_(NOT_YOURS))
    subscription.delete()


def event_record(
    *, type: str, topics: Iterable[str], data: dict[str, Any], at: datetime | None = None
) -> Event:
    """Write an event in the caller's transaction (the change's); its fan-out is queued once that commits."""
    from .tasks import event_fan_out

    event = Event.objects.create(
        type=type, topics=sorted({"all", *topics}), data=data, occurred_at=at or timezone.now()
    )
    transaction.on_commit(lambda: event_fan_out.enqueue(event_id=event.pk), robust=True)
    return event


def event_fan_out(*, event_id: int) -> int:
    """One delivery per active webhook subscription whose topic the event concerns and that existed when it
    occurred (none twice, whatever the number of runs); each is queued for its first attempt. The number of
    deliveries created."""
    from .tasks import delivery_attempt

    now = timezone.now()
    with transaction.atomic():
        event = Event.objects.select_for_update().filter(pk=event_id).first()
        if event is None or event.fanned_out_at is not None:
            return 0
        # Those who had subscribed when it happened: a worker that runs late tells no one the news it missed.
        subscriptions = Subscription.objects.filter(
            channel=Subscription.Channel.WEBHOOK,
            topic__in=event.topics,
            disabled_at__isnull=True,
            created_at__lte=event.occurred_at,
        ).values_list("pk", flat=True)
        created = Delivery.objects.bulk_create(
            [
                Delivery(
                    event=event, subscription_id=pk, message_id=signing.message_id_new(), next_attempt_at=now
                )
                for pk in subscriptions.iterator(chunk_size=2000)
            ],
            batch_size=1000,
            ignore_conflicts=True,
        )
        event.fanned_out_at = now
        event.save(update_fields=["fanned_out_at"])
        ids = list(Delivery.objects.filter(event=event).values_list("pk", flat=True))
        transaction.on_commit(lambda: [delivery_attempt.enqueue(delivery_id=pk) for pk in ids], robust=True)
    return len(created)


def event_body(event: Event) -> bytes:
    return json.dumps(
        {"type": event.type, "timestamp": event.occurred_at.isoformat(), "data": event.data},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


def _lease() -> timedelta:
    return timedelta(seconds=float(settings.RULECENTER_WEBHOOK_TIMEOUT_SECONDS)) + LEASE_MARGIN


def _claim(delivery_id: int, now: datetime) -> tuple[Delivery, bytes] | None:
    """Take the delivery's next attempt if it is due, or None: one short transaction."""
    from .tasks import delivery_attempt

    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update()
            .select_related("event", "subscription")
            .filter(pk=delivery_id, status=Delivery.Status.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return None
        if delivery.subscription.disabled_at is not None:
            delivery.status, delivery.next_attempt_at = Delivery.Status.FAILED, None
            delivery.error = delivery.subscription.disabled_reason[:500]
            delivery.save(update_fields=["status", "next_attempt_at", "error"])
            return None
        lease_end = now + _lease()
        delivery.attempts += 1
        delivery.last_attempt_at, delivery.next_attempt_at = now, lease_end
        delivery.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at"])
        # If this worker dies before the outcome is written, the attempt is made again after the lease.
        transaction.on_commit(
            lambda: delivery_attempt.using(run_after=lease_end).enqueue(delivery_id=delivery_id), robust=True
        )
    return delivery, event_body(delivery.event)


def _next_attempt(delivery: Delivery, outcome: webhooks.Outcome, now: datetime) -> datetime | None:
    if delivery.attempts > len(RETRY_SCHEDULE):
        return None
    wait = RETRY_SCHEDULE[delivery.attempts - 1] * random.uniform(1 - JITTER, 1 + JITTER)
    if outcome.retry_after is not None and outcome.status in (429, 503):
        wait = max(wait, min(timedelta(seconds=outcome.retry_after), MAX_RETRY_AFTER))
    return now + wait


def delivery_attempt(*, delivery_id: int) -> str | None:
    """Make the delivery's due attempt and record it: its status after, or None if nothing was due."""
    from .tasks import delivery_attempt as attempt_task

    claimed = _claim(delivery_id, timezone.now())
    if claimed is None:
        return None
    delivery, body = claimed
    subscription = delivery.subscription
    timestamp = int(timezone.now().timestamp())
    headers = signing.headers(
        secret=subscription.secret, message_id=delivery.message_id, timestamp=timestamp, body=body
    )
    outcome = webhooks.post(subscription.target, body=body, headers=headers)
    now = timezone.now()
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
        subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
        delivery.response_status, delivery.latency_ms = outcome.status, outcome.latency_ms
        delivery.error = outcome.error
        retry_at = None
        if outcome.succeeded:
            delivery.status, delivery.next_attempt_at = Delivery.Status.SUCCEEDED, None
            subscription.failing_since = None
        else:
            subscription.failing_since = subscription.failing_since or now
            days = int(settings.RULECENTER_WEBHOOK_DISABLE_AFTER_DAYS)
            if outcome.status == 410:
                subscription.disabled_at, subscription.disabled_reason = now, _(DISABLED_GONE)
            elif now - subscription.failing_since >= timedelta(days=days):
                subscription.disabled_at = now
                subscription.disabled_reason = _(DISABLED_FAILING).format(days=days)
            retry_at = None if subscription.disabled_at else _next_attempt(delivery, outcome, now)
            delivery.status = Delivery.Status.PENDING if retry_at else Delivery.Status.FAILED
            delivery.next_attempt_at = retry_at
        delivery.save()
        subscription.save(update_fields=["failing_since", "disabled_at", "disabled_reason"])
        if retry_at is not None:
            at = retry_at
            transaction.on_commit(
                lambda: attempt_task.using(run_after=at).enqueue(delivery_id=delivery_id), robust=True
            )
    return delivery.status


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
