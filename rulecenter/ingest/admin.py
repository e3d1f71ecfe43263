from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from rulecenter.accounts.admin import RefusalsShown
from rulecenter.accounts.roles import actor_for

from . import planning, services
from .forms import ImportForm
from .models import Channel, ChannelFetch, ChannelPage, ExtractedFacts, ImportedItem, ImportRevision

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


# --- Channels ------------------------------------------------------------------------------------------


class ChannelForm(forms.ModelForm[Channel]):
    """A channel's pages typed one per line, its own selectors as five fields; checked by the services'
    own rules, so the form names a bad field before anything is saved."""

    urls = forms.CharField(
        label=_("列表页网址"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("每行一个，最多 10 个；同一频道的多个页面（如第 1、2 页）。"),
    )
    selector_item = forms.CharField(label=_("条目选择器 item"), required=False)
    selector_title = forms.CharField(label=_("标题选择器 title"), required=False)
    selector_link = forms.CharField(label=_("链接选择器 link"), required=False)
    selector_date = forms.CharField(label=_("日期选择器 date"), required=False)
    selector_excerpt = forms.CharField(label=_("摘要选择器 excerpt"), required=False)

    class Meta:
        model = Channel
        fields = ["name", "source", "adapter", "format", "interval_minutes", "paused"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "source" in self.fields:  # read-only once the channel exists
            self.fields["source"].required = False
        if self.instance.pk is not None:
            self.initial["urls"] = "\n".join(page.url for page in self.instance.pages.all())
            for key, value in (self.instance.selectors or {}).items():
                self.initial[f"selector_{key}"] = value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            data["url_list"] = services.channel_urls_clean((data.get("urls") or "").splitlines())
        except ValidationError as refused:
            self.add_error("urls", refused.message_dict["urls"])
        selectors = {key: data.get(f"selector_{key}") or "" for key in services.SELECTOR_FIELDS}
        try:
            data["selectors"] = services.channel_selectors_clean(data.get("adapter") or "", selectors)
        except ValidationError as refused:
            self.add_error("selector_item", refused.message_dict["selectors"])
        return data


class ChannelPageInline(admin.TabularInline[ChannelPage, Channel]):
    model = ChannelPage
    PAGE_FIELDS = ("url", "fetched_at", "etag", "last_modified")
    fields = PAGE_FIELDS
    readonly_fields = PAGE_FIELDS
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ChannelFetchInline(admin.TabularInline[ChannelFetch, Channel]):
    model = ChannelFetch
    FETCH_FIELDS = (
        "started_at", "outcome", "repeats", "last_at", "status", "elapsed_ms", "bytes", "items", "new", "updated",
        "unsure", "error",
    )  # fmt: skip
    fields = FETCH_FIELDS
    readonly_fields = FETCH_FIELDS
    extra = 0
    can_delete = False
    max_num = 0
    verbose_name_plural = _("最近的抓取")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ChannelFetch]:
        return super().get_queryset(request).order_by("-started_at", "-id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Channel)
class ChannelAdmin(RefusalsShown[Channel]):
    """Channels are written by `channel_create` / `channel_update` (publishers); the health fields by each
    fetch. Not deleted here: pause a channel instead — its items and their provenance stay."""

    form = ChannelForm
    list_display = [
        "name", "health_shown", "source", "pages_count", "last_success_at", "items_seen", "next_fetch_at",
        "error_shown",
    ]  # fmt: skip
    list_filter = ["paused", "adapter"]
    search_fields = ["name", "source", "pages__url"]
    actions = ["pause", "resume", "fetch_soon"]
    inlines = [ChannelPageInline, ChannelFetchInline]
    HEALTH_FIELDS = [
        "health_shown", "last_fetched_at", "last_success_at", "last_error_at", "last_error", "failures",
        "items_seen", "next_fetch_at", "created_by", "created_at",
    ]  # fmt: skip
    readonly_fields = HEALTH_FIELDS
    fieldsets = [
        (None, {"fields": ["name", "urls", "source", "interval_minutes", "paused"]}),
        (
            _("读取方式"),
            {
                "fields": [
                    "adapter",
                    "format",
                    "selector_item",
                    "selector_title",
                    "selector_link",
                    "selector_date",
                    "selector_excerpt",
                ],
                "description": _("自定义 CSS 选择器只在读取方式为“自定义 CSS 选择器”时使用。"),
            },
        ),
        (_("状态"), {"fields": list(HEALTH_FIELDS)}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Channel]:
        return super().get_queryset(request).annotate(page_count=Count("pages"))

    def get_readonly_fields(self, request: HttpRequest, obj: Channel | None = None) -> list[str]:
        return [*self.HEALTH_FIELDS, "source"] if obj is not None else list(self.HEALTH_FIELDS)

    @admin.display(description=_("状态"))
    def health_shown(self, obj: Channel) -> str:
        labels = {
            "paused": _("已暂停"),
            "new": _("尚未抓取"),
            "ok": pgettext_lazy("channel health", "正常"),
            "failing": pgettext_lazy("channel health", "失败"),
        }
        if obj.health == "failing":
            return format_html("<strong>{}</strong>（{}）", labels["failing"], obj.failures)
        return str(labels[obj.health])

    @admin.display(description=_("页面"), ordering="page_count")
    def pages_count(self, obj: Channel) -> int:
        return int(getattr(obj, "page_count", 0))

    @admin.display(description=_("最近的错误"))
    def error_shown(self, obj: Channel) -> str:
        return obj.last_error[:80] if obj.failures else ""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Channel, form: ModelForm[Channel], change: bool) -> None:
        data = form.cleaned_data
        fields: dict[str, Any] = {
            "name": data["name"],
            "urls": data["url_list"],
            "adapter": data["adapter"],
            "selectors": data["selectors"],
            "format": data["format"],
            "interval_minutes": data["interval_minutes"],
            "source": data.get("source") or "",
            "paused": data["paused"],
        }
        actor = actor_for(request.user)
        if change:
            stored = Channel.objects.get(pk=obj.pk)
            fields.pop("source")  # fixed once created (the items' identity): read-only on this form
            saved = services.channel_update(actor=actor, channel=stored, **fields)
        else:
            saved = services.channel_create(actor=actor, **fields)
        obj.pk = saved.pk

    @admin.action(description=_("暂停所选频道"))
    def pause(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        self._each(
            request,
            queryset,
            lambda actor, channel: services.channel_update(actor=actor, channel=channel, paused=True),
        )

    @admin.action(description=_("恢复所选频道（立即抓取）"))
    def resume(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        self._each(
            request,
            queryset,
            lambda actor, channel: services.channel_update(actor=actor, channel=channel, paused=False),
        )

    @admin.action(description=_("立即抓取所选频道"))
    def fetch_soon(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        self._each(
            request,
            queryset,
            lambda actor, channel: services.channel_fetch_soon(actor=actor, channel=channel),
        )

    def _each(self, request: HttpRequest, queryset: QuerySet[Channel], write: Any) -> None:
        actor = actor_for(request.user)
        done = 0
        for channel in queryset:
            try:
                write(actor, channel)
            except (ValidationError, PermissionDenied) as refused:
                self.message_user(request, f"{channel.name}：{refused}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, _("已处理 %(count)d 个频道。") % {"count": done}, messages.SUCCESS)
