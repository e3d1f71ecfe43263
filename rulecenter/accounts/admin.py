from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import services
from .models import ApiToken, Member
from .roles import actor_for

TOKEN_SHOWN_ONCE = "已创建令牌“{name}”（前缀 {prefix}）。令牌只显示这一次，请立即复制保存：{token}"  # noqa: S105 - a message, not a secret
TOKENS_REVOKED = "已吊销 {count} 个令牌。"


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin[Member]):
    list_display = ["user", "shop_name", "joined_on", "verified"]
    list_filter = ["verified"]
    search_fields = ["user__username", "shop_name"]
    date_hierarchy = "joined_on"
    list_select_related = ["user"]
    autocomplete_fields = ["user"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    """Tokens are shown by prefix only; the hash never leaves the database and the token is shown once."""

    list_display = ["prefix_shown", "name", "user", "created_at", "last_used_at", "active"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "name", "user__username"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]
    actions = ["revoke_selected"]

    @admin.display(description=gettext_lazy("令牌"), ordering="prefix")
    def prefix_shown(self, obj: ApiToken) -> str:
        return f"{obj.prefix}…"

    @admin.display(description=gettext_lazy("有效"), boolean=True)
    def active(self, obj: ApiToken) -> bool:
        return obj.is_active

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list[str]:  # type: ignore[override]
        if obj is None:
            return ["user", "name"]
        return ["prefix_shown", "name", "user", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list[str]:
        if obj is None:
            return []
        # Only the name stays editable; revoking is the action below, so it is recorded with its time.
        return ["prefix_shown", "user", "created_at", "last_used_at", "revoked_at"]

    def save_model(
        self, request: HttpRequest, obj: ApiToken, form: ModelForm[ApiToken], change: bool
    ) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        record, token = services.api_token_create(actor=actor_for(request.user), user=obj.user, name=obj.name)
        obj.pk, obj.prefix, obj.key_hash, obj.created_at = (
            record.pk, record.prefix, record.key_hash, record.created_at
        )  # fmt: skip
        self.message_user(
            request,
            _(TOKEN_SHOWN_ONCE).format(name=record.name or "-", prefix=record.prefix, token=token),
            messages.WARNING,
        )

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
