"""The delivery log in the admin: subscriptions, events and deliveries, read-only but for redelivery.

Subscriptions are made through the API by their owners (the signing secret is shown only there, once);
the admin sees them, disables them by deleting, and sends a delivery again with its webhook-id unchanged.
"""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from rulecenter.accounts.roles import actor_for

from . import services
from .models import Delivery, Digest, DigestRun, Event, Subscription

REDELIVERED = "已安排重新投递 {count} 条。"


class ReadOnly:
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnly, admin.ModelAdmin[Subscription]):
    list_display = [
        "id", "owner", "channel", "target", "topic", "frequency", "language", "created_at", "confirmed_at",
        "disabled_at",
    ]  # fmt: skip
    list_filter = ["channel", "frequency", "language", "disabled_at"]
    search_fields = ["owner__username", "target", "topic"]
    list_select_related = ["owner"]
    exclude = ["secret", "robot_secret"]


@admin.register(Event)
class EventAdmin(ReadOnly, admin.ModelAdmin[Event]):
    list_display = ["id", "type", "occurred_at", "fanned_out_at"]
    list_filter = ["type"]
    date_hierarchy = "occurred_at"

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnly, admin.ModelAdmin[Delivery]):
    list_display = [
        "message_id", "event", "subscription", "status", "attempts", "response_status", "latency_ms",
        "last_attempt_at", "next_attempt_at",
    ]  # fmt: skip
    list_filter = ["status"]
    search_fields = ["message_id", "subscription__target"]
    list_select_related = ["event", "subscription"]
    actions = ["redeliver"]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.action(description=gettext_lazy("重新投递（相同的 webhook-id）"))
    def redeliver(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        actor = actor_for(request.user)
        deliveries = list(queryset.select_related("subscription"))
        for delivery in deliveries:
            services.delivery_redeliver(actor=actor, delivery=delivery)
        self.message_user(request, _(REDELIVERED).format(count=len(deliveries)), messages.SUCCESS)


@admin.register(DigestRun)
class DigestRunAdmin(ReadOnly, admin.ModelAdmin[DigestRun]):
    """Every digest run, so an operator sees what went out for each period (and that none ran twice)."""

    list_display = ["period_end", "frequency", "started_at", "finished_at", "digests", "deliveries"]
    list_filter = ["frequency"]
    date_hierarchy = "period_end"

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Digest)
class DigestAdmin(ReadOnly, admin.ModelAdmin[Digest]):
    list_display = ["address", "run", "status", "attempts", "sent_at", "message_id", "error"]
    list_filter = ["status", "run__frequency"]
    search_fields = ["address", "message_id"]
    list_select_related = ["run"]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
