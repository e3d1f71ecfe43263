"""Fan-out of one event to many e-mail subscribers and webhook endpoints, beside the raw send rate to the
same local sinks, in one run (issue 13).

    .venv/bin/python -m bench.notifications          # 100,000 addresses + 10,000 endpoints, into docs/notifications.md
    .venv/bin/python -m bench.notifications --emails 2000 --endpoints 500 --no-write
    .venv/bin/python -m bench.notifications --workers 2 --emails 2000 --endpoints 500 --no-write
    .venv/bin/python -m bench.notifications --emails 2000 --endpoints 500 --profile   # the worker under cProfile

1. builds a fresh SQLite database (var/bench-notifications/) with `--emails` confirmed, immediate, zh-hans
   e-mail subscriptions (distinct addresses) and `--endpoints` webhook subscriptions (each its own path),
   a tenth of each (`--small-share`) to topic `all`, the rest to `category:bench-rest`; kept as a template
   every phase starts from, so no phase inherits another's queue;
2. starts the sinks, each in a process of its own (bench/notification_sinks.py): an aiosmtpd SMTP server
   counting `Message-ID`s per recipient and a threaded HTTP server answering 204, counting `webhook-id`s
   per path;
3. the raw rates: the same rendered e-mail sent over one `smtplib.SMTP` connection, one message after
   another (as many as `--emails`, or `--raw-emails`), and signed POSTs of an event's body by one client;
4. the fan-out at two sizes — an event on `all` only (`--small-share` of the subscribers) and one on
   `category:bench-rest` (all of them) — from the commit of the event to the last delivery, with the
   production worker (`rulecenter db_worker`, `--workers` processes) pointed at the sinks by EMAIL_HOST /
   EMAIL_PORT: deliveries per second per channel and together, the worker's CPU per delivery, its peak
   memory (VmHWM) at both sizes, none lost, repeats counted; after the full-size one, the lease safety
   nets still queued (one task per attempt, due 32 s after it, a no-op if the attempt was recorded) are
   left to run, and their CPU is counted apart — in a fan-out longer than 32 s the worker takes them, once
   due, before the batches still waiting (the queue runs dated tasks first), so they slow the fan-out too;
5. the crash test: the full-size event again; the workers are SIGKILLed after a third of the deliveries and
   started again; every subscriber must get the event. A send cut by the kill is made again after its lease
   with the same Message-ID / webhook-id (at least once: counted as a same-id repeat); a second message
   with another id to the same subscriber is a duplicate (must be 0); a subscriber never reached is a loss.
"""

from __future__ import annotations

import argparse
import email.policy
import http.client
import json
import os
import platform
import pstats
import signal
import smtplib
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench-notifications"
DB = VAR / "bench.sqlite3"
TEMPLATE = VAR / "template.sqlite3"
DOC = ROOT / "docs" / "notifications.md"
START = "<!-- bench:notifications:start -->"
END = "<!-- bench:notifications:end -->"
TIMEOUT_SECONDS = "2"  # webhook and SMTP timeouts: the lease after a kill is this plus 30 s
TOPIC_REST = "category:bench-rest"
SITE = "https://rules.example.com"
POLL = 0.1  # how often the sinks are asked how far the fan-out is


class Sink:
    """A sink process (bench/notification_sinks.py) and its control port."""

    def __init__(self, kind: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.notification_sinks", kind],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=(VAR / f"sink-{kind}.log").open("wb"),
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the {kind} sink did not start: see {VAR / f'sink-{kind}.log'}")
        self.ports: dict[str, int] = json.loads(line)
        self.control: http.client.HTTPConnection | None = None

    def _call(self, method: str, path: str) -> Any:
        """One request on a kept-alive connection (a new one per poll would cost the sink a thread each)."""
        for attempt in range(2):
            try:
                if self.control is None:
                    self.control = http.client.HTTPConnection("127.0.0.1", self.ports["control"], timeout=60)
                self.control.request(method, path, body=b"" if method == "POST" else None)
                body = self.control.getresponse().read()
                return json.loads(body) if body else None
            except (http.client.HTTPException, OSError):
                self.control = None
                if attempt:
                    raise
        return None

    def stats(self) -> dict[str, int]:
        return dict(self._call("GET", "/_stats"))

    def received(self) -> dict[str, dict[str, int]]:
        return dict(self._call("GET", "/_received"))

    def reset(self) -> None:
        self._call("POST", "/_reset")

    def cpu(self) -> float:
        return proc_figures(self.proc.pid)[0]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def env(smtp_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{DB}",
        "RULECENTER_VAR_DIR": str(VAR),
        "RULECENTER_SITE_URL": SITE,
        "RULECENTER_WEBHOOK_ALLOW_PRIVATE": "1",
        "RULECENTER_WEBHOOK_TIMEOUT_SECONDS": TIMEOUT_SECONDS,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_TIMEOUT": TIMEOUT_SECONDS,
        "EMAIL_USE_TLS": "0",
        "EMAIL_USE_SSL": "0",
    }


def setup_django(smtp_port: int) -> None:
    os.environ.update(env(smtp_port))
    import django

    django.setup()


def address(n: int) -> str:
    return f"subscriber{n:06d}@shop{n % 97}.example"


def hook_path(n: int) -> str:
    return f"/hook/{n}"


def prepare(emails: int, endpoints: int, small_share: float, http_port: int) -> None:
    """The database every phase starts from: the subscriptions, no event, an empty queue."""
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from rulecenter.notifications import signing
    from rulecenter.notifications.models import Subscription

    for pattern in ("*.sqlite3*", "worker-*.log", "worker-*.prof"):
        for stale in VAR.glob(pattern):
            stale.unlink()
    call_command("migrate", verbosity=0)
    owner = User.objects.create_user("bench-partner")
    now = timezone.now()
    small_emails, small_endpoints = round(emails * small_share), round(endpoints * small_share)
    Subscription.objects.bulk_create(
        (
            Subscription(
                owner=None,
                channel="email",
                target=address(n),
                topic="all" if n < small_emails else TOPIC_REST,
                frequency="immediate",
                language="zh-hans",
                confirmed_at=now,
            )
            for n in range(emails)
        ),
        batch_size=2000,
    )
    Subscription.objects.bulk_create(
        (
            Subscription(
                owner=owner,
                channel="webhook",
                target=f"http://127.0.0.1:{http_port}{hook_path(n)}",
                topic="all" if n < small_endpoints else TOPIC_REST,
                frequency="immediate",
                secret=signing.secret_new(),
                confirmed_at=now,
            )
            for n in range(endpoints)
        ),
        batch_size=2000,
    )
    connection.close()
    with sqlite3.connect(DB) as source, sqlite3.connect(TEMPLATE) as copy:
        source.backup(copy)


def restore() -> None:
    """Back to the template: the subscriptions, no event, an empty queue."""
    from django.db import connections

    connections.close_all()
    for path in (DB, DB.with_name(DB.name + "-wal"), DB.with_name(DB.name + "-shm")):
        path.unlink(missing_ok=True)
    with sqlite3.connect(TEMPLATE) as source, sqlite3.connect(DB) as copy:
        source.backup(copy)


EVENT_DATA = {
    "id": 1,
    "title": "关于调整《商品发布规范》中食品类目资质要求的公告",
    "kind": "notice",
    "category": "bench-rest",
    "published_at": "2026-12-06T12:00:00+08:00",
    "url": f"{SITE}/news/1/",
}


def raw_email(count: int, smtp_port: int) -> float:
    """The same rendered message, sent over one SMTP connection one after another: the sink's ceiling."""
    from django.conf import settings

    from rulecenter.notifications import mail, signing
    from rulecenter.notifications.models import Event, Subscription

    subscription = Subscription.objects.filter(channel="email").order_by("pk").first()
    assert subscription is not None
    event = Event(
        type="announcement.published",
        topics=["all", TOPIC_REST],
        data=EVENT_DATA,
        occurred_at=datetime.now(UTC),
    )
    message = mail.event_message(subscription, event, signing.message_id_new())
    body = message.message(policy=email.policy.SMTP).as_bytes()
    sender = settings.DEFAULT_FROM_EMAIL.rpartition("<")[2].rstrip(">")
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
        started = time.perf_counter()
        for n in range(count):
            smtp.sendmail(sender, [f"raw{n}@raw.example"], body)
        return count / (time.perf_counter() - started)


def raw_webhook(count: int, http_port: int) -> float:
    """Signed POSTs of an event's body, one after another by one client: the sink's ceiling."""
    import httpx

    from rulecenter.notifications import signing

    secret = signing.secret_new()
    body = json.dumps(
        {"type": "announcement.published", "timestamp": "2026-12-06T12:00:00+00:00", "data": EVENT_DATA},
        ensure_ascii=False, separators=(",", ":"),
    ).encode()  # fmt: skip
    with httpx.Client(timeout=5) as client:
        started = time.perf_counter()
        for n in range(count):
            message_id = signing.message_id_new()
            headers = signing.headers(
                secret=secret, message_id=message_id, timestamp=int(time.time()), body=body
            )
            client.post(f"http://127.0.0.1:{http_port}/raw/{n}", content=body, headers=headers)
        return count / (time.perf_counter() - started)


def record_event(topics: list[str]) -> int:
    """An event as the change hook writes it (its fan-out queued when the transaction commits)."""
    from django.db import transaction

    from rulecenter.notifications import services

    with transaction.atomic():
        event = services.event_record(type="announcement.published", topics=topics, data=EVENT_DATA)
    assert event is not None
    return int(event.pk)


def proc_figures(pid: int) -> tuple[float, int]:
    """CPU seconds (user + system) and peak resident memory (kB) of a live process."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    peak = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmHWM")
    )
    return (int(stat[11]) + int(stat[12])) / ticks, peak


@dataclass
class Worker:
    """One `rulecenter db_worker` process, as production runs it."""

    worker_id: str
    smtp_port: int
    profile: Path | None = None
    proc: subprocess.Popen[bytes] = field(init=False)
    log: Path = field(init=False)
    cpu_start: float = 0.0
    cpu: float = 0.0
    peak_kb: int = 0

    def __post_init__(self) -> None:
        self.log = VAR / f"worker-{self.worker_id}.log"
        command = [sys.executable]
        if self.profile is not None:
            command += ["-m", "cProfile", "-o", str(self.profile)]
        command += ["-m", "rulecenter", "db_worker", "--no-startup-delay", "--interval", "0.05"]
        command += ["--worker-id", self.worker_id]
        self.proc = subprocess.Popen(
            command, env=env(self.smtp_port), cwd=ROOT, stdout=self.log.open("wb"), stderr=subprocess.STDOUT
        )

    def wait_ready(self, limit: float = 60) -> None:
        """Until it polls the queue (Django loaded), so the timing starts with a worker in place."""
        started = time.perf_counter()
        while b"Starting worker" not in self.log.read_bytes():
            if self.proc.poll() is not None or time.perf_counter() - started > limit:
                raise SystemExit(f"the worker did not start: see {self.log}")
            time.sleep(POLL)
        self.cpu_start, _peak = proc_figures(self.proc.pid)

    def sample(self) -> None:
        if self.proc.poll() is None:
            self.cpu, self.peak_kb = proc_figures(self.proc.pid)

    @property
    def cpu_used(self) -> float:
        return self.cpu - self.cpu_start

    def kill(self) -> None:
        self.sample()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        self.sample()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def queue() -> dict[str, int]:
    """How many tasks the queue holds, by status (READY: due now or later)."""
    from django.db.models import Count
    from django_tasks_db.models import DBTaskResult

    counts = dict(DBTaskResult.objects.values("status").annotate(n=Count("pk")).values_list("status", "n"))
    return {status: int(counts.get(status, 0)) for status in ("READY", "RUNNING", "SUCCESSFUL", "FAILED")}


def running_of(dead: set[str]) -> list[Any]:
    """Tasks a killed worker had claimed: RUNNING for ever (nothing takes a dead worker's task back)."""
    from django_tasks_db.models import DBTaskResult

    return [
        task
        for task in DBTaskResult.objects.filter(status="RUNNING")
        if task.worker_ids and task.worker_ids[-1] in dead
    ]


@dataclass
class Phase:
    name: str
    topics: list[str]
    emails: set[str]
    paths: set[str]
    kill_at: int | None = None
    drain: bool = False
    profile: bool = False


def run_phase(
    phase: Phase, sinks: dict[str, Sink], workers: int, smtp_port: int, limit: float
) -> dict[str, Any]:
    from django.db.models import Count

    from rulecenter.notifications.models import Delivery

    restore()
    for sink in sinks.values():
        sink.reset()
    generation = 0

    def start() -> list[Worker]:
        started = [
            Worker(
                f"{phase.name}-{generation}-{n}",
                smtp_port,
                VAR / f"worker-{n}.prof" if phase.profile and generation == 0 else None,
            )
            for n in range(workers)
        ]
        for worker in started:
            worker.wait_ready()
        return started

    live = start()
    everyone = list(live)
    expected = {"email": len(phase.emails), "webhook": len(phase.paths)}
    total = sum(expected.values())
    event_id = record_event(phase.topics)
    t0 = time.perf_counter()
    sink_cpu = {kind: sink.cpu() for kind, sink in sinks.items()}
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    killed_ids: set[str] = set()
    killed_at: float | None = None
    progress_at, done, settled = t0, 0, ""
    while True:
        now = time.perf_counter()
        reached = {kind: sinks[kind].stats()["targets"] for kind in expected}
        for kind, n in reached.items():
            if n and kind not in first:
                first[kind] = now
            if n >= expected[kind] and kind not in last:
                last[kind] = now
        if sum(reached.values()) > done:
            done, progress_at = sum(reached.values()), now
        if phase.kill_at is not None and not killed_ids and done >= phase.kill_at:
            for worker in live:
                worker.kill()
                killed_ids.add(worker.worker_id)
            killed_at = now
            generation += 1
            live = [
                Worker(f"{phase.name}-{generation}-{n}", smtp_port) for n in range(workers)
            ]  # no wait: the restart is part of the time
            everyone += live
        if done >= total:
            settled = "delivered"
            break
        if now - progress_at > 3:
            # Nothing new for a while: done for good if no task is left that could still send anything.
            state = queue()
            held = len(running_of(killed_ids)) if killed_ids else 0
            if state["READY"] == 0 and state["RUNNING"] - held == 0:
                settled = "queue empty"
                break
        if now - t0 > limit:
            settled = f"gave up after {limit:.0f} s"
            break
        time.sleep(POLL)
    seconds = time.perf_counter() - t0
    sink_cpu = {kind: sink.cpu() - sink_cpu[kind] for kind, sink in sinks.items()}
    for worker in live:
        worker.sample()
    cpu = sum(worker.cpu_used for worker in everyone)
    peak_kb = max(worker.peak_kb for worker in everyone)

    drained: dict[str, Any] = {}
    if phase.drain and settled == "delivered":
        # The lease safety nets: one task per attempt, due a lease after it; each finds its delivery done.
        leases = queue()["READY"]
        drain_t0 = time.perf_counter()
        while queue()["READY"] and time.perf_counter() - drain_t0 < limit:
            time.sleep(0.5)
        for worker in live:
            worker.sample()
        drained = {
            "tasks": leases,
            "seconds": time.perf_counter() - drain_t0,
            "cpu": sum(worker.cpu_used for worker in everyone) - cpu,
        }
    for worker in live:
        worker.stop()

    deliveries = dict(
        Delivery.objects.filter(event_id=event_id)
        .values("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    ids = set(Delivery.objects.filter(event_id=event_id).values_list("message_id", flat=True))
    checks = {
        "email": check(sinks["email"].received(), phase.emails, ids),
        "webhook": check(sinks["webhook"].received(), phase.paths, ids),
    }
    fan_out = fan_out_task()
    stuck = running_of(killed_ids) if killed_ids else []
    stuck_ids = {pk for task in stuck for pk in task.args_kwargs.get("kwargs", {}).get("delivery_ids", [])}
    held_unsent = Delivery.objects.filter(pk__in=stuck_ids, status="pending").count() if stuck_ids else 0
    result = {
        "name": phase.name, "workers": workers, "expected": expected, "total": total, "seconds": seconds,
        "settled": settled, "done": done, "per_s": done / seconds, "cpu_us": cpu * 1e6 / max(done, 1), "cpu_s": cpu,
        "peak_kb": peak_kb, "checks": checks, "deliveries": deliveries, "fan_out": fan_out,
        "channel_per_s": {
            kind: expected[kind] / max(last[kind] - first[kind], POLL)
            for kind in expected if kind in first and kind in last and expected[kind]
        },
        "channel_done_s": {kind: last[kind] - t0 for kind in last},
        "killed_at_s": None if killed_at is None else killed_at - t0,
        "stuck_tasks": len(stuck), "stuck_unsent": held_unsent, "drained": drained,
        "queue_after": queue(),
        "sink_cpu_us": {
            kind: sink_cpu[kind] * 1e6 / max(checks[kind]["reached"], 1) for kind in sink_cpu if kind in checks
        },
    }  # fmt: skip
    return result


def check(received: dict[str, dict[str, int]], expected: set[str], ids: set[str]) -> dict[str, int]:
    """Losses, repeats and duplicates of one channel, from what the sink received."""
    return {
        "reached": len(expected & received.keys()),
        "lost": len(expected - received.keys()),
        "unexpected": len(received.keys() - expected),
        "repeats_same_id": sum(n - 1 for counts in received.values() for n in counts.values()),
        "duplicates_other_id": sum(1 for counts in received.values() if len(counts) > 1),
        "foreign_ids": sum(
            1 for counts in received.values() for key in counts if key.partition("@")[0] not in ids
        ),
    }


def fan_out_task() -> dict[str, float]:
    """When the event's fan-out task ran: from its enqueueing (the commit) to its end, every delivery written
    and every batch task queued."""
    from django_tasks_db.models import DBTaskResult

    task = DBTaskResult.objects.filter(task_path__endswith=".event_fan_out").order_by("enqueued_at").first()
    if task is None or task.finished_at is None or task.started_at is None:
        return {}
    return {
        "wait_s": (task.started_at - task.enqueued_at).total_seconds(),
        "run_s": (task.finished_at - task.started_at).total_seconds(),
        "created": float(task.return_value or 0),
    }


def print_profile(paths: list[Path]) -> None:
    found = [str(path) for path in paths if path.exists()]
    if not found:
        print("no profile written", file=sys.stderr)
        return
    stats = pstats.Stats(*found, stream=sys.stderr)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(30)


def fmt_mb(kb: int) -> str:
    return f"{kb / 1024:,.0f} MB"


def render(
    args: argparse.Namespace, raw: dict[str, Any], runs: dict[str, dict[str, Any]], load: tuple[float, float]
) -> str:
    from django.conf import settings

    small, full, crash = runs["small"], runs["full"], runs["crash"]
    raw_both = full["total"] / (
        full["expected"]["email"] / raw["email"] + full["expected"]["webhook"] / raw["webhook"]
    )
    rate = full["channel_per_s"]

    def share(value: float, of: float) -> str:
        return f"{value / of:.0%} of raw" if of else "–"

    def losses(run: dict[str, Any], kind: str) -> str:
        c = run["checks"][kind]
        text = f"{c['reached']:,} / {c['lost']} / {c['repeats_same_id']} / {c['duplicates_other_id']}"
        if c["unexpected"] or c["foreign_ids"]:
            text += f" (and {c['unexpected']} not subscribed, {c['foreign_ids']} ids of no delivery)"
        return text

    raw_note = "all" if raw["email_count"] == full["expected"]["email"] else "a sample of"
    fan = full["fan_out"]
    drained = full["drained"]
    drain_line = (
        f"| safety nets still queued at the last delivery (one per batch, due a lease — {TIMEOUT_SECONDS} s + 60 s — "
        f"after it started, and one per event, due 10 min after it; each finds its work done) | | | "
        f"{drained['tasks']:,}, run in the next "
        f"{drained['seconds']:.0f} s, at most {drained['cpu'] * 1e6 / max(drained['tasks'], 1):,.0f} µs of CPU "
        "each (the idle polling while they come due included) |"
        if drained
        else "| lease safety nets | | | not measured (the fan-out did not complete) |"
    )
    all_in = (
        f" / {(full['cpu_s'] + drained['cpu']) * 1e6 / max(full['done'], 1):,.0f} µs" if drained else " / –"
    )
    crash_note = (
        f"workers SIGKILLed at {crash['killed_at_s']:.1f} s, after {args.crash_share:.0%} of the deliveries, and restarted"
        if crash["killed_at_s"] is not None
        else "the kill never came (fewer deliveries than the threshold)"
    )
    stuck = (
        f"; {crash['stuck_tasks']} batch task(s) left RUNNING by the killed worker — nothing takes a dead "
        f"worker's task back — with {crash['stuck_unsent']} deliveries never attempted"
        if crash["stuck_tasks"]
        else ""
    )
    lines = [
        START,
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `python -m bench.notifications --emails {args.emails} "
        f"--endpoints {args.endpoints} --workers {args.workers}` on {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, SQLite, {args.workers} × `rulecenter db_worker`, batches of "
        f"{settings.RULECENTER_DELIVERY_BATCH} (`RULECENTER_DELIVERY_BATCH`); the sinks are local, each in its own process: aiosmtpd accepting every "
        f"message, a threaded HTTP server answering 204. Load average (1 min) before / after: {load[0]:.1f} / {load[1]:.1f}.",
        "",
        "| | e-mail | webhooks | together |",
        "|---|---|---|---|",
        f"| subscribers | {full['expected']['email']:,} | {full['expected']['webhook']:,} | {full['total']:,} |",
        f"| raw send rate: one client, one after another (e-mail: {raw_note} {raw['email_count']:,} sends of the "
        f"same rendered message over one SMTP connection) | {raw['email']:,.0f} msg/s | {raw['webhook']:,.0f} req/s | "
        f"{raw_both:,.0f}/s (time-weighted) |",
        f"| fan-out task: deliveries written, batch tasks queued | | | {fan.get('created', 0):,.0f} in "
        f"{fan.get('run_s', 0):.1f} s ({fan.get('created', 0) / max(fan.get('run_s', 0), 1e-3):,.0f}/s), "
        f"{fan.get('wait_s', 0):.2f} s after the commit |",
        f"| **sending rate** (first to last arrival of the channel) | {rate.get('email', 0):,.0f}/s "
        f"({share(rate.get('email', 0), raw['email'])}) | {rate.get('webhook', 0):,.0f}/s "
        f"({share(rate.get('webhook', 0), raw['webhook'])}) | |",
        f"| **fan-out of one event, from the commit to the last delivery** | "
        f"{full['channel_done_s'].get('email', 0):.1f} s | {full['channel_done_s'].get('webhook', 0):.1f} s | "
        f"**{full['per_s']:,.0f} deliveries/s** ({full['seconds']:.1f} s; {share(full['per_s'], raw_both)}; "
        "target ≥ 50 %) |",
        f"| worker CPU per delivery: until the last delivery / all in, once every lease task has run | | | "
        f"{full['cpu_us']:,.0f} µs{all_in} |",
        f"| the sinks' CPU per message received, raw / during the fan-out | "
        f"{raw['sink_cpu_us']['email']:,.0f} / {full['sink_cpu_us']['email']:,.0f} µs | "
        f"{raw['sink_cpu_us']['webhook']:,.0f} / {full['sink_cpu_us']['webhook']:,.0f} µs | |",
        f"| worker peak memory (VmHWM) at {small['total']:,} / {full['total']:,} subscribers | | | "
        f"{fmt_mb(small['peak_kb'])} / {fmt_mb(full['peak_kb'])} |",
        drain_line,
        f"| reached / lost / same-id repeats / duplicates with another id | {losses(full, 'email')} | "
        f"{losses(full, 'webhook')} | |",
        f"| **crash test** ({crash_note}): reached / lost / same-id repeats / duplicates with another id | "
        f"{losses(crash, 'email')} | {losses(crash, 'webhook')} | in {crash['seconds']:.0f} s ({crash['settled']}{stuck}) |",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=100_000, help="e-mail subscribers (default 100,000)")
    parser.add_argument("--endpoints", type=int, default=10_000, help="webhook endpoints (default 10,000)")
    parser.add_argument("--workers", type=int, default=1, help="db_worker processes (default 1)")
    parser.add_argument(
        "--raw-emails", type=int, default=0, help="raw SMTP sends (default: as many as --emails)"
    )
    parser.add_argument(
        "--small-share", type=float, default=0.1, help="the smaller fan-out's share (default 0.1)"
    )
    parser.add_argument("--crash-share", type=float, default=1 / 3, help="kill the workers after this share")
    parser.add_argument("--timeout", type=float, default=3600, help="give a phase up after this many seconds")
    parser.add_argument(
        "--profile", action="store_true", help="run the full fan-out's workers under cProfile"
    )
    parser.add_argument("--no-write", action="store_true", help="do not write docs/notifications.md")
    args = parser.parse_args()
    if min(args.emails, args.endpoints) * args.small_share < 1 or args.workers < 1:
        parser.error("the smaller fan-out needs at least one subscriber of each channel, and a worker")
    VAR.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    sinks = {"email": Sink("smtp"), "webhook": Sink("webhook")}
    smtp_port, http_port = sinks["email"].ports["smtp"], sinks["webhook"].ports["control"]
    try:
        setup_django(smtp_port)
        prepare(args.emails, args.endpoints, args.small_share, http_port)
        small_n = round(args.emails * args.small_share), round(args.endpoints * args.small_share)
        everyone = {address(n) for n in range(args.emails)}, {hook_path(n) for n in range(args.endpoints)}
        small = {address(n) for n in range(small_n[0])}, {hook_path(n) for n in range(small_n[1])}

        raw_count = min(args.raw_emails or args.emails, args.emails)
        raw: dict[str, Any] = {"email_count": raw_count, "sink_cpu_us": {}}
        for kind, send, count, port in (
            ("email", raw_email, raw_count, smtp_port),
            ("webhook", raw_webhook, args.endpoints, http_port),
        ):
            cpu = sinks[kind].cpu()
            raw[kind] = send(count, port)
            raw["sink_cpu_us"][kind] = (sinks[kind].cpu() - cpu) * 1e6 / max(count, 1)
        print(f"raw: {raw}", file=sys.stderr)

        total = args.emails + args.endpoints
        phases = [
            Phase("small", [], *small),
            Phase("full", [TOPIC_REST], *everyone, drain=True, profile=args.profile),
            Phase("crash", [TOPIC_REST], *everyone, kill_at=max(1, round(total * args.crash_share))),
        ]
        runs = {}
        for phase in phases:
            runs[phase.name] = run_phase(phase, sinks, args.workers, smtp_port, args.timeout)
            print(f"{phase.name}: {runs[phase.name]}", file=sys.stderr)
    finally:
        for sink in sinks.values():
            sink.stop()
    if args.profile:
        print_profile([VAR / f"worker-{n}.prof" for n in range(args.workers)])
    block = render(args, raw, runs, (load_before, os.getloadavg()[0]))
    print(block)
    if args.profile:
        print("(under cProfile: the figures are not written)", file=sys.stderr)
    elif not args.no_write:
        text = DOC.read_text(encoding="utf-8")
        if START not in text:
            text = text.rstrip() + f"\n\n## Benchmark\n\n{START}\n{END}\n"
        before, rest = text.split(START, 1)
        DOC.write_text(before + block + rest.split(END, 1)[1], encoding="utf-8")


if __name__ == "__main__":
    main()
