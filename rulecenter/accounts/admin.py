from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import services
from .models import ApiToken, Member, Role
from .roles import actor_for

TOKEN_SHOWN_ONCE = "已创建令牌“{name}”（前缀 {prefix}）。令牌只显示这一次，请立即复制保存："  # noqa: S105 - a message, not a secret
TOKEN_ROLES_EMPTY = "请至少勾选一个角色，或选择“只读”。"  # noqa: S105 - a message, not a secret
TOKENS_REVOKED = "已吊销 {count} 个令牌。"


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin[Member]):
    list_display = ["user", "shop_name", "joined_on", "verified"]
    list_filter = ["verified"]
    search_fields = ["user__username", "shop_name"]
    date_hierarchy = "joined_on"
    list_select_related = ["user"]
    autocomplete_fields = ["user"]


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
