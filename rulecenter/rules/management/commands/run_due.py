from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from rulecenter.rules.lifecycle import lifecycle_run_due


class Command(BaseCommand):
    help = (
        "执行所有已到期的规则生命周期事件（公示、生效、缓冲期结束），供 cron 式部署使用；逾期的会补做并报告。"
    )

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        events = lifecycle_run_due(now=now)
        for event in events:
            late = now - event.due_at
            note = f"（逾期 {late}，已补做）" if late.total_seconds() > 60 else ""
            self.stdout.write(f"{event}{note}")
        self.stdout.write(f"共执行 {len(events)} 个到期事件。")
