import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import services
from .models import ApiToken, Member, Role, Segment
from .roles import actor_for

TOKEN_SHOWN_ONCE = "已创建令牌“{name}”（前缀 {prefix}）。令牌只显示这一次，请立即复制保存："  # noqa: S105 - a message, not a secret
TOKEN_ROLES_EMPTY = "请至少勾选一个角色，或选择“只读”。"  # noqa: S105 - a message, not a secret
TOKENS_REVOKED = "已吊销 {count} 个令牌。"


MEMBER_ATTRIBUTES = ("industry", "region", "membership")


class RefusalsShown[M: Any](admin.ModelAdmin[M]):
    """A service's refusal of a saved form is shown as a message; the admin's transaction is rolled back,
    so nothing of the form was saved."""

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (ValidationError, PermissionDenied) as error:
            if request.method != "POST" or (isinstance(error, PermissionDenied) and not error.args):
                raise  # the admin's own refusals (a form this user may not open) stay a 403
            for message in getattr(error, "messages", [str(error)]):
                self.message_user(request, message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


@admin.register(Member)
class MemberAdmin(RefusalsShown[Member]):
    """The attributes segments select by (industry, region, membership type) are saved through
    `member_attributes_set`, which only the platform or a superuser may call: refused, they are not saved."""

    list_display = ["user", "shop_name", "joined_on", "verified", "membership", "industry", "region"]
    list_filter = ["verified", "membership"]
    search_fields = ["user__username", "shop_name", "industry", "region"]
    date_hierarchy = "joined_on"
    list_select_related = ["user"]
    autocomplete_fields = ["user"]
    readonly_fields = ["language"]  # the member's own choice, made on /me/ (member_language_set)

    def save_model(self, request: HttpRequest, obj: Member, form: ModelForm[Member], change: bool) -> None:
        wanted = {name: getattr(obj, name) for name in MEMBER_ATTRIBUTES}
        stored = Member.objects.filter(pk=obj.pk).values(*MEMBER_ATTRIBUTES).first() if change else None
        defaults = stored or {"industry": "", "region": "", "membership": Member.Membership.BASIC}
        for name in MEMBER_ATTRIBUTES:
            setattr(obj, name, defaults[name])
        super().save_model(request, obj, form, change)
        if wanted != defaults:
            services.member_attributes_set(actor=actor_for(request.user), member=obj, **wanted)


def _listed(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,，、;；\n]", text) if part.strip()]


class SegmentForm(forms.ModelForm[Segment]):
    """Criteria typed as lists (one per line, or separated by commas), membership types ticked."""

    industries_text = forms.CharField(
        label=gettext_lazy("行业类目"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("如 apparel、food-beverage。每行一个，或用逗号、顿号分隔；留空表示不限。"),
    )
    regions_text = forms.CharField(
        label=gettext_lazy("地区"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "省份名称或行政区划代码，须与会员资料中的写法一致。每行一个，或用逗号、顿号分隔；留空表示不限。"
        ),
    )
    memberships_chosen = forms.MultipleChoiceField(
        label=gettext_lazy("会员类型"),
        choices=Member.Membership.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("都不勾选表示不限。"),
    )

    class Meta:
        model = Segment
        fields = ["slug", "name", "description", "min_shop_days", "max_shop_days"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["industries_text"] = "\n".join(self.instance.industries or [])
            self.initial["regions_text"] = "\n".join(self.instance.regions or [])
            self.initial["memberships_chosen"] = list(self.instance.memberships or [])


@admin.register(Segment)
class SegmentAdmin(RefusalsShown[Segment]):
    """Segments are written by `segment_create` / `segment_update` (editors); their slug is fixed once made.

    Not deleted here: the changes that targeted a segment keep naming it (the database refuses removing it
    from anything published).
    """

    form = SegmentForm
    list_display = ["name", "slug", "criteria", "updated_at"]
    search_fields = ["name", "slug"]
    fields = [
        "slug", "name", "description", "industries_text", "regions_text", "memberships_chosen",
        "min_shop_days", "max_shop_days",
    ]  # fmt: skip

    @admin.display(description=gettext_lazy("条件"))
    def criteria(self, obj: Segment) -> str:
        parts = [*obj.industries, *obj.regions]
        parts += [str(Member.Membership(m).label) for m in obj.memberships if m in Member.Membership.values]
        if obj.min_shop_days is not None or obj.max_shop_days is not None:
            low = "" if obj.min_shop_days is None else str(obj.min_shop_days)
            high = "" if obj.max_shop_days is None else str(obj.max_shop_days)
            parts.append(_("开店 %(low)s–%(high)s 天") % {"low": low, "high": high})
        return _("、").join(parts) or _("所有会员")

    def get_readonly_fields(self, request: HttpRequest, obj: Segment | None = None) -> list[str]:
        return ["slug"] if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Segment, form: ModelForm[Segment], change: bool) -> None:
        data = form.cleaned_data
        criteria: dict[str, Any] = {
            "name": data["name"],
            "description": data.get("description") or "",
            "industries": _listed(data.get("industries_text") or ""),
            "regions": _listed(data.get("regions_text") or ""),
            "memberships": list(data.get("memberships_chosen") or []),
            "min_shop_days": data.get("min_shop_days"),
            "max_shop_days": data.get("max_shop_days"),
        }
        actor = actor_for(request.user)
        if change:
            saved = services.segment_update(actor=actor, segment=obj, **criteria)
        else:
            saved = services.segment_create(actor=actor, slug=data["slug"], **criteria)
        obj.pk = saved.pk


class ApiTokenScope(models.TextChoices):
    ALL = "all", gettext_lazy("用户的全部角色")
    ROLES = "roles", gettext_lazy("仅所选角色")
    READ_ONLY = "read_only", gettext_lazy("只读（不带任何角色）")


class ApiTokenAddForm(forms.ModelForm[ApiToken]):
    """Issuing a token: whose, its name, its roles (all of the user's, some of them, none) and its expiry."""

    scope = forms.ChoiceField(
        label=gettext_lazy("权限范围"),
        choices=ApiTokenScope.choices,
        initial=ApiTokenScope.ALL,
        widget=forms.RadioSelect,
    )
    scope_roles = forms.MultipleChoiceField(
        label=gettext_lazy("所选角色"),
        choices=Role.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("仅当权限范围为“仅所选角色”时使用；须是该用户已有的角色。"),
    )

    class Meta:
        model = ApiToken
        fields = ["user", "name", "expires_at"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        scope = data.get("scope")
        roles: list[str] | None = None
        if scope == ApiTokenScope.READ_ONLY:
            roles = []
        elif scope == ApiTokenScope.ROLES:
            roles = list(data.get("scope_roles") or [])
            if not roles:
                self.add_error("scope_roles", _(TOKEN_ROLES_EMPTY))
                return data
        user = data.get("user")
        if user is not None:
            try:
                data["token_roles"] = services.api_token_scope_clean(
                    user=user, roles=roles, expires_at=data.get("expires_at")
                )
            except ValidationError as error:
                fields = {"roles": "scope_roles", "expires_at": "expires_at"}
                for field, messages in error.message_dict.items():
                    for message in messages:
                        self.add_error(fields.get(field), message)
        return data


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    """Tokens are shown by prefix only; the hash never leaves the database and the token is shown once.

    The token is shown on the page that answers the form, never through the messages framework: its
    default storage keeps messages in a cookie (then the session), which would put the token there.
    """

    list_display = ["prefix_shown", "name", "user", "scope_shown", "expires_at", "last_used_at", "active"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), ("expires_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "name", "user__username"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]
    actions = ["revoke_selected"]
    add_form = ApiTokenAddForm
    issued_template = "admin/accounts/apitoken/issued.html"

    @admin.display(description=gettext_lazy("令牌"), ordering="prefix")
    def prefix_shown(self, obj: ApiToken) -> str:
        return f"{obj.prefix}…"

    @admin.display(description=gettext_lazy("角色"))
    def scope_shown(self, obj: ApiToken) -> str:
        if obj.roles is None:
            return str(ApiTokenScope.ALL.label)
        if not obj.roles:
            return _("只读")
        return _("、").join(str(role.label) for role in Role if role.value in obj.roles)

    @admin.display(description=gettext_lazy("有效"), boolean=True)
    def active(self, obj: ApiToken) -> bool:
        return obj.is_active

    def get_form(
        self, request: HttpRequest, obj: ApiToken | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list[str]:  # type: ignore[override]
        if obj is None:
            return ["user", "name", "scope", "scope_roles", "expires_at"]
        return [
            "prefix_shown", "name", "user", "scope_shown", "created_at", "expires_at", "last_used_at",
            "revoked_at",
        ]  # fmt: skip

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list[str]:
        if obj is None:
            return []
        # Only the name stays editable; revoking is the action below, so it is recorded with its time.
        return [
            "prefix_shown",
            "user",
            "scope_shown",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
        ]

    def save_model(
        self, request: HttpRequest, obj: ApiToken, form: ModelForm[ApiToken], change: bool
    ) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        record, token = services.api_token_create(
            actor=actor_for(request.user),
            user=obj.user,
            name=obj.name,
            roles=form.cleaned_data.get("token_roles"),
            expires_at=obj.expires_at,
        )
        obj.pk, obj.prefix, obj.key_hash, obj.created_at, obj.roles = (
            record.pk, record.prefix, record.key_hash, record.created_at, record.roles
        )  # fmt: skip
        # Kept on this request object only, for response_add below; it dies with the request.
        request.issued_token = token  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: ApiToken, post_url_continue: str | None = None
    ) -> HttpResponse:
        token = getattr(request, "issued_token", None)
        if token is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("API 令牌已签发"),
            "record": obj,
            "scope": self.scope_shown(obj),
            "token": token,
            "shown_once": _(TOKEN_SHOWN_ONCE).format(name=obj.name or "-", prefix=obj.prefix),
        }
        response = TemplateResponse(request, self.issued_template, context)
        add_never_cache_headers(response)
        return response

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Tokens are revoked, not deleted, so their use stays on record.
        return False

    @admin.action(description=gettext_lazy("吊销所选令牌"), permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = 0
        for token in queryset.filter(revoked_at__isnull=True):
            services.api_token_revoke(actor=actor_for(request.user), token=token)
            count += 1
        self.message_user(request, _(TOKENS_REVOKED).format(count=count), messages.SUCCESS)
