from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from rulecenter.accounts.models import Role
from rulecenter.accounts.services import api_token_issue
from rulecenter.common.actors import SYSTEM

TOKEN_ISSUED = "已为用户“{username}”签发 API 令牌（前缀 {prefix}，{scope}，{expiry}）。令牌只显示这一次，请立即妥善保存："  # noqa: S105 - a message, not a secret
SCOPE_ALL = "用户的全部角色"
SCOPE_READ_ONLY = "只读"
SCOPE_ROLES = "角色：{roles}"
EXPIRES_NEVER = "永不过期"
EXPIRES_AT = "{expires_at} 过期"
DAYS_INVALID = "--expires-in-days 必须是 1 到 3650 之间的整数，而不是“{value}”。"
ROLE_AND_READ_ONLY = "--role 与 --read-only 不能同时使用：只读令牌不带任何角色。"
MAX_DAYS = 3650


def parse_days(value: str) -> int:
    days = int(value) if value.isascii() and value.isdigit() and len(value) < 6 else 0
    if not 1 <= days <= MAX_DAYS:
        raise CommandError(_(DAYS_INVALID).format(value=value[:20]))
    return days


class Command(BaseCommand):
    help = "为用户签发一个 API 令牌并打印一次；库中只保存其哈希。可限定角色（或只读）和有效期。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="用户名")
        parser.add_argument("--name", default="", help="令牌的名称，便于辨认（如“合作方A同步”）")
        parser.add_argument(
            "--role",
            action="append",
            choices=[role.value for role in Role],
            default=None,
            help="令牌带有的角色，须是用户已有的角色；可重复。不指定则带用户的全部角色。",
        )
        parser.add_argument(
            "--read-only", action="store_true", help="只读令牌：不带任何角色，不能写（给合作方）"
        )
        parser.add_argument(
            "--expires-in-days", metavar="N", help="令牌在 N 天后过期（1–3650）；不指定则永不过期"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        roles: list[str] | None = options["role"]
        if options["read_only"]:
            if roles:
                raise CommandError(_(ROLE_AND_READ_ONLY))
            roles = []
        expires_at = None
        if options["expires_in_days"] is not None:
            expires_at = timezone.now() + timedelta(days=parse_days(options["expires_in_days"]))
        try:
            record, token = api_token_issue(
                actor=SYSTEM,
                username=options["username"],
                name=options["name"],
                roles=roles,
                expires_at=expires_at,
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        if record.roles is None:
            scope = _(SCOPE_ALL)
        elif not record.roles:
            scope = _(SCOPE_READ_ONLY)
        else:
            scope = _(SCOPE_ROLES).format(roles=", ".join(record.roles))
        expiry = (
            _(EXPIRES_AT).format(expires_at=timezone.localtime(record.expires_at).strftime("%Y-%m-%d %H:%M"))
            if record.expires_at
            else _(EXPIRES_NEVER)
        )
        self.stderr.write(
            _(TOKEN_ISSUED).format(
                username=options["username"], prefix=record.prefix, scope=scope, expiry=expiry
            )
        )
        # The token alone on stdout, so `TOKEN=$(rulecenter issue_token alice)` works.
        self.stdout.write(token)
