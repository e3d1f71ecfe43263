"""Reads of notifications: a subscriber's own subscriptions and delivery log."""

from django.contrib.auth.models import User

from .models import Delivery, Subscription

DELIVERIES_SHOWN = 100


def subscriptions_of(*, owner: User) -> list[Subscription]:
    return list(Subscription.objects.filter(owner=owner).order_by("id"))


def subscription_of(*, owner: User, pk: int) -> Subscription | None:
    return Subscription.objects.filter(owner=owner, pk=pk).first()


def deliveries_of(*, subscription: Subscription, limit: int = DELIVERIES_SHOWN) -> tuple[int, list[Delivery]]:
    """How many deliveries the subscription has had, and the newest `limit` with their events."""
    deliveries = Delivery.objects.filter(subscription=subscription)
    return deliveries.count(), list(deliveries.select_related("event").order_by("-id")[:limit])


def delivery_of(*, subscription: Subscription, message_id: str) -> Delivery | None:
    deliveries = Delivery.objects.filter(subscription=subscription, message_id=message_id)
    return deliveries.select_related("subscription", "event").first()
