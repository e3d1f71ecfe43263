"""The subscriptions API (/api/v1/subscriptions): a member's or partner's own subscriptions and their
delivery log, with any valid token (docs/notifications.md)."""

from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from ninja import Router
from ninja.responses import Status

from rulecenter.accounts.auth import BearerTokenAuth
from rulecenter.accounts.roles import request_actor
from rulecenter.common.problems import problems

from . import selectors, services
from .models import Delivery, Subscription
from .schemas import (
    DeliveryList,
    DeliveryOut,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionList,
)

router = Router(tags=["subscriptions"])

SUBSCRIPTION_UNKNOWN = "没有编号为 {pk} 的订阅。"
DELIVERY_UNKNOWN = "这个订阅没有编号为“{message_id}”的投递。"


def _out(request: HttpRequest, subscription: Subscription) -> dict[str, object]:
    return {
        "id": subscription.pk,
        "channel": subscription.channel,
        "target": subscription.target,
        "topic": subscription.topic,
        "frequency": subscription.frequency,
        "language": subscription.language,
        "confirmed": subscription.confirmed_at is not None,
        "active": subscription.active,
        "created_at": subscription.created_at,
        "disabled_at": subscription.disabled_at,
        "disabled_reason": subscription.disabled_reason,
        "deliveries_url": request.build_absolute_uri(
            reverse("api:subscription_deliveries", args=[subscription.pk])
        ),
    }


def _delivery_out(delivery: Delivery) -> DeliveryOut:
    return DeliveryOut(
        message_id=delivery.message_id,
        event=delivery.event.type,
        occurred_at=delivery.event.occurred_at,
        status=delivery.status,  # type: ignore[arg-type]
        attempts=delivery.attempts,
        response_status=delivery.response_status,
        latency_ms=delivery.latency_ms,
        error=delivery.error,
        last_attempt_at=delivery.last_attempt_at,
        next_attempt_at=delivery.next_attempt_at,
    )


def _own(request: HttpRequest, subscription_id: int) -> Subscription:
    user: User = request.auth  # type: ignore[attr-defined]
    subscription = selectors.subscription_of(owner=user, pk=subscription_id)
    if subscription is None:
        raise Http404(_(SUBSCRIPTION_UNKNOWN).format(pk=subscription_id))
    return subscription


@router.get(
    "",
    response={200: SubscriptionList, **problems(401)},
    auth=BearerTokenAuth(),
    url_name="subscription_list",
    operation_id="subscription_list",
    summary="我的订阅",
)
def subscription_list(request: HttpRequest) -> dict[str, object]:
    user: User = request.auth  # type: ignore[attr-defined]
    items = [_out(request, subscription) for subscription in selectors.subscriptions_of(owner=user)]
    return {"count": len(items), "items": items}


@router.post(
    "",
    response={201: SubscriptionCreated, **problems(400, 401, 422)},
    auth=BearerTokenAuth(),
    url_name="subscription_create",
    operation_id="subscription_create",
    summary="订阅（webhook、电子邮件、钉钉 / 企业微信 / 飞书机器人）",
    description="订阅全部变更（all）、一个栏目或规则分类（category:<标识>）或一条规则（rule:<标识>）。"
    "Webhook 按 Standard Webhooks 签名（webhook-id、webhook-timestamp、webhook-signature 请求头）；"
    "签名密钥只在这里返回一次。网址不能指向内部地址。电子邮件先发确认邮件，确认后才发送；"
    "机器人每个每分钟最多 20 条，超出的排队。",
)
def subscription_create(request: HttpRequest, payload: SubscriptionIn) -> Status[dict[str, object]]:
    user: User = request.auth  # type: ignore[attr-defined]
    subscription = services.subscription_create(
        actor=request_actor(request),
        owner=user,
        channel=payload.channel,
        target=payload.target,
        topic=payload.topic,
        frequency=payload.frequency,
        language=get_language() or "zh-hans",
        robot_secret=payload.robot_secret,
    )
    return Status(201, {**_out(request, subscription), "secret": subscription.secret or None})


@router.delete(
    "/{subscription_id}",
    response={204: None, **problems(401, 404, 422)},
    auth=BearerTokenAuth(),
    url_name="subscription_delete",
    operation_id="subscription_delete",
    summary="取消订阅",
)
def subscription_delete(request: HttpRequest, subscription_id: int) -> HttpResponse:
    services.subscription_delete(actor=request_actor(request), subscription=_own(request, subscription_id))
    return HttpResponse(status=204)


@router.get(
    "/{subscription_id}/deliveries",
    response={200: DeliveryList, **problems(401, 404, 422)},
    auth=BearerTokenAuth(),
    url_name="subscription_deliveries",
    operation_id="subscription_deliveries",
    summary="投递记录（最近 100 条）",
)
def subscription_deliveries(request: HttpRequest, subscription_id: int) -> DeliveryList:
    count, deliveries = selectors.deliveries_of(subscription=_own(request, subscription_id))
    return DeliveryList(count=count, items=[_delivery_out(delivery) for delivery in deliveries])


@router.post(
    "/{subscription_id}/deliveries/{message_id}/redeliver",
    response={202: DeliveryOut, **problems(401, 404, 422)},
    auth=BearerTokenAuth(),
    url_name="delivery_redeliver",
    operation_id="delivery_redeliver",
    summary="重新投递",
    description="以相同的 webhook-id 立即再发一次；订阅若已停用，会重新启用。",
)
def delivery_redeliver(request: HttpRequest, subscription_id: int, message_id: str) -> Status[DeliveryOut]:
    subscription = _own(request, subscription_id)
    delivery = selectors.delivery_of(subscription=subscription, message_id=message_id[:64])
    if delivery is None:
        raise Http404(_(DELIVERY_UNKNOWN).format(message_id=message_id[:64]))
    delivery = services.delivery_redeliver(actor=request_actor(request), delivery=delivery)
    return Status(202, _delivery_out(delivery))
