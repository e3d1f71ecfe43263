from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from rulecenter.accounts.services import api_token_issue
from rulecenter.common.actors import SYSTEM

TOKEN_ISSUED = "已为用户“{username}”签发 API 令牌（前缀 {prefix}）。令牌只显示这一次，请立即妥善保存："  # noqa: S105 - a message, not a secret


class Command(BaseCommand):
    help = "为用户签发一个 API 令牌并打印一次；库中只保存其哈希。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="用户名")
        parser.add_argument("--name", default="", help="令牌的名称，便于辨认（如“合作方A同步”）")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            record, token = api_token_issue(actor=SYSTEM, username=options["username"], name=options["name"])
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stderr.write(TOKEN_ISSUED.format(username=options["username"], prefix=record.prefix))
        # The token alone on stdout, so `TOKEN=$(rulecenter issue_token alice)` works.
        self.stdout.write(token)
