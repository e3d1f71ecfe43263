from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from rulecenter.common.actors import SYSTEM
from rulecenter.ingest import listing, services

from .extract import read_input


class Command(BaseCommand):
    help = (
        "把抓取到的新闻列表页（种子文件的格式）导入为已发布的公告，并识别每条的公示/生效日期、意见征集期和规则名称。"
        "可重复运行：内容未变的跳过，摘要变了的更新并保留旧文本。所有文件在一个事务里导入，出错则什么都不写。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help="列表页文本文件；- 读标准输入")
        parser.add_argument("--source", default="", help="来源频道名；默认取列表页链接中最常见的域名")
        parser.add_argument("--encoding", default="utf-8", help="文件编码，默认 utf-8（如 gbk）")
        parser.add_argument(
            "--dry-run", action="store_true", help="只报告会导入、更新、跳过多少条，不写数据库"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        pages = []
        for path in options["files"]:
            data, name = read_input(path)
            try:
                pages.append(listing.read(data, name=name, encoding=options["encoding"]))
            except listing.ListingError as error:
                raise CommandError(str(error)) from None
        try:
            report = services.listing_import(
                actor=SYSTEM,
                pages=pages,
                source=options["source"].strip() or None,
                dry_run=options["dry_run"],
            )
        except (services.IngestError, ValidationError) as error:
            message = "；".join(error.messages) if isinstance(error, ValidationError) else str(error)
            raise CommandError(message) from None
        self.stdout.write(report.summary())
