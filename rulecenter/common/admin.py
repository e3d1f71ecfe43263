"""Admin pieces shared by the apps."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_lazy

from .translations import SUMMARY_MAX_CHARS, TITLE_MAX_CHARS, TranslationLanguage


class ReadOnlyAdmin[M: Any](admin.ModelAdmin[M]):
    """A record written only by the system (events, votes, the search outbox): staff look, nobody edits."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TranslateForm(forms.Form):
    language = forms.ChoiceField(
        label=gettext_lazy("语言"), choices=TranslationLanguage.choices, initial=TranslationLanguage.EN
    )
    title = forms.CharField(label=gettext_lazy("译文标题"), max_length=TITLE_MAX_CHARS)
    summary = forms.CharField(
        label=gettext_lazy("译文摘要"),
        required=False,
        max_length=SUMMARY_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
    )


class TranslationPage[M: Any](admin.ModelAdmin[M]):
    """A change page's link to a page of its own where an editor adds a translation of the title and
    summary (common/translations.py), with the translations given so far; the app's service decides who may
    and writes it. Subclasses say how to write one and list them."""

    def translate(self, request: HttpRequest, obj: M, *, language: str, title: str, summary: str) -> object:
        """Write the translation through the app's service, as the request's user."""
        raise NotImplementedError

    def translation_history(self, obj: M) -> list[Any]:
        raise NotImplementedError

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_translate"
        return [
            path("<int:pk>/translate/", self.admin_site.admin_view(self.translate_view), name=name),
            *super().get_urls(),
        ]

    @admin.display(description=gettext_lazy("译文"))
    def translation_link(self, obj: M) -> str:
        if obj is None or obj.pk is None:
            return "-"
        history = self.translation_history(obj)
        url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_translate", args=[obj.pk])
        shown = history[0].title if history else gettext("还没有译文")
        return format_html('{} · <a href="{}">{}</a>', shown, url, gettext("添加或改进译文"))

    def translate_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = get_object_or_404(self.model, pk=pk)
        history = self.translation_history(obj)
        initial = {"title": history[0].title, "summary": history[0].summary} if history else {}
        form = TranslateForm(request.POST or None, initial=initial)
        change_url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[pk])
        if request.method == "POST" and form.is_valid():
            try:
                self.translate(request, obj, **form.cleaned_data)
            except ValidationError as error:
                if hasattr(error, "error_dict"):
                    for field, refusals in error.message_dict.items():
                        form.add_error(field if field in form.fields else None, refusals)
                else:
                    form.add_error(None, error.messages)
            except PermissionDenied as error:
                form.add_error(None, str(error))
            else:
                self.message_user(request, gettext("译文已添加。"), messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("译文"),
            "original": obj,
            "form": form,
            "history": history,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/translate.html", context)
