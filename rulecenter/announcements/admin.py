"""The announcements admin: what each role may do here is what the services allow it, nothing more.

Editors write and edit drafts; reviewers approve or send back (the review page); publishers publish approved
drafts, correct published announcements (the earlier text is kept as a revision, shown inline) and withdraw
with a reason (the withdraw page). Statutory notices and withdrawn announcements are read-only; only drafts
that were never published can be deleted. A refusal by a service is shown as a message, never as an error page.
"""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import RoleRequired, actor_for, role_require
from rulecenter.common.admin import TranslationPage

from . import selectors, services
from .models import Announcement, AnnouncementRevision, Category

APPROVED_COUNT = "已审核通过 %(count)d 条公告。"
PUBLISHED_COUNT = "已发布 %(count)d 条公告。"
APPROVED_ONE = "已审核通过《%(title)s》。"
SENT_BACK_ONE = "已退回《%(title)s》。"
PUBLISHED_ONE = "已发布《%(title)s》。"
WITHDRAWN_ONE = "已撤回《%(title)s》：它的地址现在说明撤回的时间和原因。"
REFUSED = "《%(title)s》：%(reason)s"


def _refusal(error: ValidationError | PermissionDenied) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error) or _("你没有执行此操作的权限。")


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin[Category]):
    list_display = ["name", "slug", "position"]
    list_editable = ["position"]
    prepopulated_fields = {"slug": ["name"]}

    def save_model(
        self, request: HttpRequest, obj: Category, form: ModelForm[Category], change: bool
    ) -> None:
        services.category_save(actor=actor_for(request.user), category=obj)


class AnnouncementRevisionInline(admin.TabularInline[AnnouncementRevision, Announcement]):
    """The texts corrections replaced, oldest first: shown, never changed."""

    model = AnnouncementRevision
    fields = ["number", "replaced_at", "replaced_by_name", "title", "summary", "body"]
    readonly_fields = ["number", "replaced_at", "replaced_by_name", "title", "summary", "body"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReviewForm(forms.Form):
    comment = forms.CharField(
        label=gettext_lazy("退回意见"),
        required=False,
        max_length=services.REVIEW_COMMENT_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text=gettext_lazy("退回修改时必填；审核通过时不需要。"),
    )


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("撤回原因"),
        max_length=services.WITHDRAWN_REASON_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text=gettext_lazy("会显示在公告原来的地址上。"),
    )


@admin.register(Announcement)
class AnnouncementAdmin(TranslationPage[Announcement]):
    list_display = ["title", "kind", "category", "status", "review_state", "published_at"]
    list_filter = ["status", "statutory", "kind", "category"]
    search_fields = ["title"]
    date_hierarchy = "published_at"
    list_select_related = ["category"]
    fields = [
        "title", "kind", "category", "summary", "translation_link", "body", "source_url", "segments", "status",
        "published_at",
        "statutory", "author", "approved_by", "approved_at", "review_comment", "corrected_at",
        "withdrawn_at", "withdrawn_reason", "excerpt", "created_at", "updated_at",
    ]  # fmt: skip
    # Set by the review services only (the review, publish and withdraw pages and actions).
    workflow_fields = [
        "status", "statutory", "author", "approved_by", "approved_at", "review_comment", "corrected_at",
        "withdrawn_at", "withdrawn_reason", "excerpt", "created_at", "updated_at",
    ]  # fmt: skip
    filter_horizontal = ["segments"]
    inlines = [AnnouncementRevisionInline]
    actions = ["approve_selected", "publish_selected"]
    change_form_template = "admin/announcements/announcement/change_form.html"

    # --- what each role may do ---------------------------------------------------------------------

    @staticmethod
    def _has(request: HttpRequest, role: Role) -> bool:
        return actor_for(request.user).has(role.value)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._has(request, Role.EDITOR)

    def has_change_permission(self, request: HttpRequest, obj: Announcement | None = None) -> bool:
        if obj is None:
            return super().has_change_permission(request)
        if obj.statutory or obj.is_withdrawn:
            return False
        return self._has(request, Role.EDITOR if obj.status == Announcement.Status.DRAFT else Role.PUBLISHER)

    def has_delete_permission(self, request: HttpRequest, obj: Announcement | None = None) -> bool:
        if obj is not None and obj.status != Announcement.Status.DRAFT:
            return False  # nothing published is ever deleted: withdraw it instead
        return self._has(request, Role.EDITOR)

    def has_review_permission(self, request: HttpRequest) -> bool:
        return self._has(request, Role.REVIEWER)

    def has_publish_permission(self, request: HttpRequest) -> bool:
        return self._has(request, Role.PUBLISHER)

    def get_readonly_fields(self, request: HttpRequest, obj: Announcement | None = None) -> list[str]:
        readonly = [*self.workflow_fields, "translation_link"]
        if not self.has_publish_permission(request):
            readonly.append("published_at")  # only the publisher role decides when something goes out
        if (obj is not None and obj.status != Announcement.Status.DRAFT) or not self._has(
            request, Role.EDITOR
        ):
            readonly.append("segments")  # frozen once published; editors target drafts
        return readonly

    @admin.display(description=gettext_lazy("审核"))
    def review_state(self, obj: Announcement) -> str:
        if obj.statutory:
            return _("法定公示")
        if obj.status != Announcement.Status.DRAFT:
            return "—"
        if obj.approved_at is not None:
            return _("已审核通过")
        return _("已退回") if obj.review_comment else _("待审核")

    # --- writes through the services ---------------------------------------------------------------

    def save_model(
        self, request: HttpRequest, obj: Announcement, form: ModelForm[Announcement], change: bool
    ) -> None:
        services.announcement_save(actor=actor_for(request.user), announcement=obj)

    def save_related(
        self, request: HttpRequest, form: ModelForm[Announcement], formsets: Any, change: bool
    ) -> None:
        """The segments go through their service (the revisions inline is read-only: nothing else to save)."""
        if "segments" in form.cleaned_data and (not change or "segments" in form.changed_data):
            slugs = [segment.slug for segment in form.cleaned_data["segments"]]
            if change or slugs:
                services.announcement_segments_set(
                    actor=actor_for(request.user), announcement=form.instance, segments=slugs
                )
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def _stored(self, object_id: str | None) -> Announcement | None:
        return (
            Announcement.objects.filter(pk=object_id).first() if object_id and object_id.isdigit() else None
        )

    def _form_refusal(self, request: HttpRequest, announcement: Announcement | None) -> str | None:
        """Why this user may not submit the add or change form, in the services' words (None: they may)."""
        actor = actor_for(request.user)
        if announcement is None:
            needed = Role.EDITOR
        else:
            if announcement.statutory or announcement.is_withdrawn:
                return self._frozen_reason(announcement)
            needed = Role.EDITOR if announcement.status == Announcement.Status.DRAFT else Role.PUBLISHER
        return None if actor.has(needed.value) else str(RoleRequired(needed))

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        stored = self._stored(object_id)
        if request.method == "POST" and (object_id is None or stored is not None):
            refusal = self._form_refusal(request, stored)
            if refusal is not None:
                self.message_user(request, refusal, messages.ERROR)
                return HttpResponseRedirect(request.get_full_path())
        if stored is not None:
            extra_context = {**(extra_context or {}), **self._tools_context(request, stored)}
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (ValidationError, PermissionDenied) as error:
            if request.method != "POST" or (isinstance(error, PermissionDenied) and not error.args):
                raise  # the admin's own refusals (a form this role may not open) stay a 403
            # A service's refusal the form could not know about (the state changed meanwhile): say so.
            self.message_user(request, _refusal(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        stored = self._stored(object_id)
        if request.method == "POST" and stored is not None:
            if not actor_for(request.user).has(Role.EDITOR.value):
                refusal = str(RoleRequired(Role.EDITOR))
            elif stored.status != Announcement.Status.DRAFT:
                refusal = (
                    self._frozen_reason(stored)
                    if stored.statutory
                    else _(services.ANNOUNCEMENT_DELETE_PUBLISHED)
                )
            else:
                refusal = None
            if refusal is not None:
                self.message_user(request, refusal, messages.ERROR)
                return HttpResponseRedirect(self._change_url(stored))
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request: HttpRequest, obj: Announcement) -> None:
        services.announcement_delete(actor=actor_for(request.user), announcement=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Announcement]) -> None:
        for announcement in queryset:
            self._attempt(
                request,
                announcement,
                lambda a: services.announcement_delete(actor=actor_for(request.user), announcement=a),
            )

    def _attempt(
        self, request: HttpRequest, announcement: Announcement, write: Callable[[Announcement], object]
    ) -> bool:
        """Run one service call; a refusal becomes an error message naming the announcement."""
        try:
            write(announcement)
        except (ValidationError, PermissionDenied) as error:
            message = _(REFUSED) % {"title": announcement.title, "reason": _refusal(error)}
            self.message_user(request, message, messages.ERROR)
            return False
        return True

    @admin.action(description=gettext_lazy("审核通过所选草稿"), permissions=["review"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Announcement]) -> None:
        actor = actor_for(request.user)
        done = sum(
            self._attempt(request, a, lambda a: services.announcement_approve(actor=actor, announcement=a))
            for a in queryset
        )
        if done:
            self.message_user(request, _(APPROVED_COUNT) % {"count": done}, messages.SUCCESS)

    @admin.action(description=gettext_lazy("发布所选公告"), permissions=["publish"])
    def publish_selected(self, request: HttpRequest, queryset: QuerySet[Announcement]) -> None:
        actor = actor_for(request.user)
        done = sum(
            self._attempt(request, a, lambda a: services.announcement_publish(actor=actor, announcement=a))
            for a in queryset
        )
        if done:
            self.message_user(request, _(PUBLISHED_COUNT) % {"count": done}, messages.SUCCESS)

    # --- translations (common.admin.TranslationPage) ------------------------------------------------

    def translate(
        self, request: HttpRequest, obj: Announcement, *, language: str, title: str, summary: str
    ) -> object:
        return services.announcement_translate(
            actor=actor_for(request.user), announcement=obj, language=language, title=title, summary=summary
        )

    def translation_history(self, obj: Announcement) -> list[Any]:
        return selectors.announcement_translation_history(announcement=obj)

    # --- the review, publish and withdraw pages ----------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        custom = [
            path("<int:pk>/review/", view(self.review_view), name="announcements_announcement_review"),
            path(
                "<int:pk>/publish/",
                view(require_POST(self.publish_view)),
                name="announcements_announcement_publish",
            ),
            path("<int:pk>/withdraw/", view(self.withdraw_view), name="announcements_announcement_withdraw"),
        ]
        return custom + super().get_urls()

    @staticmethod
    def _frozen_reason(announcement: Announcement) -> str:
        if announcement.statutory:
            return _(services.ANNOUNCEMENT_STATUTORY_FROZEN).format(title=announcement.title)
        if announcement.is_withdrawn:
            return _("已撤回的公告不能再修改或发布。")
        return ""

    def _tools_context(self, request: HttpRequest, announcement: Announcement) -> dict[str, Any]:
        """Which review steps the change page offers this user for this announcement."""
        draft = announcement.status == Announcement.Status.DRAFT
        return {
            "can_review": draft and self.has_review_permission(request),
            "can_publish": draft and announcement.is_approved and self.has_publish_permission(request),
            "can_withdraw": announcement.is_published
            and not announcement.statutory
            and self.has_publish_permission(request),
            "frozen_reason": self._frozen_reason(announcement),
        }

    def _change_url(self, announcement: Announcement) -> str:
        return reverse("admin:announcements_announcement_change", args=[announcement.pk])

    def _page(
        self, request: HttpRequest, announcement: Announcement, template: str, form: forms.Form, title: str
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "announcement": announcement,
            "form": form,
            "change_url": self._change_url(announcement),
        }
        return TemplateResponse(request, f"admin/announcements/announcement/{template}", context)

    def review_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Approve, or send back with a comment."""
        announcement = get_object_or_404(Announcement, pk=pk)
        if request.method != "POST":
            role_require(actor_for(request.user), Role.REVIEWER)
        form = ReviewForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            actor = actor_for(request.user)
            if "_send_back" in request.POST:
                comment = form.cleaned_data["comment"]
                ok = self._attempt(
                    request,
                    announcement,
                    lambda a: services.announcement_send_back(actor=actor, announcement=a, comment=comment),
                )
                done = SENT_BACK_ONE
            else:
                ok = self._attempt(
                    request,
                    announcement,
                    lambda a: services.announcement_approve(actor=actor, announcement=a),
                )
                done = APPROVED_ONE
            if ok:
                self.message_user(request, _(done) % {"title": announcement.title}, messages.SUCCESS)
                return HttpResponseRedirect(self._change_url(announcement))
        return self._page(request, announcement, "review.html", form, _("审核公告"))

    def publish_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        announcement = get_object_or_404(Announcement, pk=pk)
        actor = actor_for(request.user)
        if self._attempt(
            request, announcement, lambda a: services.announcement_publish(actor=actor, announcement=a)
        ):
            self.message_user(request, _(PUBLISHED_ONE) % {"title": announcement.title}, messages.SUCCESS)
        return HttpResponseRedirect(self._change_url(announcement))

    def withdraw_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Withdraw with a reason; the announcement is kept and its address says when and why."""
        announcement = get_object_or_404(Announcement, pk=pk)
        if request.method != "POST":
            role_require(actor_for(request.user), Role.PUBLISHER)
        form = WithdrawForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            actor = actor_for(request.user)
            reason = form.cleaned_data["reason"]
            if self._attempt(
                request,
                announcement,
                lambda a: services.announcement_withdraw(actor=actor, announcement=a, reason=reason),
            ):
                self.message_user(request, _(WITHDRAWN_ONE) % {"title": announcement.title}, messages.SUCCESS)
                return HttpResponseRedirect(self._change_url(announcement))
        return self._page(request, announcement, "withdraw.html", form, _("撤回公告"))
