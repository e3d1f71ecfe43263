from typing import Any

from django.core.management.base import BaseCommand

from rulecenter.announcements.demo import load_demo
from rulecenter.rules.demo import load_demo_rules


class Command(BaseCommand):
    help = "加载演示数据（种子列表页的 12 条公告和示例规则库）；可重复运行，已有的不会重复创建。"

    def handle(self, *args: Any, **options: Any) -> None:
        created = load_demo()
        self.stdout.write(f"演示数据：新建 {created} 条公告。" if created else "演示公告已存在，未做改动。")
        rules = load_demo_rules()
        self.stdout.write(f"演示数据：新建 {rules} 条规则。" if rules else "演示规则已存在，未做改动。")
