import re
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from rulecenter.accounts.models import Member
from rulecenter.accounts.services import member_create
from rulecenter.common.actors import SYSTEM

JOINED_INVALID = "入驻日期“{value}”无效：请按 YYYY-MM-DD 填写一个真实的日期，例如 2025-02-18。"
MEMBER_CREATED = "已创建会员“{username}”（入驻日期 {joined_on:%Y-%m-%d}，{verified}）。"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_joined(value: str) -> date:
    if not _ISO_DATE.fullmatch(value):
        raise CommandError(JOINED_INVALID.format(value=value[:40]))
    try:
        return date.fromisoformat(value)
    except ValueError as error:  # 2025-02-30 has the shape of a date but is none
        raise CommandError(JOINED_INVALID.format(value=value)) from error


def _label(field_name: str) -> str:
    for model in (Member, get_user_model()):
        try:
            field = model._meta.get_field(field_name)
        except FieldDoesNotExist:
            continue
        return str(getattr(field, "verbose_name", field_name))
    return field_name


def error_text(error: ValidationError) -> str:
    """The messages of `error`, each field's prefixed with the field's name: 店铺名称：……"""
    if not hasattr(error, "error_dict"):
        return " ".join(error.messages)
    return " ".join(
        message if field == "__all__" else f"{_label(field)}：{message}"
        for field, messages in error.message_dict.items()
        for message in messages
    )


class Command(BaseCommand):
    help = "创建一个会员（商家）账户：用户及其会员资料。该用户没有密码，不能登录后台。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="用户名")
        parser.add_argument("--verified", action="store_true", help="标记为已认证")
        parser.add_argument("--joined", metavar="YYYY-MM-DD", help="入驻日期，默认今天")
        parser.add_argument("--shop-name", default="", help="店铺名称")

    def handle(self, *args: Any, **options: Any) -> None:
        joined_on = parse_joined(options["joined"]) if options["joined"] is not None else None
        try:
            member = member_create(
                actor=SYSTEM,
                username=options["username"],
                joined_on=joined_on,
                verified=options["verified"],
                shop_name=options["shop_name"],
            )
        except ValidationError as error:
            raise CommandError(error_text(error)) from error
        self.stdout.write(
            MEMBER_CREATED.format(
                username=member.user.get_username(),
                joined_on=member.joined_on,
                verified="已认证" if member.verified else "未认证",
            )
        )
