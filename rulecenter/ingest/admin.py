from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from rulecenter.accounts.roles import actor_for

from . import planning, services
from .forms import ImportForm
from .models import ExtractedFacts, ImportedItem, ImportRevision

IMPORT_PERMISSIONS = (
    "ingest.add_importeditem",
    "announcements.add_announcement",
    "announcements.publish_announcement",  # imported items go out published
)


class ImportRevisionInline(admin.TabularInline[ImportRevision, ImportedItem]):
    model = ImportRevision
    fields = ["replaced_at", "title", "excerpt", "source_url"]
    readonly_fields = ["replaced_at", "title", "excerpt", "source_url"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ImportedItem)
class ImportedItemAdmin(admin.ModelAdmin[ImportedItem]):
    list_display = ["title", "source", "announcement_link", "last_seen_at", "first_seen_at"]
    list_filter = ["source"]
    search_fields = ["title"]
    list_select_related = ["announcement"]
    readonly_fields = [
        "announcement_link",
        "source",
        "title",
        "excerpt",
        "source_url",
        "first_seen_at",
        "last_seen_at",
    ]
    fields = [
        "announcement_link",
        "source",
        "title",
        "excerpt",
        "source_url",
        "first_seen_at",
        "last_seen_at",
    ]
    inlines = [ImportRevisionInline]
    change_list_template = "admin/ingest/importeditem/change_list.html"

    @admin.display(description=_("公告"))
    def announcement_link(self, obj: ImportedItem) -> str:
        url = reverse("admin:announcements_announcement_change", args=[obj.announcement_id])
        return format_html('<a href="{}">#{}</a>', url, obj.announcement_id)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # items come in through the import view, never by hand

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the import record and its revisions are the item's provenance

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perms(IMPORT_PERMISSIONS)

    def get_urls(self) -> list[URLPattern]:
        custom = [
            path("import/", self.admin_site.admin_view(self.import_view), name="ingest_importeditem_import"),
        ]
        return custom + super().get_urls()

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), "has_import_permission": self.has_import_permission(request)}
        return super().changelist_view(request, extra_context=context)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Paste or upload → preview of every item and its facts → confirm → import in one transaction."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        report = None
        if request.method == "POST":
            form = ImportForm(request.POST, request.FILES)
            if form.is_valid():
                pages = form.cleaned_data["pages"]
                source = form.cleaned_data["source"].strip() or None
                if "_save" in request.POST:
                    try:
                        saved = services.listing_import(
                            actor=actor_for(request.user), pages=pages, source=source
                        )
                    except services.IngestError as error:
                        form.add_error(None, str(error))
                    else:
                        self.message_user(request, saved.summary(), messages.SUCCESS)
                        return HttpResponseRedirect(reverse("admin:ingest_importeditem_changelist"))
                else:
                    try:
                        report = planning.listing_plan(
                            pages=pages, source=source or planning.source_guess(pages), extract_all=True
                        )
                    except planning.IngestError as error:
                        form.add_error(None, str(error))
                    else:
                        form = ImportForm(
                            initial={
                                "text": form.cleaned_data["text"],
                                "format": form.cleaned_data["format"],
                                "encoding": "utf-8",
                                "source": report.source,
                            }
                        )
        else:
            form = ImportForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("导入列表页或公告"),
            "form": form,
            "report": report,
        }
        return TemplateResponse(request, "admin/ingest/import.html", context)


@admin.register(ExtractedFacts)
class ExtractedFactsAdmin(admin.ModelAdmin[ExtractedFacts]):
    list_display = [
        "announcement", "kind", "notice_date", "effective_date", "comment_start", "comment_end", "names",
    ]  # fmt: skip
    list_filter = ["kind"]
    search_fields = ["announcement__title"]
    list_select_related = ["announcement"]
    date_hierarchy = "effective_date"
    readonly_fields = [
        "announcement", "kind", "notice_date", "effective_date", "comment_start", "comment_end", "rule_names",
        "links", "extractor_version", "extracted_at",
    ]  # fmt: skip

    @admin.display(description=_("规则名称"))
    def names(self, obj: ExtractedFacts) -> str:
        return "、".join(f"《{name}》" for name in obj.rule_names)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
