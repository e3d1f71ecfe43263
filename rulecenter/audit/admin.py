"""The audit chain in the admin: read only — nobody adds, edits or deletes a record (the triggers agree)."""

import re
from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from rulecenter.common.admin import ReadOnlyAdmin

from .chain import ROW_FIELDS
from .models import AuditCheckpoint, AuditEntry, AuditSubject

# "rule_version:12" finds the entries about that object; a bare number, entries about any object with that
# id (or with that seq); other text, entries by actors whose name contains it.
_OBJECT = re.compile(r"(?P<kind>[a-z_]+):(?P<id>[0-9]{1,18})")
_NUMBER = re.compile(r"[0-9]{1,18}")


class ActorFilter(admin.SimpleListFilter):
    title = _("操作人")
    parameter_name = "actor"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        names = AuditEntry.objects.order_by("actor_name").values_list("actor_name", flat=True).distinct()
        return [(name, name) for name in names[:200]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(actor_name=value) if value else queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin[AuditEntry]):
    list_display = ["seq", "at", "actor_name", "actor_roles", "kind", "action", "object_ids", "short_hash"]
    list_filter = ["kind", "action", ActorFilter]
    search_fields = ["actor_name"]  # and objects; see get_search_results
    search_help_text = _("对象类型:编号（如 rule_version:12）、对象编号或序号，或操作人姓名。")
    date_hierarchy = "at"
    ordering = ["-seq"]
    show_full_result_count = False
    fields = list(ROW_FIELDS)

    @admin.display(description=_("哈希"))
    def short_hash(self, entry: AuditEntry) -> str:
        return entry.hash[:16] + "…"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[AuditEntry], search_term: str
    ) -> tuple[QuerySet[AuditEntry], bool]:
        term = search_term.strip()
        if match := _OBJECT.fullmatch(term):
            subjects = AuditSubject.objects.filter(kind=match["kind"], object_id=int(match["id"]))
            return queryset.filter(seq__in=subjects.values("entry_id")), False
        if _NUMBER.fullmatch(term):
            subjects = AuditSubject.objects.filter(object_id=int(term))
            return queryset.filter(Q(seq__in=subjects.values("entry_id")) | Q(seq=int(term))), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(ReadOnlyAdmin[AuditCheckpoint]):
    list_display = ["at", "reason", "seq", "hash"]
    list_filter = ["reason"]
    date_hierarchy = "at"
    search_fields = ["=seq", "hash"]
