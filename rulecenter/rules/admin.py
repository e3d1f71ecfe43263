import csv
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rulecenter.accounts.roles import actor_for
from rulecenter.common.admin import ReadOnlyAdmin
from rulecenter.common.law import notice_days_required

from . import services
from .models import ChangeBundle, ExitRequest, LifecycleEvent, Rule, RuleCategory, RuleVersion


@admin.register(RuleCategory)
class RuleCategoryAdmin(admin.ModelAdmin[RuleCategory]):
    list_display = ["name", "slug", "parent", "position"]
    prepopulated_fields = {"slug": ["name"]}

    def save_model(self, request: HttpRequest, obj: RuleCategory, form: Any, change: bool) -> None:
        services.rule_category_save(actor=actor_for(request.user), category=obj)


class RuleVersionInline(admin.TabularInline[RuleVersion, Rule]):
    model = RuleVersion
    fields = ["number", "summary", "major", "notice_at", "effective_at"]
    readonly_fields = ["number", "summary", "major", "notice_at", "effective_at"]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin[Rule]):
    list_display = ["title", "slug", "kind", "category"]
    list_filter = ["kind", "category"]
    search_fields = ["title", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [RuleVersionInline]

    def save_model(self, request: HttpRequest, obj: Rule, form: Any, change: bool) -> None:
        services.rule_save(actor=actor_for(request.user), rule=obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # rules with public versions are kept; retention is the floor


class RuleVersionForm(forms.ModelForm[RuleVersion]):
    class Meta:
        model = RuleVersion
        fields = ["rule", "text", "summary", "major", "notice_at", "effective_at", "buffer_ends_at"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "major" in self.fields:
            self.fields["major"].help_text = _("重大变更的公示期至少 %(days)d 日。") % {
                "days": notice_days_required(major=True)
            }

    def clean(self) -> dict[str, Any]:
        """Run the service's guards here so the editor sees the refusal next to the fields."""
        data = super().clean() or {}
        notice_at, effective_at = data.get("notice_at"), data.get("effective_at")
        if (notice_at is None) != (effective_at is None):
            raise ValidationError(_("公示时间和生效时间须同时填写，或同时留空（草稿）。"))
        if notice_at and effective_at:
            services.check_notice_period(
                notice_at=notice_at, effective_at=effective_at, major=bool(data.get("major"))
            )
        return data


@admin.register(RuleVersion)
class RuleVersionAdmin(admin.ModelAdmin[RuleVersion]):
    form = RuleVersionForm
    list_display = ["__str__", "summary", "major", "notice_at", "effective_at", "bundle"]
    list_filter = ["major", "rule__category"]
    search_fields = ["rule__title", "summary"]
    list_select_related = ["rule", "bundle"]
    date_hierarchy = "effective_at"

    def get_readonly_fields(self, request: HttpRequest, obj: RuleVersion | None = None) -> list[str]:
        if obj is not None and obj.is_noticed_at(timezone.now()):
            return [
                "rule",
                "number",
                "text",
                "summary",
                "major",
                "notice_at",
                "effective_at",
                "buffer_ends_at",
                "bundle",
            ]
        return ["number", "bundle"]

    def has_delete_permission(self, request: HttpRequest, obj: RuleVersion | None = None) -> bool:
        if obj is not None and obj.is_noticed_at(timezone.now()):
            return False
        return super().has_delete_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: RuleVersion | None = None) -> bool:
        if obj is not None and obj.is_noticed_at(timezone.now()):
            return False  # shown read-only: corrections are new versions
        return super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: RuleVersion, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if change:
            obj = services.rule_version_update(
                actor=actor_for(request.user),
                version=obj,
                text=data["text"],
                summary=data["summary"],
                major=data["major"],
            )
        else:
            created = services.rule_version_create(
                actor=actor_for(request.user),
                rule=data["rule"],
                text=data["text"],
                summary=data["summary"],
                major=data["major"],
            )
            obj.pk, obj.number = created.pk, created.number
        if data.get("notice_at") and data.get("effective_at"):
            services.rule_version_schedule(
                actor=actor_for(request.user),
                version=obj,
                notice_at=data["notice_at"],
                effective_at=data["effective_at"],
                buffer_ends_at=data.get("buffer_ends_at"),
            )

    def delete_model(self, request: HttpRequest, obj: RuleVersion) -> None:
        services.rule_version_delete(actor=actor_for(request.user), version=obj)


@admin.register(ChangeBundle)
class ChangeBundleAdmin(admin.ModelAdmin[ChangeBundle]):
    list_display = ["title", "created_at"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LifecycleEvent)
class LifecycleEventAdmin(ReadOnlyAdmin[LifecycleEvent]):
    """The log of transitions: what was due, when it ran, and how late."""

    list_display = ["version", "kind", "due_at", "done_at", "late_by"]
    list_filter = ["kind", ("done_at", admin.EmptyFieldListFilter)]
    list_select_related = ["version__rule"]

    @admin.display(description=_("延迟"))
    def late_by(self, obj: LifecycleEvent) -> str:
        seconds = obj.late_by_seconds
        return "" if seconds is None else f"{seconds:.0f}s"


@admin.register(ExitRequest)
class ExitRequestAdmin(admin.ModelAdmin[ExitRequest]):
    list_display = ["user", "bundle", "created_at", "binding"]
    list_filter = ["bundle"]
    list_select_related = ["user", "bundle"]
    actions = ["export_csv"]

    @admin.display(description=_("适用版本"))
    def binding(self, obj: ExitRequest) -> str:
        return "；".join(str(v) for v in obj.binding_versions.select_related("rule"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("导出所选退出申请（CSV）"), permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[ExitRequest]) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="exit-requests.csv"'
        response.write("\ufeff")  # Excel opens UTF-8 CSV correctly only with a BOM
        writer = csv.writer(response)
        writer.writerow(["会员", "店铺", "变更包", "申请时间", "适用版本", "理由"])
        for item in queryset.select_related("user", "bundle").prefetch_related("binding_versions__rule"):
            member = getattr(item.user, "member", None)
            writer.writerow([
                item.user.get_username(),
                member.shop_name if member else "",
                item.bundle.title,
                timezone.localtime(item.created_at).isoformat(),
                "；".join(str(v) for v in item.binding_versions.all()),
                item.reason,
            ])  # fmt: skip
        return response
