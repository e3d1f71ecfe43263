"""The operators' side: consultations, their options, opinion review and one response per cluster.

Votes are shown read-only (operators may see who voted; the public never does). Every write goes through
a service, so the admin obeys the same guards as the API.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from rulecenter.accounts.roles import actor_for
from rulecenter.common.admin import ReadOnlyAdmin

from . import selectors, services
from .models import Consultation, ConsultationOption, Opinion, OpinionCluster, Vote

CLUSTERED = "已归并 {opinions} 条意见为 {clusters} 组相似意见。"
DRAFTED = "已起草结果反馈“{title}”（草稿），请在“公告”中审阅并发布。{pending}"
PENDING_NOTE = "尚有 {n} 条意见待审核，审核并回应后请重新生成。"
REVIEWED = "已将 {n} 条意见标记为“{verdict}”。"


class ConsultationOptionInline(admin.TabularInline[ConsultationOption, Consultation]):
    model = ConsultationOption
    fields = ["position", "key", "label", "requires_reason"]
    extra = 0

    def _editable(self, obj: Consultation | None) -> bool:
        return obj is not None and services.options_editable(consultation=obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_delete_permission(request, obj)


class ConsultationForm(forms.ModelForm[Consultation]):
    class Meta:
        model = Consultation
        fields = ["title", "explanation", "versions", "bundle", "opens_at", "closes_at"]

    def clean(self) -> dict[str, Any]:
        """The service's window guard, shown next to the fields."""
        data = super().clean() or {}
        opens_at, closes_at = data.get("opens_at"), data.get("closes_at")
        if opens_at and closes_at:
            services.check_window(opens_at=opens_at, closes_at=closes_at)
        return data


@admin.register(Consultation)
class ConsultationAdmin(admin.ModelAdmin[Consultation]):
    form = ConsultationForm
    list_display = ["title", "status", "opens_at", "closes_at", "votes", "result_announcement"]
    search_fields = ["title"]
    date_hierarchy = "opens_at"
    filter_horizontal = ["versions"]
    list_select_related = ["result_announcement"]
    actions = ["cluster_opinions", "draft_result"]

    @admin.display(description=gettext_lazy("状态"))
    def status(self, obj: Consultation) -> str:
        return str(obj.status_at(timezone.now()).label)

    @admin.display(description=gettext_lazy("计票"))
    def votes(self, obj: Consultation) -> str:
        tally = selectors.consultation_tally(consultation=obj)
        return "，".join(f"{label} {count}（{share}%）" for _key, label, count, share in tally.rows())

    def get_inlines(self, request: HttpRequest, obj: Consultation | None) -> list[type[Any]]:
        return [ConsultationOptionInline] if obj is not None else []

    def get_readonly_fields(self, request: HttpRequest, obj: Consultation | None = None) -> list[str]:
        readonly = ["result_announcement", "result_drafted_at", "created_by"]
        if obj is not None and not services.options_editable(consultation=obj):
            readonly += ["versions", "bundle", "opens_at"]
        return readonly

    def save_model(
        self, request: HttpRequest, obj: Consultation, form: ModelForm[Consultation], change: bool
    ) -> None:
        if not change:
            created = services.consultation_create(
                actor=actor_for(request.user),
                title=obj.title,
                explanation=obj.explanation,
                opens_at=obj.opens_at,
                closes_at=obj.closes_at,
                versions=list(form.cleaned_data.get("versions") or []),
                bundle=obj.bundle,
                created_by=request.user,  # type: ignore[arg-type]
            )
            obj.pk, obj.created_at = created.pk, created.created_at
            return
        services.consultation_update(
            actor=actor_for(request.user),
            consultation=obj,
            title=obj.title,
            explanation=obj.explanation,
            opens_at=obj.opens_at,
            closes_at=obj.closes_at,
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The service set the versions when it created the consultation; afterwards they follow the form
        # only while the window has not opened.
        if change and services.options_editable(consultation=form.instance):
            form.save_m2m()
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a consultation, once created, is public record

    @admin.action(description=gettext_lazy("归集并归并相似意见"), permissions=["change"])
    def cluster_opinions(self, request: HttpRequest, queryset: QuerySet[Consultation]) -> None:
        for consultation in queryset:
            count = services.opinions_collect(consultation=consultation)
            clusters = services.opinions_cluster(consultation=consultation)
            self.message_user(
                request,
                f"{consultation}：" + _(CLUSTERED).format(opinions=count, clusters=len(clusters)),
                messages.SUCCESS,
            )

    @admin.action(description=gettext_lazy("起草（或重新生成）结果反馈"), permissions=["change"])
    def draft_result(self, request: HttpRequest, queryset: QuerySet[Consultation]) -> None:
        for consultation in queryset:
            try:
                services.opinions_collect(consultation=consultation)
                announcement = services.consultation_result_draft(
                    actor=actor_for(request.user), consultation=consultation
                )
            except ValidationError as refused:
                self.message_user(request, f"{consultation}：{' '.join(refused.messages)}", messages.ERROR)
                continue
            pending = selectors.consultation_ledger(consultation=consultation).pending
            note = _(PENDING_NOTE).format(n=pending) if pending else ""
            self.message_user(
                request, _(DRAFTED).format(title=announcement.title, pending=note), messages.SUCCESS
            )


class OpinionForm(forms.ModelForm[Opinion]):
    class Meta:
        model = Opinion
        fields = ["verdict", "code"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        services.check_review_code(data.get("verdict") or "", data.get("code") or "")
        return data


def _review_action(verdict: Opinion.Verdict, code: Opinion.Code) -> Any:
    def action(modeladmin: "OpinionAdmin", request: HttpRequest, queryset: QuerySet[Opinion]) -> None:
        count = 0
        for opinion in queryset:
            services.opinion_review(
                actor=actor_for(request.user), opinion=opinion, verdict=verdict, code=code
            )
            count += 1
        modeladmin.message_user(request, _(REVIEWED).format(n=count, verdict=code.label), messages.SUCCESS)

    action.__name__ = f"mark_{code.value}"
    return admin.action(description=code.label, permissions=["change"])(action)


@admin.register(Opinion)
class OpinionAdmin(admin.ModelAdmin[Opinion]):
    """Opinions are judged here; their text is the member's and is never edited."""

    form = OpinionForm
    list_display = ["text_shown", "choice", "verdict", "code", "cluster", "reviewed_at"]
    list_filter = ["verdict", "code", "consultation"]
    search_fields = ["text"]
    list_select_related = ["cluster__representative"]
    readonly_fields = ["consultation", "choice", "text", "cluster", "reviewed_by", "reviewed_at"]
    fields = ["consultation", "choice", "text", "cluster", "verdict", "code", "reviewed_by", "reviewed_at"]
    actions = [_review_action(Opinion.Verdict.VALID, code) for code in Opinion.VALID_CODES] + [
        _review_action(Opinion.Verdict.INVALID, code) for code in Opinion.INVALID_CODES
    ]

    @admin.display(description=gettext_lazy("意见"))
    def text_shown(self, obj: Opinion) -> str:
        return obj.text[:60]

    def save_model(self, request: HttpRequest, obj: Opinion, form: ModelForm[Opinion], change: bool) -> None:
        services.opinion_review(
            actor=actor_for(request.user), opinion=obj, verdict=obj.verdict, code=obj.code
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OpinionClusterForm(forms.ModelForm[OpinionCluster]):
    verdict = forms.ChoiceField(
        label=gettext_lazy("整组审核结论"), choices=[("", "—"), *Opinion.Verdict.choices], required=False
    )
    code = forms.ChoiceField(
        label=gettext_lazy("整组理由代码"), choices=[("", "—"), *Opinion.Code.choices], required=False
    )

    class Meta:
        model = OpinionCluster
        fields = ["response"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("verdict"):
            services.check_review_code(data["verdict"], data.get("code") or "")
        return data


@admin.register(OpinionCluster)
class OpinionClusterAdmin(admin.ModelAdmin[OpinionCluster]):
    """One response per cluster of near-duplicate opinions; a whole cluster can be judged at once."""

    form = OpinionClusterForm
    list_display = ["representative_text", "size", "consultation", "responded_at"]
    list_filter = ["consultation"]
    list_select_related = ["representative", "consultation"]
    readonly_fields = ["consultation", "representative_text", "size", "responded_by", "responded_at"]
    fields = [
        "consultation",
        "representative_text",
        "size",
        "verdict",
        "code",
        "response",
        "responded_by",
        "responded_at",
    ]

    @admin.display(description=gettext_lazy("代表意见"))
    def representative_text(self, obj: OpinionCluster) -> str:
        return obj.representative.text if obj.representative else ""

    def save_model(
        self, request: HttpRequest, obj: OpinionCluster, form: ModelForm[OpinionCluster], change: bool
    ) -> None:
        actor = actor_for(request.user)
        verdict = form.cleaned_data.get("verdict")
        if verdict:
            services.cluster_review(
                actor=actor, cluster=obj, verdict=verdict, code=form.cleaned_data.get("code") or ""
            )
        services.cluster_respond(actor=actor, cluster=obj, response=obj.response)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Vote)
class VoteAdmin(ReadOnlyAdmin[Vote]):
    """The standing votes, read-only: a vote is changed only by its member, through the service."""

    list_display = ["consultation", "member", "choice", "cast_at", "updated_at"]
    list_filter = ["choice", "consultation"]
    list_select_related = ["consultation", "member__user"]
    search_fields = ["member__user__username", "member__shop_name"]
