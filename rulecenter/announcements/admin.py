from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from rulecenter.accounts.roles import actor_for

from . import services
from .models import Announcement, Category


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin[Category]):
    list_display = ["name", "slug", "position"]
    list_editable = ["position"]
    prepopulated_fields = {"slug": ["name"]}

    def save_model(
        self, request: HttpRequest, obj: Category, form: ModelForm[Category], change: bool
    ) -> None:
        services.category_save(actor=actor_for(request.user), category=obj)


@admin.register(Announcement)
class AnnouncementAdmin(admin.ModelAdmin[Announcement]):
    list_display = ["title", "kind", "category", "status", "published_at"]
    list_filter = ["status", "kind", "category"]
    search_fields = ["title"]
    date_hierarchy = "published_at"
    list_select_related = ["category"]
    readonly_fields = ["created_at", "updated_at", "excerpt"]
    fields = [
        "title", "kind", "category", "summary", "body", "source_url", "status", "published_at",
        "excerpt", "created_at", "updated_at",
    ]  # fmt: skip
    actions = ["publish_selected", "unpublish_selected"]

    def save_model(
        self, request: HttpRequest, obj: Announcement, form: ModelForm[Announcement], change: bool
    ) -> None:
        services.announcement_save(actor=actor_for(request.user), announcement=obj)

    def delete_model(self, request: HttpRequest, obj: Announcement) -> None:
        services.announcement_delete(actor=actor_for(request.user), announcement=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Announcement]) -> None:
        for announcement in queryset:
            try:
                services.announcement_delete(actor=actor_for(request.user), announcement=announcement)
            except ValidationError as error:
                self.message_user(request, f"{announcement}: {error.messages[0]}", messages.ERROR)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_published:
            return False
        return super().has_delete_permission(request, obj)

    def has_publish_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("announcements.publish_announcement")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        if not self.has_publish_permission(request):
            # Editors and reviewers write and correct; only the publisher role decides what goes out, and when.
            readonly += ["status", "published_at"]
        return readonly

    @admin.action(description=_("发布所选公告"), permissions=["publish"])
    def publish_selected(self, request: HttpRequest, queryset: QuerySet[Announcement]) -> None:
        for announcement in queryset:
            services.announcement_publish(actor=actor_for(request.user), announcement=announcement)
        self.message_user(request, _("已发布 %(count)d 条公告。") % {"count": queryset.count()})

    @admin.action(description=_("撤回所选公告"), permissions=["publish"])
    def unpublish_selected(self, request: HttpRequest, queryset: QuerySet[Announcement]) -> None:
        for announcement in queryset:
            services.announcement_unpublish(actor=actor_for(request.user), announcement=announcement)
        self.message_user(request, _("已撤回 %(count)d 条公告。") % {"count": queryset.count()})
