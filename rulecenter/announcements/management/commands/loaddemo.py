from typing import Any

from django.core.management.base import BaseCommand

from rulecenter.announcements.demo import load_demo


class Command(BaseCommand):
    help = "加载演示数据（种子列表页的 12 条公告）；可重复运行，已有的不会重复创建。"

    def handle(self, *args: Any, **options: Any) -> None:
        created = load_demo()
        self.stdout.write(f"演示数据：新建 {created} 条公告。" if created else "演示数据已存在，未做改动。")
