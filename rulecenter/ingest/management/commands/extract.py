import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from rulecenter.ingest.extract import extract
from rulecenter.ingest.listing import ListingError, decode

FILE_MISSING = "找不到文件“{path}”。"
FILE_UNREADABLE = "无法读取“{path}”：{error}"


def read_input(path: str, *, stdin: Any = None) -> tuple[bytes, str]:
    """The bytes of FILE, or of standard input for `-`; (data, the name to show in messages)."""
    if path == "-":
        stream = stdin if stdin is not None else sys.stdin
        return stream.buffer.read(), _("标准输入")
    try:
        return Path(path).read_bytes(), path
    except FileNotFoundError:
        raise CommandError(_(FILE_MISSING).format(path=path)) from None
    except OSError as error:
        raise CommandError(_(FILE_UNREADABLE).format(path=path, error=error.strerror or error)) from None


class Command(BaseCommand):
    help = "读取一篇公告的正文（第一行为标题），输出识别出的类型、公示/生效日期、意见征集期、规则名称和链接（JSON）。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "file", nargs="?", default="-", metavar="FILE", help="公告文本文件；省略或 - 读标准输入"
        )
        parser.add_argument("--encoding", default="utf-8", help="文件编码，默认 utf-8（如 gbk）")

    def handle(self, *args: Any, **options: Any) -> None:
        data, name = read_input(options["file"])
        try:
            text = decode(data, name=name, encoding=options["encoding"])
        except ListingError as error:
            raise CommandError(str(error)) from None
        facts = extract(text)
        self.stdout.write(json.dumps(facts.as_json(), ensure_ascii=False, indent=2))
