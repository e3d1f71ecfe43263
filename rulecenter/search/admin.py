"""Read-only views of the search outbox and of each node's index replica: how far behind is every node?"""

from typing import Any

from django.contrib import admin
from django.db.models import Max
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .models import OutboxEntry, Replica


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Replica)
class ReplicaAdmin(ReadOnlyAdmin):
    list_display = ["node", "generation", "position", "behind", "missed_through", "building", "updated_at"]

    @admin.display(description=_("落后的变更数"))
    def behind(self, replica: Replica) -> int:
        newest = OutboxEntry.objects.aggregate(newest=Max("id"))["newest"] or 0
        return max(0, newest - replica.position)


@admin.register(OutboxEntry)
class OutboxEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "entity", "object_id", "created_at"]
    list_filter = ["entity"]
    search_fields = ["=object_id"]
