"""Fan-out of one event to many webhook endpoints, beside the raw send rate to the same sink, in one run.

    .venv/bin/python -m bench.notifications                 # 10,000 endpoints, figures into docs/notifications.md
    .venv/bin/python -m bench.notifications --endpoints 2000 --no-write

1. builds a fresh SQLite database (var/bench-notifications/) with `--endpoints` webhook subscriptions to
   "all", each its own path on one local sink (a threaded HTTP server in this process answering 204 and
   counting requests by `webhook-id`);
2. the raw rate: the same number of signed POSTs of the same body, sent one after another by one client;
3. the fan-out: one event recorded as a change would record it, then the production worker
   (`rulecenter db_worker`, one process) until every endpoint has it: deliveries per second, the worker's
   CPU per delivery and its peak memory (VmHWM), none lost, repeats counted;
4. the crash test: another event; the worker is SIGKILLed after a third of the deliveries and started
   again; every endpoint must get the event (none lost) — an attempt cut by the kill is made again after
   its lease, with the same `webhook-id`, which receivers drop as a repeat (counted).
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench-notifications"
DOC = ROOT / "docs" / "notifications.md"
START = "<!-- bench:notifications:start -->"
END = "<!-- bench:notifications:end -->"
TIMEOUT_SECONDS = "2"  # the lease after a kill is this plus 30 s


class Sink:
    def __init__(self) -> None:
        self.ids: Counter[str] = Counter()
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                with sink.lock:
                    sink.ids[self.headers.get("webhook-id", "")] += 1
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self, prefix: set[str] | None = None) -> tuple[int, int]:
        """(distinct ids received, requests that repeated an id)."""
        with self.lock:
            counts = [n for key, n in self.ids.items() if prefix is None or key in prefix]
        return len(counts), sum(n - 1 for n in counts)


def env() -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{VAR / 'bench.sqlite3'}",
        "RULECENTER_VAR_DIR": str(VAR),
        "RULECENTER_WEBHOOK_ALLOW_PRIVATE": "1",
        "RULECENTER_WEBHOOK_TIMEOUT_SECONDS": TIMEOUT_SECONDS,
    }


def setup_django() -> None:
    os.environ.update(env())
    import django

    django.setup()


def prepare(endpoints: int, port: int) -> None:
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from rulecenter.notifications import signing
    from rulecenter.notifications.models import Subscription

    call_command("migrate", verbosity=0)
    owner = User.objects.create_user("bench-partner")
    Subscription.objects.bulk_create(
        (
            Subscription(
                owner=owner,
                channel="webhook",
                target=f"http://127.0.0.1:{port}/hook/{n}",
                topic="all",
                frequency="immediate",
                secret=signing.secret_new(),
            )
            for n in range(endpoints)
        ),
        batch_size=2000,
    )


def raw_rate(endpoints: int, port: int) -> float:
    """Signed POSTs of an event's body, one after another by one client: the sink's ceiling."""
    import httpx

    from rulecenter.notifications import signing

    secret = signing.secret_new()
    body = b'{"type":"announcement.published","timestamp":"2026-12-06T12:00:00+00:00","data":{"title":"x"}}'
    with httpx.Client(timeout=5) as client:
        started = time.perf_counter()
        for n in range(endpoints):
            message_id = signing.message_id_new()
            headers = signing.headers(
                secret=secret, message_id=message_id, timestamp=int(time.time()), body=body
            )
            client.post(f"http://127.0.0.1:{port}/raw/{n}", content=body, headers=headers)
        return endpoints / (time.perf_counter() - started)


def record_event(title: str) -> set[str]:
    """An event as the change hook writes it; the ids of its deliveries once fanned out (filled later)."""
    from django.db import transaction

    from rulecenter.notifications import services

    with transaction.atomic():
        event = services.event_record(type="announcement.published", topics=[], data={"title": title})
    return {str(event.pk)}


def message_ids(event_id: int) -> set[str]:
    from rulecenter.notifications.models import Delivery

    return set(Delivery.objects.filter(event_id=event_id).values_list("message_id", flat=True))


def worker() -> subprocess.Popen[bytes]:
    log = (VAR / "worker.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "rulecenter", "db_worker", "--no-startup-delay", "--interval", "0.05"],
        env=env(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def cpu_and_peak(pid: int) -> tuple[float, int]:
    """CPU seconds (user + system) and peak resident memory (kB) of a live process."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    peak = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmHWM")
    )
    return (int(stat[11]) + int(stat[12])) / ticks, peak


def wait_for(
    event_id: int, sink: Sink, endpoints: int, *, limit: float, kill_at: int | None = None
) -> dict[str, Any]:
    proc = worker()
    started = time.perf_counter()
    killed = False
    ids: set[str] = set()
    cpu = peak = 0.0
    while time.perf_counter() - started < limit:
        if len(ids) < endpoints:
            ids = message_ids(event_id)
        done, repeats = sink.delivered(ids)
        if kill_at is not None and not killed and done >= kill_at:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed = True
            proc = worker()
        elif done >= endpoints:
            cpu, peak = cpu_and_peak(proc.pid)
            break
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    proc.terminate()
    proc.wait(timeout=30)
    done, repeats = sink.delivered(ids)
    return {
        "seconds": seconds, "delivered": done, "lost": endpoints - done, "repeats": repeats,
        "per_s": done / seconds, "cpu_us": cpu * 1e6 / max(done, 1), "peak_kb": peak,
    }  # fmt: skip


def render(args: argparse.Namespace, raw: float, runs: dict[str, dict[str, Any]]) -> str:
    fan, crash = runs["fan_out"], runs["crash"]
    lines = [
        START,
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `python -m bench.notifications --endpoints "
        f"{args.endpoints}` on {os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite, one "
        "`rulecenter db_worker`; the sink is a threaded HTTP server on loopback answering 204. The load "
        f"average after the run was {os.getloadavg()[0]:.1f}.",
        "",
        "| | figure |",
        "|---|---|",
        f"| raw send rate: signed POSTs one after another, one client | {raw:,.0f} req/s |",
        f"| **fan-out of one event to {args.endpoints:,} endpoints** (from the commit to the last 2xx) | "
        f"**{fan['per_s']:,.0f} deliveries/s** ({fan['seconds']:.1f} s; {fan['per_s'] / raw:.0%} of the raw rate) |",
        f"| worker CPU per delivery; its peak memory | {fan['cpu_us']:,.0f} µs; {fan['peak_kb'] / 1024:,.0f} MB |",
        f"| lost / repeated | {fan['lost']} / {fan['repeats']} |",
        f"| crash test: worker SIGKILLed after {args.endpoints // 3:,} deliveries, then restarted: delivered / "
        f"lost / repeated (same webhook-id) | {crash['delivered']:,} / {crash['lost']} / {crash['repeats']} "
        f"(in {crash['seconds']:.0f} s: an attempt cut by the kill waits for its lease, {TIMEOUT_SECONDS} s + 30 s) |",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=10_000)
    parser.add_argument("--no-write", action="store_true", help="do not write docs/notifications.md")
    args = parser.parse_args()
    VAR.mkdir(parents=True, exist_ok=True)
    for stale in VAR.glob("bench.sqlite3*"):
        stale.unlink()
    sink = Sink()
    setup_django()
    prepare(args.endpoints, sink.port)
    raw = raw_rate(args.endpoints, sink.port)
    print(f"raw: {raw:,.0f} req/s", file=sys.stderr)
    runs = {}
    for name, kill_at in (("fan_out", None), ("crash", args.endpoints // 3)):
        (event_id,) = (int(pk) for pk in record_event(name))
        runs[name] = wait_for(event_id, sink, args.endpoints, limit=600, kill_at=kill_at)
        print(f"{name}: {runs[name]}", file=sys.stderr)
    block = render(args, raw, runs)
    print(block)
    if not args.no_write:
        text = DOC.read_text(encoding="utf-8")
        if START not in text:
            text = text.rstrip() + f"\n\n## Benchmark\n\n{START}\n{END}\n"
        before, rest = text.split(START, 1)
        DOC.write_text(before + block + rest.split(END, 1)[1], encoding="utf-8")


if __name__ == "__main__":
    main()
