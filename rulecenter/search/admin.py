"""Read-only views of the search outbox and of each node's index replica: how far behind is every node?"""

from django.contrib import admin
from django.db.models import QuerySet, Subquery
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from rulecenter.common.admin import ReadOnlyAdmin

from .models import OutboxEntry, Replica


@admin.register(Replica)
class ReplicaAdmin(ReadOnlyAdmin[Replica]):
    list_display = ["node", "generation", "position", "behind", "missed_through", "building", "updated_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Replica]:
        # The newest outbox id once for the whole list, not one aggregate per row.
        newest = OutboxEntry.objects.order_by("-id").values("id")[:1]
        return super().get_queryset(request).annotate(newest=Subquery(newest))

    @admin.display(description=_("落后的变更数"))
    def behind(self, replica: Replica) -> int:
        return max(0, (getattr(replica, "newest", None) or 0) - replica.position)


@admin.register(OutboxEntry)
class OutboxEntryAdmin(ReadOnlyAdmin[OutboxEntry]):
    list_display = ["id", "entity", "object_id", "created_at"]
    list_filter = ["entity"]
    search_fields = ["=object_id"]
