import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rulecenter.ingest import listing, readers

from .extract import read_input


class Command(BaseCommand):
    help = (
        "读取一个列表页（文本或 HTML，任意常见版式），把找到的每一条打印为 JSON：标题、日期、摘要、链接和来源信息，"
        "以及页脚的条数。不用数据库：谁都可以用它检查读取结果。"
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE", help="列表页文件；- 读标准输入")
        parser.add_argument(
            "--format",
            choices=["auto", "text", "html"],
            default="auto",
            help="文件是文本还是 HTML；默认自动判断",
        )
        parser.add_argument("--encoding", default="utf-8", help="文件编码，默认 utf-8（如 gbk）")
        parser.add_argument(
            "--preset", choices=sorted(readers.PRESETS), help="按预设的 CSS 选择器读取 HTML（不给则自动识别）"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        data, name = read_input(options["file"])
        try:
            text = listing.decode(data, name=name, encoding=options["encoding"])
            spec = readers.PRESETS[options["preset"]] if options["preset"] else None
            page = readers.read_page(text, name=name, kind=options["format"], spec=spec)
        except listing.ListingError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(json.dumps(page.as_json(), ensure_ascii=False, indent=2))
