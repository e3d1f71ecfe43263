from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from rulecenter.consultations.results import consultation_results_run_due


class Command(BaseCommand):
    help = "为所有已截止、尚未起草结果反馈的意见征集归集意见并起草结果反馈（草稿），供 cron 式部署使用。"

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        closed = consultation_results_run_due(now=now)
        for consultation in closed:
            announcement = consultation.result_announcement
            title = announcement.title if announcement else "-"
            self.stdout.write(f"《{consultation.title}》已截止：结果反馈草稿“{title}”待编辑发布。")
        self.stdout.write(f"共处理 {len(closed)} 个已截止的意见征集。")
