"""Votes per second through the real HTTP API, beside its two ceilings, on SQLite and PostgreSQL, in one run.

    .venv/bin/python -m bench.votes                 # both databases, figures into docs/consultations.md
    .venv/bin/python -m bench.votes --databases sqlite --no-write

For each database it
1. builds a fresh database (var/bench-votes/votes.sqlite3, or PostgreSQL `rc_consult_bench`) with the
   project's migrations, one open consultation per measurement and 20,000 members with API tokens;
2. measures the storage ceiling: the raw rate of the same rows a vote writes (the INSERT … ON CONFLICT DO
   UPDATE of the standing vote plus the history INSERT), one vote per transaction and 500 per transaction,
   through the bare DB-API connection;
3. starts the production server (granian, WSGI, one worker per core, DEBUG off) and runs wrk against the
   framework's floor — the constant GET page of bench.views, through every middleware — and the
   HTTP ceiling — a constant authenticated POST endpoint on the same server (bearer token lookup, the same
   JSON body parsed and validated, a 201) — and against POST /api/v1/consultations/{id}/votes, rotating
   through the members' tokens, in interleaved rounds; then checks the database: no member with two
   standing votes, and at least as many recorded submissions as wrk counted 2xx answers;
4. runs the crash test: client threads vote (each member's votes in order, each with a unique sequence
   number), one server worker is killed with SIGKILL, later the whole server is killed with SIGKILL and
   restarted; afterwards every vote acknowledged with a 2xx must be in the ledger and each member's standing
   vote must be their last acknowledged one or a later one.

Each measurement is bounded (≤ 20 s). Servers listen on 127.0.0.1:8411 and are stopped at the end. Each
worker runs `WEB_THREADS` threads (4 unless set), as `rulecenter serve` does.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rulecenter.common.actors import SYSTEM

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench-votes"
DOC = ROOT / "docs" / "consultations.md"
HOST = "127.0.0.1"
PORT = 8411
MEMBERS = 20_000
PG_DATABASE = "rc_consult_bench"
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
START = "<!-- bench:votes:start -->"
END = "<!-- bench:votes:end -->"
BATCH = 500

LUA = r"""
local tokens = {}
local counter = 0
ok, bad = 0, 0
local threads = {}
local path = "/"
local method = "POST"

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  path = args[1]
  method = args[3] or "POST"
  for line in io.lines(args[2]) do tokens[#tokens + 1] = line end
  counter = id * 100003
end

function request()
  if method == "GET" then return wrk.format("GET", path) end
  counter = counter + 1
  local token = tokens[(counter % #tokens) + 1]
  local choice = (counter % 3 == 0) and "reevaluate" or "support"
  local body = '{"choice":"' .. choice .. '","reason":"bench reason ' .. counter .. '"}'
  return wrk.format("POST", path, {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 else bad = bad + 1 end
end

function done(summary, latency, requests)
  local total_ok, total_bad = 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_bad = total_bad + thread:get("bad")
  end
  io.write(string.format("STATUS ok=%d bad=%d\n", total_ok, total_bad))
end
"""


# --------------------------------------------------------------------------- inside Django (subprocesses)


def _django() -> None:
    import django

    django.setup()


def prepare(out: Path) -> None:
    """Migrate, then create the consultations, members and tokens the run needs (written to `out`)."""
    _django()
    from datetime import date, timedelta

    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.utils import timezone

    from rulecenter.accounts.models import ApiToken, Member
    from rulecenter.accounts.services import TOKEN_PREFIX, token_hash
    from rulecenter.consultations import services
    from rulecenter.rules import services as rule_services

    call_command("migrate", verbosity=0)
    category = rule_services.rule_category_create(actor=SYSTEM, slug="bench", name="基准")
    rule = rule_services.rule_create(actor=SYSTEM, slug="bench-rule", title="基准测试规则", category=category)
    version = rule_services.rule_version_create(
        actor=SYSTEM, rule=rule, text="第一条 基准测试。\n\n第二条 仅用于压测。"
    )
    now = timezone.now()
    consultations = {
        name: services.consultation_create(
            actor=SYSTEM,
            title=f"基准测试：{name}",
            opens_at=now - timedelta(hours=1),
            closes_at=now + timedelta(days=8),
            versions=[version],
            record_past=True,
        ).pk
        for name in ("http", "crash", "raw")
    }
    users = User.objects.bulk_create(
        (User(username=f"bench{i:06d}", password="!") for i in range(MEMBERS)), batch_size=2000
    )
    members = Member.objects.bulk_create(
        (Member(user=user, joined_on=date(2024, 1, 1), verified=True) for user in users), batch_size=2000
    )
    tokens = [f"{TOKEN_PREFIX}bench{i:06d}{'x' * 32}" for i in range(MEMBERS)]
    # Used "in the future": the once-a-minute last-use write of the token is left out of both endpoints.
    touched = now + timedelta(days=1)
    ApiToken.objects.bulk_create(
        (
            ApiToken(user=user, prefix=token[:10], key_hash=token_hash(token), last_used_at=touched)
            for user, token in zip(users, tokens, strict=True)
        ),
        batch_size=2000,
    )
    (VAR / "tokens.txt").write_text("\n".join(tokens) + "\n")
    out.write_text(
        json.dumps({"consultations": consultations, "members": [m.pk for m in members], "tokens": tokens})
    )


def raw(seconds: float, setup: Path) -> None:
    """The storage ceiling: the rows of a vote written through the bare DB-API connection."""
    _django()
    from django.db import connection
    from django.utils import timezone

    facts = json.loads(setup.read_text())
    consultation = facts["consultations"]["raw"]
    members = facts["members"]
    connection.ensure_connection()
    db = connection.connection
    sqlite = connection.vendor == "sqlite"
    mark = "?" if sqlite else "%s"
    upsert = (
        "INSERT INTO consultations_vote (consultation_id, member_id, choice, reason, cast_at, updated_at) "
        f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark}, {mark}) ON CONFLICT (consultation_id, member_id) "
        "DO UPDATE SET choice = EXCLUDED.choice, reason = EXCLUDED.reason, updated_at = EXCLUDED.updated_at"
    )
    history = (
        "INSERT INTO consultations_votehistory (consultation_id, member_id, choice, reason, cast_at) "
        f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark})"
    )
    begin = "BEGIN IMMEDIATE" if sqlite else "BEGIN"

    def stamp() -> object:
        now = timezone.now()
        return now.isoformat(sep=" ").replace("+00:00", "") if sqlite else now

    def rows(n: int) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        at = stamp()
        votes, records = [], []
        for i in range(n):
            member = members[(rows.counter + i) % len(members)]
            choice = "support" if (rows.counter + i) % 3 else "reevaluate"
            reason = f"raw reason {rows.counter + i}"
            votes.append((consultation, member, choice, reason, at, at))
            records.append((consultation, member, choice, reason, at))
        rows.counter += n
        return votes, records

    rows.counter = 0  # type: ignore[attr-defined]
    cursor = db.cursor()
    result = {}
    for label, size in (("single", 1), ("batched", BATCH)):
        done = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            votes, records = rows(size)
            cursor.execute(begin)
            if size == 1:
                cursor.execute(upsert, votes[0])
                cursor.execute(history, records[0])
            else:
                cursor.executemany(upsert, votes)
                cursor.executemany(history, records)
            cursor.execute("COMMIT")
            done += size
        result[label] = done / (time.perf_counter() - start)
    print(json.dumps(result))


def verify(setup: Path, acked_file: Path | None, wrk_ok: int) -> None:
    """What the database holds after a run: duplicates, lost acknowledged votes, order per member."""
    _django()
    from django.db.models import Count

    from rulecenter.consultations.models import Vote, VoteHistory

    facts = json.loads(setup.read_text())
    name = "crash" if acked_file else "http"
    consultation = facts["consultations"][name]
    votes = Vote.objects.filter(consultation_id=consultation)
    history = VoteHistory.objects.filter(consultation_id=consultation)
    duplicates = votes.values("member_id").annotate(n=Count("id")).filter(n__gt=1).count()
    report: dict[str, object] = {
        "standing": votes.count(),
        "history": history.count(),
        "members_in_history": history.values("member_id").distinct().count(),
        "duplicates": duplicates,
    }
    if acked_file is None:
        report["acked"] = wrk_ok
        report["lost"] = max(0, wrk_ok - int(report["history"]))  # type: ignore[call-overload]
    else:
        acked = json.loads(acked_file.read_text())  # [member_pk, sequence, choice]
        recorded = set(history.values_list("reason", flat=True))
        lost = [entry for entry in acked if f"seq {entry[1]}" not in recorded]
        last_acked: dict[int, int] = {}
        for member, sequence, _choice in acked:
            last_acked[member] = max(last_acked.get(member, -1), sequence)
        standing = dict(votes.values_list("member_id", "reason"))
        stale = [
            member
            for member, sequence in last_acked.items()
            if int(standing.get(member, "seq -1").split()[-1]) < sequence
        ]
        report.update(acked=len(acked), lost=len(lost), stale=len(stale))
    print(json.dumps(report))


# --------------------------------------------------------------------------- the orchestrator


GET_PATH = "/bench/constant/"  # bench.views.constant: the framework's own floor, the same bytes as a page


@dataclass
class DatabaseResult:
    name: str
    raw_single: float = 0.0
    raw_batched: float = 0.0
    get_rps: float = 0.0
    get_cpu_us: float = 0.0
    post_share: float = 0.0
    votes_share: float = 0.0
    post_cpu_share: float = 0.0
    votes_cpu_share: float = 0.0
    get_rounds: list[float] = field(default_factory=list)
    ceiling_rps: float = 0.0
    votes_rps: float = 0.0
    ratio: float = 0.0
    ceiling_cpu_us: float = 0.0
    votes_cpu_us: float = 0.0
    cpu_ratio: float = 0.0
    votes_p99_ms: float = 0.0
    ceiling_rounds: list[float] = field(default_factory=list)
    votes_rounds: list[float] = field(default_factory=list)
    http_check: dict[str, object] = field(default_factory=dict)
    crash: dict[str, object] = field(default_factory=dict)
    errors: int = 0


def env_for(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRANIAN_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="bench.votes_settings",
        DATABASE_URL=database_url,
        DEBUG="0",
        RULECENTER_VAR_DIR=str(VAR / "var"),
        REDIS_URL="",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


def sub(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bench.votes", *args], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"bench.votes {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    lines = done.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def reset_database(name: str) -> str:
    if name == "sqlite":
        VAR.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            (VAR / f"votes.sqlite3{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{VAR / 'votes.sqlite3'}"
    import psycopg

    with psycopg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {PG_DATABASE}")
    return f"postgres://postgres@127.0.0.1:5432/{PG_DATABASE}"


def server_argv(workers: int) -> list[str]:
    return [
        sys.executable, "-m", "granian", "--interface", "wsgi", "--host", HOST, "--port", str(PORT),
        "--workers", str(workers), "--blocking-threads", os.environ.get("WEB_THREADS", "4"), "--no-ws",
        "--respawn-failed-workers", "--respawn-interval", "0.5", "config.wsgi:application",
    ]  # fmt: skip


class Server:
    """granian in its own process group, stopped (or killed) as a group."""

    def __init__(self, env: dict[str, str], workers: int, log: Path) -> None:
        self.env, self.workers, self.log = env, workers, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            server_argv(self.workers), env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited; see {self.log}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                connection = http.client.HTTPConnection(HOST, PORT, timeout=2)
                connection.request("GET", "/api/v1/consultations")
                if connection.getresponse().status == 200 and len(self.worker_pids()) >= self.workers:
                    return
            time.sleep(0.2)
        raise SystemExit(f"server not ready; see {self.log}")

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.proc.pid:  # ppid
                    pids.append(int(stat.parent.name))
        return pids

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == self.proc.pid:  # pgrp
                    total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=15)

    @contextlib.contextmanager
    def running(self) -> Iterator[Server]:
        self.start()
        try:
            yield self
        finally:
            self.kill(signal.SIGTERM)
            self.kill(signal.SIGKILL)


def wrk(
    path: str, *, seconds: int, threads: int, connections: int, server: Server, method: str = "POST"
) -> dict[str, float]:
    script = VAR / "vote.lua"
    script.write_text(LUA)
    argv = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s",
        "-s", str(script), f"http://{HOST}:{PORT}{path}", "--", path, str(VAR / "tokens.txt"), method,
    ]  # fmt: skip
    cpu_before = server.cpu_seconds()
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"wrk failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    out = done.stdout
    cpu = server.cpu_seconds() - cpu_before
    status = re.search(r"STATUS ok=(\d+) bad=(\d+)", out)
    assert status, out
    ok, bad = int(status.group(1)), int(status.group(2))
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)", out, re.M)
    assert p99, out
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = bad + (sum(int(n) for n in socket_errors.groups()) if socket_errors else 0)
    return {
        "rps": ok / seconds,
        "ok": ok,
        "errors": errors,
        "cpu_us": cpu / max(1, ok) * 1e6,
        "p99_ms": p99_ms,
    }


@dataclass
class Acks:
    lock: threading.Lock = field(default_factory=threading.Lock)
    acked: list[tuple[int, int, str]] = field(default_factory=list)
    failures: int = 0


def crash_client(
    path: str,
    tokens: list[str],
    members: list[int],
    *,
    seconds: float,
    threads: int,
    acks: Acks,
    stop: threading.Event,
) -> list[threading.Thread]:
    """Client threads voting until `stop`; member i belongs to thread i % threads, voted on in order."""
    deadline = time.monotonic() + seconds

    def run(index: int) -> None:
        rng = random.Random(index)
        own = list(range(index, len(tokens), threads))
        connection: http.client.HTTPConnection | None = None
        sequence = index
        while time.monotonic() < deadline and not stop.is_set():
            slot = rng.choice(own)
            sequence += threads
            choice = "support" if sequence % 3 else "reevaluate"
            body = json.dumps({"choice": choice, "reason": f"seq {sequence}"})
            headers = {"Authorization": f"Bearer {tokens[slot]}", "Content-Type": "application/json"}
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(HOST, PORT, timeout=5)
                connection.request("POST", path, body, headers)
                response = connection.getresponse()
                response.read()
                if 200 <= response.status < 300:
                    with acks.lock:
                        acks.acked.append((members[slot], sequence, choice))
                    continue
            except (OSError, http.client.HTTPException):
                connection = None
            with acks.lock:
                acks.failures += 1
            time.sleep(0.05)

    workers = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    return workers


def run_database(name: str, args: argparse.Namespace) -> DatabaseResult:
    result = DatabaseResult(name=name)
    print(f"[{name}] preparing a fresh database …", flush=True)
    env = env_for(reset_database(name))
    setup_file = VAR / f"setup-{name}.json"
    sub(env, "_prepare", str(setup_file))
    facts = json.loads(setup_file.read_text())

    raw_figures = json.loads(sub(env, "_raw", str(args.raw_seconds), str(setup_file)))
    result.raw_single, result.raw_batched = raw_figures["single"], raw_figures["batched"]
    print(
        f"[{name}] raw rows: {result.raw_single:,.0f} votes/s single, {result.raw_batched:,.0f} batched",
        flush=True,
    )

    ceiling_path = "/api/bench/constant-vote"
    votes_path = f"/api/v1/consultations/{facts['consultations']['http']}/votes"
    log = VAR / f"server-{name}.log"
    log.unlink(missing_ok=True)
    server = Server(env, args.workers, log)
    with server.running():
        for path in (GET_PATH, ceiling_path, votes_path):  # warm every worker's connection and caches
            method = "GET" if path == GET_PATH else "POST"
            wrk(
                path,
                seconds=2,
                threads=args.threads,
                connections=args.connections,
                server=server,
                method=method,
            )
        ceiling_cpu, votes_cpu, ratios, cpu_ratios, p99s = [], [], [], [], []
        get_cpu, post_shares, votes_shares = [], [], []
        ok_total = 0
        for _ in range(args.rounds):
            page = wrk(
                GET_PATH,
                seconds=args.seconds,
                threads=args.threads,
                connections=args.connections,
                server=server,
                method="GET",
            )
            ceiling = wrk(
                ceiling_path,
                seconds=args.seconds,
                threads=args.threads,
                connections=args.connections,
                server=server,
            )
            votes = wrk(
                votes_path,
                seconds=args.seconds,
                threads=args.threads,
                connections=args.connections,
                server=server,
            )
            result.get_rounds.append(page["rps"])
            get_cpu.append(page["cpu_us"])
            post_shares.append(ceiling["rps"] / page["rps"])
            votes_shares.append(votes["rps"] / page["rps"])
            result.ceiling_rounds.append(ceiling["rps"])
            result.votes_rounds.append(votes["rps"])
            ratios.append(votes["rps"] / ceiling["rps"])
            ceiling_cpu.append(ceiling["cpu_us"])
            votes_cpu.append(votes["cpu_us"])
            cpu_ratios.append(ceiling["cpu_us"] / votes["cpu_us"])
            p99s.append(votes["p99_ms"])
            result.errors += int(page["errors"] + ceiling["errors"] + votes["errors"])
            ok_total += int(votes["ok"])
        warm_ok = 0  # the warm-up's votes are in the ledger too; the check below only needs "at least"
        result.ceiling_rps = statistics.median(result.ceiling_rounds)
        result.votes_rps = statistics.median(result.votes_rounds)
        result.ratio = statistics.median(ratios)
        result.ceiling_cpu_us = statistics.median(ceiling_cpu)
        result.votes_cpu_us = statistics.median(votes_cpu)
        result.cpu_ratio = statistics.median(cpu_ratios)
        result.votes_p99_ms = statistics.median(p99s)
        result.get_rps = statistics.median(result.get_rounds)
        result.get_cpu_us = statistics.median(get_cpu)
        result.post_share = statistics.median(post_shares)
        result.votes_share = statistics.median(votes_shares)
        result.post_cpu_share = result.get_cpu_us / result.ceiling_cpu_us
        result.votes_cpu_share = result.get_cpu_us / result.votes_cpu_us
        print(
            f"[{name}] constant GET {result.get_rps:,.0f} req/s ({result.get_cpu_us:,.0f} µs CPU): constant POST "
            f"{result.post_share:.0%} of it, votes {result.votes_share:.0%}",
            flush=True,
        )
        print(
            f"[{name}] HTTP ceiling {result.ceiling_rps:,.0f} req/s, votes {result.votes_rps:,.0f}/s "
            f"(×{result.ratio:.2f}; CPU per request ×{result.cpu_ratio:.2f}), errors {result.errors}",
            flush=True,
        )
    result.http_check = json.loads(sub(env, "_verify", str(setup_file), "-", str(ok_total + warm_ok)))
    print(f"[{name}] after the HTTP runs: {result.http_check}", flush=True)

    # The crash test: one worker SIGKILLed, then the whole server SIGKILLed and restarted, mid-run.
    acks, stop = Acks(), threading.Event()
    crash_path = f"/api/v1/consultations/{facts['consultations']['crash']}/votes"
    tokens, members = facts["tokens"][:2000], facts["members"][:2000]
    server = Server(env, args.workers, log)
    server.start()
    try:
        clients = crash_client(
            crash_path,
            tokens,
            members,
            seconds=args.crash_seconds,
            threads=args.connections,
            acks=acks,
            stop=stop,
        )
        time.sleep(args.crash_seconds * 0.25)
        victim = server.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        print(f"[{name}] SIGKILL worker {victim} after {len(acks.acked)} acknowledged votes", flush=True)
        time.sleep(args.crash_seconds * 0.3)
        before = len(acks.acked)
        server.kill(signal.SIGKILL)
        print(f"[{name}] SIGKILL the whole server after {before} acknowledged votes; restarting", flush=True)
        server.start()
        for client in clients:
            client.join(timeout=args.crash_seconds + 10)
    finally:
        stop.set()
        server.kill(signal.SIGTERM)
        server.kill(signal.SIGKILL)
    acked_file = VAR / f"acked-{name}.json"
    acked_file.write_text(json.dumps(acks.acked))
    result.crash = json.loads(sub(env, "_verify", str(setup_file), str(acked_file), "0"))
    result.crash["failed_requests"] = acks.failures
    print(f"[{name}] crash test: {result.crash}", flush=True)
    return result


def machine_facts(args: argparse.Namespace) -> dict[str, str]:
    from importlib.metadata import version

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "django": version("django"),
        "granian": version("granian"),
        "wrk": wrk_version.split("[")[0].strip(),
        "load": f"wrk -t{args.threads} -c{args.connections}, {args.rounds} × {args.seconds} s per endpoint, interleaved",
        "loadavg": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
    }


def render(results: list[DatabaseResult], facts: dict[str, str]) -> str:
    lines = [
        START,
        f"Measured {facts['date']} on {facts['cpu']} (shared with other work); Python {facts['python']}, "
        f"Django {facts['django']}, granian {facts['granian']} (WSGI, {os.cpu_count()} workers, DEBUG off); "
        f"{facts['wrk']}, {facts['load']}. Load average at the end (1 / 5 / 15 min): {facts['loadavg']} — "
        "other work shared the machine, so req/s moved between rounds; the ratios are taken round by round "
        "and the CPU time per request is the steadier figure. Regenerate with `.venv/bin/python -m bench.votes`.",
        "",
        "| | SQLite (WAL) | PostgreSQL |" if len(results) == 2 else f"| | {results[0].name} |",
        "|---|" + "---|" * len(results),
    ]

    def row(label: str, values: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    row(
        "storage ceiling: raw rows of a vote, 1 per transaction",
        [f"{r.raw_single:,.0f} votes/s" for r in results],
    )
    row(
        f"storage ceiling: raw rows of a vote, {BATCH} per transaction",
        [f"{r.raw_batched:,.0f} votes/s" for r in results],
    )
    row("the framework's floor: constant GET page", [f"{r.get_rps:,.0f} req/s" for r in results])
    row("HTTP ceiling: constant authenticated POST", [f"{r.ceiling_rps:,.0f} req/s" for r in results])
    row(
        "**votes through the API** (`POST /api/v1/consultations/{id}/votes`)",
        [f"**{r.votes_rps:,.0f} votes/s**" for r in results],
    )
    row("votes ÷ HTTP ceiling (req/s, median of rounds)", [f"{r.ratio:.0%}" for r in results])
    row("votes ÷ HTTP ceiling (server CPU per request)", [f"{r.cpu_ratio:.0%}" for r in results])
    row(
        "server CPU per request: ceiling → vote",
        [f"{r.ceiling_cpu_us:,.0f} → {r.votes_cpu_us:,.0f} µs" for r in results],
    )
    row(
        "**constant authenticated POST ÷ constant GET** (req/s, median of rounds; target ≥ 70%)",
        [f"**{r.post_share:.0%}**" for r in results],
    )
    row(
        "**votes ÷ constant GET** (req/s, median of rounds; target ≥ 40%)",
        [f"**{r.votes_share:.0%}**" for r in results],
    )
    row(
        "÷ constant GET by server CPU per request: POST / votes",
        [f"{r.post_cpu_share:.0%} / {r.votes_cpu_share:.0%}" for r in results],
    )
    row(
        "server CPU per request: GET → POST → vote",
        [f"{r.get_cpu_us:,.0f} → {r.ceiling_cpu_us:,.0f} → {r.votes_cpu_us:,.0f} µs" for r in results],
    )
    row("vote latency p99 under load", [f"{r.votes_p99_ms:.1f} ms" for r in results])
    row("rounds (ceiling / votes, req/s)", [
        " ".join(f"{x:,.0f}" for x in r.ceiling_rounds) + " / " + " ".join(f"{x:,.0f}" for x in r.votes_rounds)
        for r in results
    ])  # fmt: skip
    row("non-2xx or socket errors", [str(r.errors) for r in results])
    row(
        "after the HTTP runs: 2xx answers / submissions recorded / members with two standing votes",
        [
            f"{r.http_check['acked']:,} / {r.http_check['history']:,} / {r.http_check['duplicates']}"
            for r in results
        ],  # type: ignore[str-format]
    )
    row(
        "crash test (a worker, then the whole server, SIGKILLed): votes acknowledged / lost / stale / duplicated",
        [
            f"{r.crash['acked']:,} / {r.crash['lost']} / {r.crash['stale']} / {r.crash['duplicates']}"
            for r in results
        ],  # type: ignore[str-format]
    )
    row(
        "crash test: requests that failed while the server was down (never acknowledged)",
        [str(r.crash["failed_requests"]) for r in results],
    )
    lines += ["", END]
    return "\n".join(lines)


def write_doc(block: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    if START in text and END in text:
        text = text[: text.index(START)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text, encoding="utf-8")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        command, rest = sys.argv[1], sys.argv[2:]
        if command == "_prepare":
            prepare(Path(rest[0]))
        elif command == "_raw":
            raw(float(rest[0]), Path(rest[1]))
        elif command == "_verify":
            verify(Path(rest[0]), None if rest[1] == "-" else Path(rest[1]), int(rest[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--databases", default="sqlite,postgres", help="sqlite, postgres or both (default)")
    parser.add_argument("--seconds", type=int, default=5, help="each wrk measurement (default 5, at most 20)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per endpoint (default 3)")
    parser.add_argument(
        "--raw-seconds", type=float, default=4, help="each raw insert measurement (default 4)"
    )
    parser.add_argument(
        "--crash-seconds", type=float, default=12, help="the crash test's length (default 12)"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--connections", type=int, default=16, help="wrk connections and crash-test clients (16)"
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="granian workers (default: cores)"
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print only; leave docs/consultations.md alone"
    )
    args = parser.parse_args()
    args.seconds = min(args.seconds, 20)
    args.crash_seconds = min(args.crash_seconds, 20)
    VAR.mkdir(parents=True, exist_ok=True)
    results = [run_database(name.strip(), args) for name in args.databases.split(",") if name.strip()]
    block = render(results, machine_facts(args))
    print(block)
    (VAR / "results.json").write_text(json.dumps([asdict(r) for r in results], indent=2))
    if not args.no_write:
        write_doc(block)
        print(f"written to {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
