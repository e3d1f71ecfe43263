import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "用生产级服务器 granian 提供服务（HOST、PORT、WEB_WORKERS 环境变量可覆盖）。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--workers", default=os.environ.get("WEB_WORKERS", str(os.cpu_count() or 1)))

    def handle(self, *args: Any, **options: Any) -> None:
        argv = [
            sys.executable, "-m", "granian", "--interface", "wsgi",
            "--host", options["host"], "--port", str(options["port"]), "--workers", str(options["workers"]),
            "--no-ws", "config.wsgi:application",
        ]  # fmt: skip
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
        self.stdout.write(f"rulecenter: http://{options['host']}:{options['port']}/news/")
        self.stdout.flush()
        os.execv(sys.executable, argv)  # noqa: S606 - replaces this process with the server
