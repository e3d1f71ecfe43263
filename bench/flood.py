"""Do other users' requests keep succeeding while one client floods? (issue 12) Not a test.

    .venv/bin/python -m bench.flood                    # 20 s per phase
    .venv/bin/python -m bench.flood --seconds 10 --no-unlimited --no-nginx

It builds a fresh SQLite database (var/bench-flood/), starts the production-shaped server (granian, WSGI, one
worker per core with four threads as `rulecenter serve`, DEBUG off, Redis as the cache on db 14, so
django-axes keeps its counts there) and runs legitimate clients (four, each from its own loopback address
127.0.0.1x, one round every 2.5 s: sign in with the right password, search through the API, list
consultations, and every third round vote with its own token) in these phases:

1. quiet: the legitimate clients alone, straight to the application;
2. flood: plus a flooder from 127.0.0.2 (two processes of eight threads each, as fast as they can: wrong
   passwords on one account, re-votes with one token, searches through the page and the API);
3. and 4. nginx, quiet / nginx, flood (skip with --no-nginx): the same two through nginx with the shipped
   front (deploy/nginx/) on 127.0.0.1:8413, the application trusting its X-Forwarded-For;
5. flood, limits off (skip with --no-unlimited): the flood straight to the application with every limit lifted.

The flooder runs niced in a session (autogroup) of its own: it stands for a client on another machine, so
its own CPU is not taken from the server; what refusing it costs the server and nginx is. It prints each
phase's p50/p95 of the legitimate requests, their failures, what the flooder got, and the ratios (the
target: a flood phase's p95 at most twice its quiet one's). Server on 127.0.0.1:8412, stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import re
import signal
import socket
import statistics
import string
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench-flood"
HOST = "127.0.0.1"
PORT = 8412
NGINX_PORT = 8413
REDIS = "redis://127.0.0.1:6379/14"
PASSWORD = "bench-flood-password-1"
LEGIT = [f"127.0.0.{10 + i}" for i in range(4)]
FLOODER = "127.0.0.2"
ROUND_SECONDS = 2.5
VOTE_EVERY = 3  # rounds: RULECENTER_VOTE_RATE (10/min) is for people, a vote every 2.5 s would meet it
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def prepare() -> None:
    """Inside Django: migrate, one open consultation, members with tokens and passwords (written to setup.json)."""
    import django

    django.setup()
    from datetime import date, timedelta

    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.utils import timezone

    from rulecenter.accounts.models import ApiToken, Member
    from rulecenter.accounts.services import TOKEN_PREFIX, token_hash
    from rulecenter.common.actors import SYSTEM
    from rulecenter.consultations import services
    from rulecenter.rules import services as rule_services

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # pages need the manifest
    category = rule_services.rule_category_create(actor=SYSTEM, slug="bench", name="基准")
    rule = rule_services.rule_create(actor=SYSTEM, slug="bench-rule", title="发货规则", category=category)
    version = rule_services.rule_version_create(
        actor=SYSTEM, rule=rule, text="第一条 发货时限。\n\n第二条 赔付。"
    )
    now = timezone.now()
    consultation = services.consultation_create(
        actor=SYSTEM,
        title="基准测试：洪水",
        opens_at=now - timedelta(hours=1),
        closes_at=now + timedelta(days=8),
        versions=[version],
        record_past=True,
    )
    names = [f"legit{i}" for i in range(len(LEGIT))] + ["flooder"]
    tokens = {}
    for name in names:
        user = User.objects.create_user(username=name, password=PASSWORD)
        Member.objects.create(user=user, joined_on=date(2024, 1, 1), verified=True)
        token = f"{TOKEN_PREFIX}{name}{'x' * 32}"
        ApiToken.objects.create(user=user, prefix=token[:10], key_hash=token_hash(token))
        tokens[name] = token
    (VAR / "setup.json").write_text(json.dumps({"consultation": consultation.pk, "tokens": tokens}))


def env_for(*, limits: bool, proxied: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRANIAN_", "DJANGO_", "RULECENTER_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=f"sqlite:///{VAR / 'flood.sqlite3'}",
        DEBUG="0",
        RULECENTER_VAR_DIR=str(VAR / "var"),
        REDIS_URL=REDIS,
        LOG_LEVEL="ERROR",
        PYTHONPATH=str(ROOT),
    )
    if proxied:
        env.update(RULECENTER_TRUSTED_PROXY="1")  # nginx replaces X-Forwarded-For with the client's address
    if not limits:
        env.update(
            RULECENTER_SIGNIN_FAILURES="1000000000",
            RULECENTER_API_RATE="",
            RULECENTER_API_ANON_RATE="",
            RULECENTER_VOTE_RATE="",
            RULECENTER_SEARCH_RATE="",
        )
    return env


@contextlib.contextmanager
def nginx() -> Iterator[None]:
    """nginx on NGINX_PORT in front of the server, with the shipped per-address limits (deploy/nginx/)."""
    import shutil

    prefix = VAR / "nginx"
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    template = string.Template((ROOT / "deploy" / "nginx" / "rulecenter-local.conf.template").read_text())
    conf.write_text(
        template.substitute(
            prefix=prefix,
            deploy=ROOT / "deploy" / "nginx",
            connections=4096,
            upstream=f"{HOST}:{PORT}",
            keepalive=32,
            listen=f"{HOST}:{NGINX_PORT}",
        )
    )
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    log = (prefix / "stdout.log").open("ab")
    proc = subprocess.Popen(
        [binary, "-p", str(prefix), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"nginx did not start; see {prefix / 'error.log'}")
            with contextlib.suppress(OSError):
                socket.create_connection((HOST, NGINX_PORT), timeout=1).close()
                break
            time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def server(env: dict[str, str], workers: int) -> Iterator[None]:
    import redis

    redis.Redis.from_url(REDIS).flushdb()  # the bench's own db: counts and locks of an earlier phase
    argv = [
        sys.executable, "-m", "granian", "--interface", "wsgi", "--host", HOST, "--port", str(PORT),
        "--workers", str(workers), "--blocking-threads", "4", "--no-ws", "config.wsgi:application",
    ]  # fmt: skip
    log = (VAR / "server.log").open("ab")
    proc = subprocess.Popen(
        argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start; see {VAR / 'server.log'}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                connection = http.client.HTTPConnection(HOST, PORT, timeout=2)
                connection.request("GET", "/api/v1/consultations")
                if connection.getresponse().status == 200:
                    break
            time.sleep(0.2)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class Browser:
    """One client at one source address: a keep-alive connection and the cookies it was given."""

    def __init__(self, address: str, port: int) -> None:
        self.address, self.port = address, port
        self.cookies: dict[str, str] = {}
        self.connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None, **headers: str) -> tuple[int, str]:
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(
                    HOST, self.port, timeout=30, source_address=(self.address, 0)
                )
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                text = response.read().decode(errors="replace")
                break
            except (OSError, http.client.HTTPException):
                self.connection.close()
                self.connection = None
                if attempt:
                    return 0, ""
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, text

    def sign_in(self, username: str, password: str) -> int:
        self.cookies.pop("sessionid", None)
        status, page = self.request("GET", "/consultations/sign-in/")
        found = CSRF.search(page)
        if status != 200 or found is None:
            return status or 599
        form = urlencode({"username": username, "password": password, "csrfmiddlewaretoken": found.group(1)})
        status, _ = self.request(
            "POST",
            "/consultations/sign-in/",
            form.encode(),
            **{"Content-Type": "application/x-www-form-urlencoded", "Referer": f"http://{HOST}:{self.port}/"},
        )
        return status


def legit_client(
    index: int, setup: dict[str, Any], seconds: float, samples: list[tuple[str, float, int]], port: int
) -> None:
    browser = Browser(LEGIT[index], port)
    token = setup["tokens"][f"legit{index}"]
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    vote_path = f"/api/v1/consultations/{setup['consultation']}/votes"
    end = time.monotonic() + seconds
    time.sleep(index * ROUND_SECONDS / len(LEGIT))
    rounds = 0
    while time.monotonic() < end:
        started_round = time.monotonic()
        steps: list[tuple[str, Callable[[], int]]] = [
            ("sign-in", lambda: browser.sign_in(f"legit{index}", PASSWORD)),
            ("search", lambda: browser.request("GET", "/api/v1/search?q=" + "%E5%8F%91%E8%B4%A7")[0]),
            ("list", lambda: browser.request("GET", "/api/v1/consultations")[0]),
        ]
        if rounds % VOTE_EVERY == 0:  # a member changing their vote 8 times a minute, under the vote limit
            steps.append(
                ("vote", lambda: browser.request("POST", vote_path, b'{"choice": "support"}', **auth)[0])
            )
        rounds += 1
        for name, step in steps:
            started = time.perf_counter()
            status = step()
            samples.append((name, time.perf_counter() - started, status))
        time.sleep(max(0.0, ROUND_SECONDS - (time.monotonic() - started_round)))


def flood_process(
    setup: dict[str, Any], seconds: float, threads: int, port: int, out: multiprocessing.Queue[dict[str, int]]
) -> None:
    # The flooder stands for a client on a machine of its own: on this shared one it yields the CPU to the
    # server, nginx and the legitimate clients instead of taking half of it, which no real attacker takes from
    # us. What the server and nginx spend on refusing the flood is still spent here, and measured. With the
    # kernel's autogroups a process's nice value only counts inside its session: a session of its own, niced.
    os.setsid()
    with contextlib.suppress(OSError):
        Path("/proc/self/autogroup").write_text("19")
    os.nice(19)
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    token = setup["tokens"]["flooder"]
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    vote_path = f"/api/v1/consultations/{setup['consultation']}/votes"
    end = time.monotonic() + seconds

    def run(n: int) -> None:
        browser = Browser(FLOODER, port)
        i = n
        while time.monotonic() < end:
            i += 1
            kind = ("sign-in", "vote", "search-api", "search-page")[i % 4]
            if kind == "sign-in":
                status = browser.sign_in("flooder", "wrong-password")
            elif kind == "vote":
                status = browser.request("POST", vote_path, b'{"choice": "support"}', **auth)[0]
            elif kind == "search-api":
                status = browser.request("GET", f"/api/v1/search?q=%E8%B5%94%E4%BB%98{i}")[0]
            else:
                status = browser.request("GET", f"/search/?q=%E8%B5%94%E4%BB%98{i}")[0]
            with lock:
                counts[f"{kind} {status}"] += 1

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    out.put(dict(counts))


def phase(setup: dict[str, Any], seconds: float, *, flood: bool, port: int = PORT) -> dict[str, Any]:
    import redis

    redis.Redis.from_url(REDIS).flushdb()  # each phase starts with no counts and no locks
    samples: list[tuple[str, float, int]] = []
    queue: multiprocessing.Queue[dict[str, int]] = multiprocessing.Queue()
    flooders = [
        multiprocessing.Process(target=flood_process, args=(setup, seconds + 2, 8, port, queue)) for _ in range(2)
    ] if flood else []  # fmt: skip
    for process in flooders:
        process.start()
    if flood:
        time.sleep(2)  # the flood is running (and the flooder locked out) before anything is measured
    clients = [
        threading.Thread(target=legit_client, args=(i, setup, seconds, samples, port))
        for i in range(len(LEGIT))
    ]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    flooded: Counter[str] = Counter()
    for process in flooders:
        flooded.update(queue.get(timeout=60))
        process.join()
    times = sorted(t for _, t, _ in samples)
    failures = Counter(f"{name} {status}" for name, _, status in samples if not 200 <= status < 400)
    by_kind = {
        name: round(statistics.quantiles([t for n, t, _ in samples if n == name], n=20)[18] * 1000, 1)
        for name in ("sign-in", "search", "list", "vote")
    }
    return {
        "requests": len(times),
        "p50_ms": round(statistics.median(times) * 1000, 1),
        "p95_ms": round(statistics.quantiles(times, n=20)[18] * 1000, 1),
        "p95_by_kind_ms": by_kind,
        "failures": dict(failures),
        "flooder": dict(sorted(flooded.items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-unlimited", action="store_true", help="skip the phase with the limits lifted")
    parser.add_argument(
        "--no-nginx", action="store_true", help="skip the phases behind nginx (deploy/nginx/)"
    )
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        prepare()
        return
    VAR.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        (VAR / f"flood.sqlite3{suffix}").unlink(missing_ok=True)
    subprocess.run(
        [sys.executable, "-m", "bench.flood", "--prepare"], env=env_for(limits=True), cwd=ROOT, check=True
    )
    setup = json.loads((VAR / "setup.json").read_text())
    results = {}
    with server(env_for(limits=True), args.workers):
        results["quiet"] = phase(setup, args.seconds, flood=False)
        results["flood"] = phase(setup, args.seconds, flood=True)
    if not args.no_nginx:
        with server(env_for(limits=True, proxied=True), args.workers), nginx():
            results["nginx, quiet"] = phase(setup, args.seconds, flood=False, port=NGINX_PORT)
            results["nginx, flood"] = phase(setup, args.seconds, flood=True, port=NGINX_PORT)
    if not args.no_unlimited:
        with server(env_for(limits=False), args.workers):
            results["flood, limits off"] = phase(setup, args.seconds, flood=True)
    for name, result in results.items():
        print(f"{name}: {json.dumps(result, ensure_ascii=False)}")
    for prefix in ("", "nginx, "):
        if f"{prefix}flood" in results:
            ratio = results[f"{prefix}flood"]["p95_ms"] / results[f"{prefix}quiet"]["p95_ms"]
            where = "behind nginx" if prefix else "the application alone"
            print(f"{where}: legitimate p95 under flood / quiet: {ratio:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
