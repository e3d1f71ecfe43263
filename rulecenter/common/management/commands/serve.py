import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


def _positive_int(value: str) -> int:
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"线程数须为正整数，而不是“{value[:20]}”")
    return int(value)


def _metrics_shared() -> None:
    """Each granian worker is a process of its own: /metrics adds their samples up from files in one folder
    (prometheus-client's multiprocess mode), emptied here so a restart does not count the last run twice."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    folder = Path(settings.VAR_DIR) / "metrics"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


class Command(BaseCommand):
    help = (
        "用生产级服务器 granian 提供服务（HOST、PORT、WEB_WORKERS、WEB_THREADS 环境变量可覆盖）；"
        "任务队列在数据库中时，同时启动一个任务 worker（--no-worker 关闭）。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--workers", default=os.environ.get("WEB_WORKERS", str(os.cpu_count() or 1)))
        parser.add_argument(
            "--threads",
            type=_positive_int,
            # A string default goes through `type` too: a bad WEB_THREADS is refused like a bad --threads.
            default=os.environ.get("WEB_THREADS") or "4",
            help="每个 worker 处理请求的线程数（默认 WEB_THREADS，否则 4）",
        )
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="不启动任务 worker（另行运行 rulecenter db_worker 或 rqworker 时使用）",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
        _metrics_shared()
        server = [
            sys.executable, "-m", "granian", "--interface", "wsgi",
            "--host", options["host"], "--port", str(options["port"]), "--workers", str(options["workers"]),
            # A few threads per process, not granian's hundreds: the work holds the GIL, so more threads only
            # add switching (and each holds its own database connection).
            "--blocking-threads", str(options["threads"]), "--no-ws", "config.wsgi:application",
        ]  # fmt: skip
        uses_db_queue = settings.TASKS["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend"
        if options["no_worker"] or not uses_db_queue:
            self.stdout.write(f"rulecenter: http://{options['host']}:{options['port']}/news/")
            self.stdout.flush()
            os.execv(sys.executable, server)  # noqa: S606 - replaces this process with the server
        # One process group: the lifecycle's transitions run on time beside the pages (make run, small sites).
        worker = subprocess.Popen([sys.executable, "-m", "rulecenter", "db_worker", "--no-startup-delay"])
        web = subprocess.Popen(server)
        self.stdout.write(
            f"rulecenter: http://{options['host']}:{options['port']}/news/ (任务 worker pid {worker.pid})"
        )
        self.stdout.flush()

        def stop(signum: int, _frame: object) -> None:
            for child in (web, worker):
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        code = web.wait()
        stop(signal.SIGTERM, None)
        worker.wait(timeout=30)
        sys.exit(code)
