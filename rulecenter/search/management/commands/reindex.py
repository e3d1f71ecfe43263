import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rulecenter.search import indexer


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}分{seconds % 60:02d}秒" if seconds >= 60 else f"{seconds}秒"


class ProgressBar:
    """One line redrawn in place on a terminal; a line per tenth otherwise (logs, CI)."""

    WIDTH = 30

    def __init__(self, stream: Any, *, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.last_draw = 0.0
        self.last_tenth = -1

    def __call__(self, progress: indexer.BuildProgress) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        fraction = min(1.0, progress.done / progress.total) if progress.total else 1.0
        tenth = int(fraction * 10)
        if self.tty and now - self.last_draw < 0.2 and fraction < 1.0:
            return
        if not self.tty and tenth == self.last_tenth:
            return
        self.last_draw, self.last_tenth = now, tenth
        elapsed = max(now - progress.started, 1e-6)
        rate = progress.done / elapsed
        left = (progress.total - progress.done) / rate if rate else 0.0
        filled = int(fraction * self.WIDTH)
        line = (
            f"重建索引 [{'#' * filled}{'.' * (self.WIDTH - filled)}] {fraction:4.0%} "
            f"{progress.done:,}/{progress.total:,} {rate:,.0f} 条/秒 剩余 {_duration(left)}"
        )
        self.stream.write(f"\r{line}" if self.tty else f"{line}\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")


class Command(BaseCommand):
    help = "从数据库重建本节点的搜索索引（在现用索引旁新建，建好后切换）；中断后再运行会接着建。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--restart", action="store_true", help="丢弃未完成的重建，从头开始（默认接着上次的进度）。"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        bar = ProgressBar(sys.stderr, enabled=options["verbosity"] > 0)
        started = time.monotonic()
        try:
            progress = indexer.rebuild(restart=options["restart"], on_progress=bar)
        except indexer.BuildBusy:
            raise CommandError("另一个进程正在重建本节点的索引，请等它完成。") from None
        finally:
            bar.finish()
        seconds = time.monotonic() - started
        resumed = "（接着上次的进度）" if progress.resumed else ""
        self.stdout.write(
            f"索引 {progress.generation} 已建好{resumed}：{progress.total:,} 条内容，用时 {seconds:.1f} 秒"
            f"（{progress.total / max(seconds, 1e-6):,.0f} 条/秒）。此后的变更由 rulecenter index_worker 应用。"
        )
