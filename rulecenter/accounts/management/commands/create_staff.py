import getpass
import os
import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from rulecenter.accounts.models import Role
from rulecenter.accounts.services import roles_clean, staff_create
from rulecenter.common.actors import SYSTEM

from .create_member import error_text

PASSWORD_PROMPT = "密码："  # noqa: S105 - a prompt
PASSWORD_AGAIN_PROMPT = "再次输入密码："  # noqa: S105 - a prompt
PASSWORDS_DIFFER = "两次输入的密码不一致。"
PASSWORD_UNAVAILABLE = "没有密码：请设置环境变量 RULECENTER_STAFF_PASSWORD，或在终端中运行以便输入密码。"  # noqa: S105 - a message
STAFF_CREATED = "已创建后台人员“{username}”，角色：{roles}。可用此用户名和密码登录 /admin/。"


class Command(BaseCommand):
    help = "创建一个后台人员账户（可登录 /admin/），并赋予编辑、审核、发布中的一个或多个角色。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="用户名")
        parser.add_argument(
            "--role",
            action="append",
            required=True,
            choices=[role.value for role in Role],
            help="角色：editor（编辑）、reviewer（审核）、publisher（发布）；可重复，至少一个",
        )

    def password(self) -> str:
        """From RULECENTER_STAFF_PASSWORD, else typed twice at a terminal; never from a pipe or an argument."""
        from_environment = os.environ.get("RULECENTER_STAFF_PASSWORD")
        if from_environment:
            return from_environment
        if not sys.stdin.isatty():
            raise CommandError(_(PASSWORD_UNAVAILABLE))
        first = getpass.getpass(_(PASSWORD_PROMPT))
        if first != getpass.getpass(_(PASSWORD_AGAIN_PROMPT)):
            raise CommandError(_(PASSWORDS_DIFFER))
        return first

    def handle(self, *args: Any, **options: Any) -> None:
        password = self.password()
        try:
            user = staff_create(
                actor=SYSTEM, username=options["username"], password=password, roles=options["role"]
            )
        except ValidationError as error:
            raise CommandError(error_text(error)) from error
        wanted = roles_clean(options["role"])
        roles = _("、").join(str(role.label) for role in Role if role.value in wanted)
        self.stdout.write(_(STAFF_CREATED).format(username=user.get_username(), roles=roles))
