"""The staff's queue of cases: filter by status, rule and deadline, overdue ones flagged; a reviewer takes a
case up and answers it on its page, through the services (a human review never by the first answerer)."""

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from rulecenter.accounts.admin import RefusalsShown
from rulecenter.accounts.roles import actor_for

from . import services
from .models import OPEN_STATUSES, Case, CaseStep

TAKEN = "已开始审查 {count} 件申诉。"


class OverdueFilter(admin.SimpleListFilter):
    title = gettext_lazy("答复期限")
    parameter_name = "deadline"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("overdue", gettext_lazy("已逾期")), ("due", gettext_lazy("3 日内到期"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Case]) -> QuerySet[Case]:
        now = timezone.now()
        if self.value() == "overdue":
            return queryset.filter(status__in=OPEN_STATUSES, due_at__lt=now)
        if self.value() == "due":
            return queryset.filter(
                status__in=OPEN_STATUSES, due_at__gte=now, due_at__lt=now + timedelta(days=3)
            )
        return queryset


class CaseAnswerForm(ModelForm[Case]):
    """The one thing staff write on a case's page: the answer (its conclusion and reasons)."""

    new_outcome = forms.ChoiceField(
        label=gettext_lazy("结论"), choices=[("", "—"), *Case.Outcome.choices], required=False
    )
    new_answer = forms.CharField(
        label=gettext_lazy("答复及理由"), widget=forms.Textarea(attrs={"rows": 8}), required=False,
        help_text=gettext_lazy("保存即作出答复，会员会收到通知；答复后不能修改（人工复核另作答复）。"),
    )  # fmt: skip

    class Meta:
        model = Case
        fields: list[str] = []


class StepInline(admin.TabularInline[CaseStep, Case]):
    model = CaseStep
    extra = 0
    can_delete = False
    fields = ["at", "kind", "staff", "actor_id", "outcome", "note"]
    readonly_fields = ["at", "kind", "staff", "actor_id", "outcome", "note"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Case)
class CaseAdmin(RefusalsShown[Case]):
    form = CaseAnswerForm
    list_display = [
        "number",
        "rule",
        "subject",
        "status",
        "outcome",
        "received_at",
        "due_at",
        "overdue",
        "handler",
    ]
    list_filter = ["status", OverdueFilter, "subject", "automated", "rule"]
    search_fields = ["number", "penalty_reference"]
    ordering = ["due_at"]
    list_select_related = ["rule", "handler"]
    date_hierarchy = "received_at"
    actions = ["take"]
    inlines = [StepInline]
    readonly_fields = [
        "number", "member", "subject", "rule", "pinned_version", "at", "clause", "penalty_reference", "automated",
        "text", "files", "status", "received_at", "due_at", "overdue", "handler", "outcome", "answer",
        "answered_by", "answered_at", "first_answered_by", "escalated_at", "closed_at",
    ]  # fmt: skip

    def get_fieldsets(self, request: HttpRequest, obj: Case | None = None) -> Any:
        facts = (None, {"fields": self.readonly_fields})
        if obj is not None and obj.is_open:
            return [facts, (_("答复"), {"fields": ["new_outcome", "new_answer"]})]
        return [facts]

    @admin.display(boolean=True, description=gettext_lazy("逾期"))
    def overdue(self, case: Case) -> bool:
        return case.is_open and case.due_at < timezone.now()

    @admin.display(description=pgettext_lazy("case", "适用版本"))
    def pinned_version(self, case: Case) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            case.version.get_absolute_url(),
            _("第 %(n)s 版") % {"n": case.version.number},
        )

    @admin.display(description=gettext_lazy("附件"))
    def files(self, case: Case) -> str:
        return format_html_join(
            ", ", '<a href="{}">{}</a>',
            ((reverse("cases:attachment", args=[case.number, a.pk]), a.name) for a in case.attachments.all()),
        ) or "—"  # fmt: skip

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # members file cases; staff answer them

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a case is a record

    @admin.action(description=gettext_lazy("开始审查所选申诉"))
    def take(self, request: HttpRequest, queryset: QuerySet[Case]) -> None:
        actor = actor_for(request.user)
        count = 0
        for case in queryset:
            try:
                services.case_take(actor=actor, case=case)
                count += 1
            except (ValidationError, PermissionDenied) as refused:
                for message in getattr(refused, "messages", [str(refused)]):
                    self.message_user(request, f"{case.number}: {message}", messages.WARNING)
        if count:
            self.message_user(request, _(TAKEN).format(count=count))

    def save_model(self, request: HttpRequest, obj: Case, form: ModelForm[Case], change: bool) -> None:
        outcome = form.cleaned_data.get("new_outcome") or ""
        answer = form.cleaned_data.get("new_answer") or ""
        if outcome or answer.strip():
            services.case_answer(
                actor=actor_for(request.user),
                case=obj,
                outcome=outcome,
                answer=answer,
            )
