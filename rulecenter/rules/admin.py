import csv
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import ActionLocation
from django.contrib.admin.utils import unquote
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import actor_for, role_require
from rulecenter.common.actors import Actor
from rulecenter.common.admin import ReadOnlyAdmin, TranslationPage
from rulecenter.common.law import notice_days_required
from rulecenter.common.text import spreadsheet_cell

from . import services
from .models import Acknowledgment, ChangeBundle, ExitRequest, LifecycleEvent, Rule, RuleCategory, RuleVersion

# The request attribute that carries a service's refusal into the form drawn again (see ServiceRefusalsShown).
REFUSAL_ATTRIBUTE = "_rulecenter_refusal"


class ServiceRefused(Exception):
    """A service refused what the form asked (a missing role, a guard): shown on the form, never a 500."""

    def __init__(self, error: ValidationError | PermissionDenied) -> None:
        super().__init__(error)
        self.error = error


def _refusal_messages(error: ValidationError | PermissionDenied) -> list[str]:
    return list(error.messages) if isinstance(error, ValidationError) else [str(error)]


def _refused(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except (ValidationError, PermissionDenied) as error:
        raise ServiceRefused(error) from error


def _add_refusal(form: forms.BaseForm, error: ValidationError | PermissionDenied) -> None:
    """Put a refusal next to the fields it names, or above the form when the field is not on it."""
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            target = field if field in form.fields and field != NON_FIELD_ERRORS else None
            for item in errors:
                form.add_error(target, list(item.messages))
        return
    form.add_error(None, _refusal_messages(error))


class ServiceRefusalsShown[M: Any](admin.ModelAdmin[M]):
    """Writes go through the services; what they refuse is shown on the page, with what was typed.

    `save_model`/`delete_model` wrap service calls in `_refused`. The change form catches the refusal (the
    admin's own transaction is rolled back with it) and draws the same POST again with the refusal added
    to the form, so nothing is saved and nothing typed is lost.
    """

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        refusal: ValidationError | PermissionDenied | None = getattr(request, REFUSAL_ATTRIBUTE, None)
        if refusal is None:
            return form
        error: ValidationError | PermissionDenied = refusal

        class Refused(form):  # type: ignore[valid-type, misc]
            def clean(self) -> dict[str, Any]:
                data: dict[str, Any] = super().clean() or {}
                _add_refusal(self, error)
                return data

        return Refused

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceRefused as refused:
            setattr(request, REFUSAL_ATTRIBUTE, refused.error)
            return super().changeform_view(request, object_id, form_url, extra_context)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except ServiceRefused as refused:
            for message in _refusal_messages(refused.error):
                self.message_user(request, message, messages.ERROR)
        opts = self.model._meta
        return HttpResponseRedirect(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])
        )


@admin.register(RuleCategory)
class RuleCategoryAdmin(ServiceRefusalsShown[RuleCategory]):
    list_display = ["name", "slug", "parent", "position"]
    prepopulated_fields = {"slug": ["name"]}

    def save_model(self, request: HttpRequest, obj: RuleCategory, form: Any, change: bool) -> None:
        _refused(lambda: services.rule_category_save(actor=actor_for(request.user), category=obj))


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
class RuleAdmin(ServiceRefusalsShown[Rule]):
    list_display = ["title", "slug", "kind", "category"]
    list_filter = ["kind", "category"]
    search_fields = ["title", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [RuleVersionInline]

    def save_model(self, request: HttpRequest, obj: Rule, form: Any, change: bool) -> None:
        _refused(lambda: services.rule_save(actor=actor_for(request.user), rule=obj))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # rules with public versions are kept; retention is the floor


SCHEDULE_FIELDS = ("notice_at", "effective_at", "buffer_ends_at")
TEXT_FIELDS = ("text", "summary", "major", "acknowledgment_required")
SEGMENT_FIELD = "segments"  # set through rule_version_segments_set (editors, until the notice)
REVIEW_FIELDS = ("author_name", "approved_by_name", "approved_at", "review_comment")
# The change form's extra buttons: the POST name of each and what the page says once it is done.
APPROVE, SEND_BACK, SCHEDULE, UNSCHEDULE = "_approve", "_send_back", "_schedule", "_unschedule"
DONE = {
    APPROVE: "《{rule}》第 {number} 版已审核通过。",
    SEND_BACK: "《{rule}》第 {number} 版已退回修改。",
    SCHEDULE: "《{rule}》第 {number} 版已排期公示。",
    UNSCHEDULE: "《{rule}》第 {number} 版已撤回排期。",
}
SCHEDULE_FIELDS_NEEDED = "排期须填写公示时间和生效时间。"
BUNDLE_SCHEDULED = "变更包“{title}”已排期：{count} 个版本将同时公示、同时生效。"


class BundleScheduleForm(forms.Form):
    title = forms.CharField(
        label=_("变更包名称"), max_length=200, help_text=_("如：《某规则》和其相关规则的更新")
    )
    notice_at = forms.DateTimeField(label=_("公示时间"))
    effective_at = forms.DateTimeField(label=_("生效时间"))
    buffer_ends_at = forms.DateTimeField(label=_("缓冲期结束"), required=False)


class RuleVersionForm(forms.ModelForm[RuleVersion]):
    comment = forms.CharField(
        label=_("退回意见"),
        required=False,
        max_length=services.REVIEW_COMMENT_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("退回修改时必填，作者会在版本页面上看到。"),
    )

    class Meta:
        model = RuleVersion
        fields = [
            "rule", "text", "summary", "major", "segments", "notice_at", "effective_at", "buffer_ends_at",
        ]  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "major" in self.fields:
            self.fields["major"].help_text = _("重大变更的公示期至少 %(days)d 日。") % {
                "days": notice_days_required(major=True)
            }

    def clean(self) -> dict[str, Any]:
        """Run the service's guards here so the publisher sees the refusal next to the fields."""
        data = super().clean() or {}
        notice_at, effective_at = data.get("notice_at"), data.get("effective_at")
        if (notice_at is None) != (effective_at is None):
            raise ValidationError(_("公示时间和生效时间须同时填写，或同时留空（草稿）。"))
        if notice_at and effective_at:
            major = data["major"] if "major" in data else bool(self.instance.major)
            services.check_notice_period(notice_at=notice_at, effective_at=effective_at, major=major)
        return data


def _allowed(check: Callable[..., None], actor: Actor, version: RuleVersion) -> bool:
    try:
        check(actor=actor, version=version)
    except (ValidationError, PermissionDenied):
        return False
    return True


class ReviewStateFilter(admin.SimpleListFilter):
    title = _("审核状态")
    parameter_name = "review"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(RuleVersion.ReviewState.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[RuleVersion]) -> QuerySet[RuleVersion]:
        now = timezone.now()
        state = self.value()
        if state == RuleVersion.ReviewState.NOTICED:
            return queryset.filter(notice_at__lte=now)
        if state == RuleVersion.ReviewState.SCHEDULED:
            return queryset.filter(notice_at__gt=now)
        if state == RuleVersion.ReviewState.APPROVED:
            return queryset.filter(notice_at__isnull=True, approved_at__isnull=False)
        if state == RuleVersion.ReviewState.AWAITING_REVIEW:
            return queryset.filter(notice_at__isnull=True, approved_at__isnull=True)
        return queryset


@admin.register(RuleVersion)
class RuleVersionAdmin(TranslationPage[RuleVersion], ServiceRefusalsShown[RuleVersion]):
    """Editors write drafts, reviewers approve or send them back, publishers schedule approved ones.

    Each role sees the fields and buttons it may use; the services decide, so a forged request gets the
    same refusal, shown on the page.
    """

    form = RuleVersionForm
    list_display = ["__str__", "summary", "review_state", "major", "notice_at", "effective_at", "bundle"]
    list_filter = [ReviewStateFilter, "major", "rule__category"]
    search_fields = ["rule__title", "summary"]
    list_select_related = ["rule", "bundle"]
    date_hierarchy = "effective_at"
    filter_horizontal = ["segments"]
    # No bulk delete (each deletion goes through the service's guards); publishers bundle approved versions.
    actions = ["schedule_bundle"]

    def get_actions(
        self, request: HttpRequest, action_location: ActionLocation = ActionLocation.CHANGE_LIST
    ) -> Any:
        actions = super().get_actions(request, action_location)
        actions.pop("delete_selected", None)
        return actions

    def has_schedule_permission(self, request: HttpRequest) -> bool:
        return actor_for(request.user).has(Role.PUBLISHER.value)

    @admin.action(description=_("编为变更包并排期公示（发布）"), permissions=["schedule"])
    def schedule_bundle(self, request: HttpRequest, queryset: QuerySet[RuleVersion]) -> HttpResponse | None:
        """The selected versions of several rules noticed and taking effect together, on a page of its own."""
        versions = list(queryset.select_related("rule").order_by("rule__title"))
        form = BundleScheduleForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            data = form.cleaned_data
            try:
                bundle = services.change_bundle_schedule(
                    actor=actor_for(request.user),
                    title=data["title"],
                    versions=versions,
                    notice_at=data["notice_at"],
                    effective_at=data["effective_at"],
                    buffer_ends_at=data.get("buffer_ends_at"),
                )
            except (ValidationError, PermissionDenied) as error:
                refusal = error.messages if isinstance(error, ValidationError) else [str(error)]
                form.add_error(None, " ".join(refusal))
            else:
                self.message_user(
                    request,
                    gettext(BUNDLE_SCHEDULED).format(title=bundle.title, count=len(versions)),
                    messages.SUCCESS,
                )
                return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("编为变更包并排期公示"),
            "versions": versions,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/rules/ruleversion/schedule_bundle.html", context)

    def translate(
        self, request: HttpRequest, obj: RuleVersion, *, language: str, title: str, summary: str
    ) -> object:
        return services.rule_version_translate(
            actor=actor_for(request.user), version=obj, language=language, title=title, summary=summary
        )

    def translation_history(self, obj: RuleVersion) -> list[Any]:
        return list(obj.translations.order_by("language", "-id"))

    @admin.display(description=_("审核状态"))
    def review_state(self, obj: RuleVersion) -> str:
        return str(obj.review_state_at(timezone.now()).label)

    # Names, not links: a reviewer or publisher may not open the accounts' pages.
    @admin.display(description=_("作者"))
    def author_name(self, obj: RuleVersion) -> str:
        return obj.author.get_username() if obj.author else gettext("平台（系统）")

    @admin.display(description=_("审核人"))
    def approved_by_name(self, obj: RuleVersion) -> str:
        if obj.approved_at is None:
            return "-"
        return obj.approved_by.get_username() if obj.approved_by else gettext("平台（系统）")

    def view_on_site(self, obj: RuleVersion) -> str | None:
        """Only a noticed version has a public page."""
        return obj.get_absolute_url() if obj.is_noticed_at(timezone.now()) else None

    def _editable(self, request: HttpRequest, obj: RuleVersion | None) -> set[str]:
        actor = actor_for(request.user)
        if obj is None:
            return {"rule", *TEXT_FIELDS, SEGMENT_FIELD}
        editable: set[str] = set()
        if _allowed(services.rule_version_edit_check, actor, obj):
            editable |= set(TEXT_FIELDS)
        if _allowed(services.rule_version_segments_check, actor, obj):
            editable.add(SEGMENT_FIELD)
        if _allowed(services.rule_version_send_back_check, actor, obj):
            editable.add("comment")
        if _allowed(services.rule_version_schedule_check, actor, obj):
            editable |= set(SCHEDULE_FIELDS)
        return editable

    def get_fields(self, request: HttpRequest, obj: RuleVersion | None = None) -> list[str]:  # type: ignore[override]
        if obj is None:
            return ["rule", *TEXT_FIELDS, SEGMENT_FIELD]
        fields = [
            "rule",
            "number",
            "review_state",
            *TEXT_FIELDS,
            "translation_link",
            SEGMENT_FIELD,
            *REVIEW_FIELDS,
        ]
        if "comment" in self._editable(request, obj):
            fields.append("comment")
        return [*fields, *SCHEDULE_FIELDS, "bundle"]

    def get_readonly_fields(self, request: HttpRequest, obj: RuleVersion | None = None) -> list[str]:
        if obj is None:
            return []
        editable = self._editable(request, obj)
        return [field for field in self.get_fields(request, obj) if field not in editable]

    def has_delete_permission(self, request: HttpRequest, obj: RuleVersion | None = None) -> bool:
        if obj is None:
            return actor_for(request.user).has(Role.EDITOR.value)
        return _allowed(services.rule_version_edit_check, actor_for(request.user), obj)

    def has_change_permission(self, request: HttpRequest, obj: RuleVersion | None = None) -> bool:
        if obj is not None and obj.is_noticed_at(timezone.now()):
            return False  # shown read-only: corrections are new versions
        return super().has_change_permission(request, obj)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: RuleVersion | None = None,
    ) -> HttpResponse:
        actor = actor_for(request.user)
        buttons: dict[str, bool] = {}
        if obj is not None:
            buttons = {
                "approve": _allowed(services.rule_version_approve_check, actor, obj),
                "send_back": _allowed(services.rule_version_send_back_check, actor, obj),
                "schedule": _allowed(services.rule_version_schedule_check, actor, obj),
                "unschedule": _allowed(services.rule_version_unschedule_check, actor, obj),
            }
            # Only an editor saves the text and the segments; the others act through their own buttons.
            can_edit = bool(self._editable(request, obj) & {*TEXT_FIELDS, SEGMENT_FIELD})
            context.update(
                show_save=can_edit, show_save_and_continue=can_edit, show_save_and_add_another=False
            )
        context["review_buttons"] = buttons
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request: HttpRequest, obj: RuleVersion, form: Any, change: bool) -> None:
        actor = actor_for(request.user)
        data = form.cleaned_data
        if not change:
            created = _refused(
                lambda: services.rule_version_create(
                    actor=actor,
                    rule=data["rule"],
                    text=data["text"],
                    summary=data["summary"],
                    major=data["major"],
                    acknowledgment_required=data["acknowledgment_required"],
                )
            )
            obj.pk, obj.number = created.pk, created.number
            return
        if APPROVE in request.POST:
            _refused(lambda: services.rule_version_approve(actor=actor, version=obj))
        elif SEND_BACK in request.POST:
            comment = data.get("comment") or request.POST.get("comment", "")
            _refused(lambda: services.rule_version_send_back(actor=actor, version=obj, comment=comment))
        elif UNSCHEDULE in request.POST:
            _refused(lambda: services.rule_version_unschedule(actor=actor, version=obj))
        else:
            self._save_text(request, actor, obj, form)
            self._save_schedule(request, actor, obj, form)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """The segments go through their service; a refusal is shown on the form like the others."""
        if SEGMENT_FIELD in form.fields and (not change or SEGMENT_FIELD in form.changed_data):
            slugs = [segment.slug for segment in form.cleaned_data[SEGMENT_FIELD]]
            if change or slugs:
                actor = actor_for(request.user)
                _refused(
                    lambda: services.rule_version_segments_set(
                        actor=actor, version=form.instance, segments=slugs
                    )
                )
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def _save_text(self, request: HttpRequest, actor: Actor, obj: RuleVersion, form: Any) -> None:
        if set(TEXT_FIELDS) & set(form.fields):
            if not set(TEXT_FIELDS) & set(form.changed_data):
                return
            data = form.cleaned_data
            text, summary, major = data["text"], data["summary"], data["major"]
            acknowledgment = data["acknowledgment_required"]
        elif "text" in request.POST:
            # A changed text sent for a field this person may not edit: the service says why (role, schedule).
            text = request.POST["text"].replace("\r\n", "\n")
            summary, major = request.POST.get("summary", obj.summary).strip(), "major" in request.POST
            acknowledgment = "acknowledgment_required" in request.POST
            if (text, summary, major, acknowledgment) == (
                obj.text, obj.summary, obj.major, obj.acknowledgment_required,
            ):  # fmt: skip
                return
        else:
            return
        _refused(
            lambda: services.rule_version_update(
                actor=actor,
                version=obj,
                text=text,
                summary=summary,
                major=major,
                acknowledgment_required=acknowledgment,
            )
        )

    def _save_schedule(self, request: HttpRequest, actor: Actor, obj: RuleVersion, form: Any) -> None:
        data = form.cleaned_data
        if not set(SCHEDULE_FIELDS) & set(form.fields):
            if SCHEDULE in request.POST:
                # Dates this person may not set: the service's check names the role or the missing approval.
                _refused(lambda: services.rule_version_schedule_check(actor=actor, version=obj))
            return
        if SCHEDULE not in request.POST and not set(SCHEDULE_FIELDS) & set(form.changed_data):
            return
        notice_at, effective_at = data.get("notice_at"), data.get("effective_at")
        if notice_at is None or effective_at is None:
            if SCHEDULE not in request.POST and form.initial.get("notice_at") is not None:
                # Both dates cleared on a scheduled version: its schedule is taken back.
                _refused(lambda: services.rule_version_unschedule(actor=actor, version=obj))
                return
            _refused(lambda: role_require(actor, Role.PUBLISHER))
            raise ServiceRefused(ValidationError({"notice_at": gettext(SCHEDULE_FIELDS_NEEDED)}))
        _refused(
            lambda: services.rule_version_schedule(
                actor=actor,
                version=obj,
                notice_at=notice_at,
                effective_at=effective_at,
                buffer_ends_at=data.get("buffer_ends_at"),
            )
        )

    def response_change(self, request: HttpRequest, obj: RuleVersion) -> HttpResponse:
        for button, message in DONE.items():
            if button in request.POST:
                text = gettext(message).format(rule=obj.rule.title, number=obj.number)
                self.message_user(request, text, messages.SUCCESS)
                return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    def delete_model(self, request: HttpRequest, obj: RuleVersion) -> None:
        _refused(lambda: services.rule_version_delete(actor=actor_for(request.user), version=obj))

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except PermissionDenied:
            # Django refuses with a bare 403 when the delete link was not offered; say why instead.
            version = self.get_object(request, unquote(object_id))
            if version is None or not self.has_view_permission(request, version):
                raise
            try:
                services.rule_version_edit_check(actor=actor_for(request.user), version=version)
            except (ValidationError, PermissionDenied) as error:
                for message in _refusal_messages(error):
                    self.message_user(request, message, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:rules_ruleversion_change", args=[version.pk]))


@admin.register(ChangeBundle)
class ChangeBundleAdmin(admin.ModelAdmin[ChangeBundle]):
    """Bundles are made by scheduling (`change_bundle_schedule`): shown here, written only by the service."""

    list_display = ["title", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

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

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a member's exit is a record the platform keeps (E-Commerce Law art. 34)

    @admin.action(description=_("导出所选退出申请（CSV）"), permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[ExitRequest]) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="exit-requests.csv"'
        response.write("\ufeff")  # Excel opens UTF-8 CSV correctly only with a BOM
        writer = csv.writer(response)
        writer.writerow(["会员", "店铺", "变更包", "申请时间", "适用版本", "理由"])
        for item in queryset.select_related("user", "bundle").prefetch_related("binding_versions__rule"):
            member = getattr(item.user, "member", None)
            # Members write their names, shop names and reasons: none may reach Excel as a formula.
            writer.writerow([spreadsheet_cell(cell) for cell in (
                item.user.get_username(),
                member.shop_name if member else "",
                item.bundle.title,
                timezone.localtime(item.created_at).isoformat(),
                "；".join(str(v) for v in item.binding_versions.all()),
                item.reason,
            )])  # fmt: skip
        return response


@admin.register(Acknowledgment)
class AcknowledgmentAdmin(admin.ModelAdmin[Acknowledgment]):
    """The ledger of a change that asks members to acknowledge it: who, when, which version."""

    list_display = ["user", "version", "acknowledged_at"]
    list_filter = ["version__rule", "version"]
    search_fields = ["user__username", "version__rule__title"]
    list_select_related = ["user", "version__rule"]
    date_hierarchy = "acknowledged_at"
    actions = ["export_csv"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # written once: the database refuses it too

    @admin.action(description=_("导出所选确认记录（CSV）"), permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Acknowledgment]) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="acknowledgments.csv"'
        response.write("\ufeff")  # Excel opens UTF-8 CSV correctly only with a BOM
        writer = csv.writer(response)
        writer.writerow(["会员", "店铺", "规则", "版本", "确认时间"])
        for item in queryset.select_related("user__member", "version__rule"):
            member = getattr(item.user, "member", None)
            writer.writerow([spreadsheet_cell(cell) for cell in (
                item.user.get_username(),
                member.shop_name if member else "",
                item.version.rule.title,
                str(item.version.number),
                timezone.localtime(item.acknowledged_at).isoformat(),
            )])  # fmt: skip
        return response
