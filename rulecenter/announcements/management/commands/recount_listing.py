from typing import Any

from django.core.management.base import BaseCommand

from rulecenter.announcements.services import listing_counters_rebuild


class Command(BaseCommand):
    help = "重新统计新闻列表的条数（批量导入之后运行）。"

    def handle(self, *args: Any, **options: Any) -> None:
        counts = listing_counters_rebuild()
        for scope, count in sorted(counts.items()):
            self.stdout.write(f"{scope}: {count}")
