"""The news listing's benchmark (issue 2), in one run: `make bench` or `python -m bench.run`.

1. builds (or reuses) a corpus of generated announcements in var/bench/ (never the dev database);
2. starts the production server (`rulecenter serve`, granian) on it with DEBUG off and bench-only URLs;
3. runs wrk on loopback against a constant Django view, /news/ uncached, a deep page, a conditional GET
   answered 304, the page from the page cache, and nginx serving the same bytes as a static file
   (optionally gunicorn too);
4. prints a table and writes the figures, with ratios to the constant view, into docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import corpus

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "var" / "bench"
RESULTS_DIR = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "performance.md"
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
GRANIAN_PORT = 8101
GUNICORN_PORT = 8102
NGINX_PORT = 8190
DEEP_PAGE = 5000
START = "<!-- bench:results:start -->"
END = "<!-- bench:results:end -->"


@dataclass
class Result:
    key: str
    label: str
    url: str
    server: str
    headers: dict[str, str] = field(default_factory=dict)
    rps: float = 0.0  # median over the rounds
    latency_ms: float = 0.0  # mean under load, median over the rounds
    p99_ms: float = 0.0
    single_ms: float = 0.0  # mean with one connection: the request's own service time
    ratio: float | None = None  # median over the rounds of rps / the constant view's rps in the same round
    cpu_us: float = 0.0  # CPU µs per request of the server's processes and wrk together (median)
    cpu_ratio: float | None = None  # median over the rounds of the constant view's cpu_us / this cpu_us
    rounds: list[float] = field(default_factory=list)
    requests: int = 0
    errors: int = 0


# --------------------------------------------------------------------------- processes


@contextlib.contextmanager
def process(
    argv: list[str], *, env: dict[str, str] | None = None, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server in its own process group and stop exactly that group afterwards."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT
        )
        try:
            yield proc
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early; see {log}:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(OSError):
            if fetch(url)[0] == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"server not ready after {timeout}s; see {log}")


# --------------------------------------------------------------------------- wrk

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unexpected wrk duration {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def group_cpu_seconds(group: int) -> float:
    """CPU time used so far by the processes of a process group (a server and its workers)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended meanwhile
        if int(fields[2]) == group:  # pgrp; utime and stime follow at 11 and 12
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def wrk(
    url: str,
    *,
    seconds: float,
    threads: int,
    connections: int,
    headers: dict[str, str] | None = None,
    server_group: int = 0,
) -> dict[str, float]:
    """One wrk run; with `server_group`, also the CPU time the server and wrk spent on it."""
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "5s",
    ]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    server_before = group_cpu_seconds(server_group) if server_group else 0.0
    wrk_before = _children_cpu_seconds()
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    cpu = _children_cpu_seconds() - wrk_before
    if server_group:
        cpu += group_cpu_seconds(server_group) - server_before
    figures: dict[str, float] = {"cpu_seconds": cpu}
    figures["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    figures["latency_ms"] = _ms(re.search(r"Latency\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    figures["p50_ms"] = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    figures["p99_ms"] = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    figures["requests"] = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(match.group(1))
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(n) for n in match.groups())
    figures["errors"] = errors
    return figures


def measure(results: list[Result], args: argparse.Namespace, server_group: int) -> None:
    """Measure the scenarios of one server in interleaved rounds, so that a neighbour's burst of CPU
    (this machine is shared) hits all of them alike; the ratios are taken round by round.

    Besides req/s, the CPU time that the server's processes and wrk spend per request is counted: a second
    view of the same ratios, less moved than req/s by what else runs on the machine (not immune: a busy
    machine's cache and scheduler contention inflate it too). The first scenario is the reference."""
    for r in results:  # warm every worker's per-process state (connections, anchors, page cache)
        wrk(r.url, seconds=args.warmup, threads=args.threads, connections=args.connections, headers=r.headers)
    latencies: dict[str, list[float]] = {r.key: [] for r in results}
    p99s: dict[str, list[float]] = {r.key: [] for r in results}
    ratios: dict[str, list[float]] = {r.key: [] for r in results}
    cpus: dict[str, list[float]] = {r.key: [] for r in results}
    cpu_ratios: dict[str, list[float]] = {r.key: [] for r in results}
    for _ in range(args.rounds):
        figures = {}
        for r in results:
            figures[r.key] = wrk(
                r.url,
                seconds=args.duration,
                threads=args.threads,
                connections=args.connections,
                headers=r.headers,
                server_group=server_group,
            )
            r.rounds.append(figures[r.key]["rps"])
            cpus[r.key].append(figures[r.key]["cpu_seconds"] / figures[r.key]["requests"] * 1e6)
            latencies[r.key].append(figures[r.key]["latency_ms"])
            p99s[r.key].append(figures[r.key]["p99_ms"])
            r.requests += int(figures[r.key]["requests"])
            r.errors += int(figures[r.key]["errors"])
        for r in results:
            ratios[r.key].append(figures[r.key]["rps"] / figures[results[0].key]["rps"])
            cpu_ratios[r.key].append(cpus[results[0].key][-1] / cpus[r.key][-1])
    for r in results:
        r.rps = statistics.median(r.rounds)
        r.latency_ms = statistics.median(latencies[r.key])
        r.p99_ms = statistics.median(p99s[r.key])
        r.ratio = statistics.median(ratios[r.key])
        r.cpu_us = statistics.median(cpus[r.key])
        r.cpu_ratio = statistics.median(cpu_ratios[r.key])
        if args.single:
            r.single_ms = wrk(r.url, seconds=args.single, threads=1, connections=1, headers=r.headers)[
                "latency_ms"
            ]
        rounds = " ".join(f"{x:,.0f}" for x in r.rounds)
        print(
            f"  {r.label:<36} {r.rps:>8,.0f} req/s (rounds {rounds})  ×{r.ratio:.2f}"
            f"  cpu {r.cpu_us:6.0f} µs/req ×{r.cpu_ratio:.2f}  mean {r.latency_ms:6.2f} ms"
            f"  1-conn {r.single_ms:5.2f} ms  errors {r.errors}",
            flush=True,
        )


# --------------------------------------------------------------------------- servers


def server_env(db: Path, *, page_cache_seconds: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRANIAN_", "DJANGO_", "WEB_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DATABASE_URL=f"sqlite:///{db}",
        DEBUG="0",
        RULECENTER_PAGE_CACHE_SECONDS=str(page_cache_seconds),
        # Static files, search index and the like of the bench stay under var/bench/.
        RULECENTER_VAR_DIR=str(BENCH_DIR),
        REDIS_URL="",
        PYTHONPATH=str(ROOT),
    )
    return env


def granian(db: Path, args: argparse.Namespace, *, page_cache_seconds: int, name: str):
    argv = [
        str(VENV_BIN / "rulecenter"),
        "serve",
        "--host",
        HOST,
        "--port",
        str(GRANIAN_PORT),
        "--workers",
        str(args.workers),
        *(["--threads", str(args.threads_per_worker)] if args.threads_per_worker else []),
    ]
    env = server_env(db, page_cache_seconds=page_cache_seconds)
    return process(argv, env=env, log=BENCH_DIR / f"{name}.log")


def gunicorn(db: Path, args: argparse.Namespace, *, page_cache_seconds: int, name: str):
    argv = [
        str(VENV_BIN / "gunicorn"), "--bind", f"{HOST}:{GUNICORN_PORT}", "--workers", str(args.workers),
        "--worker-class", "sync", "--log-level", "warning", "config.wsgi:application",
    ]  # fmt: skip
    return process(
        argv, env=server_env(db, page_cache_seconds=page_cache_seconds), log=BENCH_DIR / f"{name}.log"
    )


NGINX_CONF = """\
worker_processes {workers};
daemon off;
master_process on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    types {{ text/html html; }}
    server {{
        listen {host}:{port};
        root {prefix}/root;
        location = /news/ {{ try_files /news/index.html =404; }}
    }}
}}
"""


def nginx(page: bytes, args: argparse.Namespace):
    prefix = BENCH_DIR / "nginx"
    for sub in ("root/news", "tmp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    (prefix / "root" / "news" / "index.html").write_bytes(page)
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(workers=args.workers, prefix=prefix, host=HOST, port=NGINX_PORT))
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    return process([binary, "-p", str(prefix), "-c", str(conf)], log=prefix / "stdout.log")


# --------------------------------------------------------------------------- checks


def check_sqlite(base: str, workers: int) -> list[str]:
    """Ask the workers what their connections run with; persistent means the same connection each time."""
    seen: dict[tuple[int, int], set[int]] = {}
    facts: dict[str, object] = {}
    for _ in range(40 * workers):
        status, _headers, body = fetch(f"{base}/bench/sqlite/")
        assert status == 200, status
        facts = json.loads(body)
        seen.setdefault((facts["pid"], facts["thread"]), set()).add(facts["connection_id"])  # type: ignore[index]
    problems = []
    if facts["journal_mode"] != "wal":
        problems.append(f"journal_mode={facts['journal_mode']}")
    if facts["transaction_mode"] != "IMMEDIATE":
        problems.append(f"transaction_mode={facts['transaction_mode']}")
    if any(len(ids) > 1 for ids in seen.values()):
        problems.append("connections are not persistent (a new one per request)")
    summary = (
        f"journal_mode={facts['journal_mode']}, synchronous={facts['synchronous']} (1 = NORMAL), "
        f"foreign_keys={facts['foreign_keys']}, transaction_mode={facts['transaction_mode']}, "
        f"CONN_MAX_AGE={facts['conn_max_age']}; {len(seen)} worker thread(s) answered, each on one "
        f"persistent connection"
        if not problems
        else "PROBLEMS: " + ", ".join(problems)
    )
    print(f"  sqlite: {summary}", flush=True)
    return [summary, *problems]


# --------------------------------------------------------------------------- facts and report


def machine_facts(args: argparse.Namespace) -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.0f} GiB"

    def version(argv: list[str], pattern: str = r"([\d.]+)") -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, check=False)
        except OSError:
            return "missing"
        match = re.search(pattern, out.stdout + out.stderr)
        return match.group(1) if match else "?"

    import sqlite3
    from importlib.metadata import version as dist_version

    import django

    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "django": django.get_version(),
        "granian": dist_version("granian"),
        "gunicorn": dist_version("gunicorn") if args.gunicorn else "not run",
        "sqlite": sqlite3.sqlite_version,
        "nginx": version(["nginx", "-v"], r"nginx/([\d.]+)"),
        "wrk": version(["wrk", "--version"], r"wrk (\S+)"),
    }


def table(results: list[Result]) -> str:
    lines = [
        "| what | server | req/s | × constant | CPU per request | × constant by CPU | mean latency under load "
        "| p99 | latency alone (1 connection) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "—"
        cpu_ratio = f"{r.cpu_ratio:.2f}" if r.cpu_ratio is not None else "—"
        single = f"{r.single_ms:.2f} ms" if r.single_ms else "—"
        lines.append(
            f"| {r.label} | {r.server} | {r.rps:,.0f} | {ratio} | {r.cpu_us:,.0f} µs | {cpu_ratio} "
            f"| {r.latency_ms:.2f} ms | {r.p99_ms:.2f} ms | {single} |"
        )
    return "\n".join(lines)


def verdicts(
    r: dict[str, Result], deep_page: int, single_rounds: dict[str, float]
) -> list[tuple[str, str, bool, str]]:
    """Issue 2's "Done when", each as a ratio to the constant view measured in the same rounds.

    Judged on req/s as measured; the ratio by CPU per request is shown beside it."""

    def share(key: str, floor: float) -> tuple[bool, str]:
        result = r[key]
        assert result.ratio is not None
        assert result.cpu_ratio is not None
        return result.ratio >= floor, f"{result.ratio:.0%} (by CPU per request: {result.cpu_ratio:.0%})"

    deep_loaded = r["deep"].latency_ms / r["page1"].latency_ms
    deep_alone = single_rounds.get("deep_vs_page1")
    deep_text = f"{deep_loaded:.2f}× page 1 under load" + (f", {deep_alone:.2f}× alone" if deep_alone else "")
    return [
        ("uncached page 1", "≥ 30% of the constant view", *share("page1", 0.30)),
        (f"page {deep_page:,}", "latency ≤ 1.5× page 1's", deep_loaded <= 1.5, deep_text),
        ("conditional GET (304)", "≥ 80% of the constant view", *share("not_modified", 0.80)),
        ("cached page", "≥ 70% of the constant view", *share("cached", 0.70)),
    ]


def report(
    ordered: list[Result], meta: dict[str, object], facts: dict[str, str], args: argparse.Namespace,
    sqlite: list[str], checks: list[tuple[str, str, bool, str]], page_bytes: int,
) -> str:  # fmt: skip
    by_key = {r.key: r for r in ordered}
    nginx_result = by_key.get("nginx")
    threads = args.threads_per_worker or "4 (serve's default)"
    lines = [
        START,
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `python -m bench.run`: corpus of "
        f"{meta['size']:,} announcements ({meta['published']:,} published), page {args.deep_page:,} as the "
        f"deep page, page 1 is {page_bytes:,} bytes.",
        "",
        f"- Machine: {facts['cpu']}, {facts['memory']} RAM, {facts['os']}; load average {facts['load']}.",
        f"- Software: Python {facts['python']}, Django {facts['django']}, granian {facts['granian']}, "
        f"gunicorn {facts['gunicorn']}, SQLite {facts['sqlite']}, nginx {facts['nginx']}, wrk {facts['wrk']}.",
        f"- Server: `rulecenter serve` (granian, WSGI, {args.workers} workers × {threads} threads), DEBUG off, settings "
        f"`bench.settings` (`config.settings.local` plus the bench-only views); LocMem cache per process; "
        f"nginx: {args.workers} workers, the page's bytes as a file.",
        f"- Load: wrk on the same cores over loopback, `-t{args.threads} -c{args.connections}`, "
        f"{args.rounds} interleaved rounds of {args.duration:g} s per line after a {args.warmup:g} s warm-up; "
        f'req/s and latencies are medians of the rounds, "× constant" the median of the per-round ratios to '
        f"the constant view on the same server (a body of the page's size, returned as is). CPU per request: "
        f"user + system time of the server's processes and of wrk, divided by the requests served: a second "
        f"view of the same ratio, less moved by other work on the machine than req/s but not immune to it "
        f"(a busy machine inflates it too). Latency alone: `wrk -t1 -c1`, {args.rounds} × {args.single:g} s.",
        f"- SQLite under the workers: {sqlite[0]}.",
        "",
        table(ordered),
        "",
        "| target (issue 2) | measured | verdict |",
        "|---|---|---|",
    ]
    for name, wanted, ok, measured in checks:
        lines.append(f"| {name}: {wanted} | {measured} | {'pass' if ok else '**FAIL**'} |")
    if nginx_result:
        lines += [
            "",
            f"nginx serving the same bytes from a file is the machine's ceiling: the constant Django view runs at "
            f"{by_key['constant'].rps / nginx_result.rps:.0%} of it, the cached page at "
            f"{by_key['cached'].rps / nginx_result.rps:.0%}, the uncached page at "
            f"{by_key['page1'].rps / nginx_result.rps:.0%}.",
        ]
    lines.append(END)
    return "\n".join(lines)


DOC_TEMPLATE = """\
# Performance

How fast the news listing (`/news/`) is, measured against the framework's own ceiling (a constant Django
view) and the machine's (nginx serving the same bytes from a file). The figures between the markers are
written by the benchmark; the rest of this page is kept by hand.

## How to run

```
make bench                                   # 100k announcements (built once into var/bench/), ~3 minutes
.venv/bin/python -m bench.run --size 1000000 # a million
.venv/bin/python -m bench.run --help         # rounds, durations, connections, workers, --gunicorn, --no-write
```

The corpus lives in `var/bench/bench-<size>.sqlite3`, never in the development database; the servers listen
on ports 8101 (granian), 8102 (gunicorn) and 8190 (nginx) of 127.0.0.1 and are stopped at the end.
Raw results are kept in `bench/results/`.

## Results

{results}
"""


def write_doc(block: str) -> None:
    if DOC.exists() and START in DOC.read_text() and END in DOC.read_text():
        text = DOC.read_text()
        text = text[: text.index(START)] + block + text[text.index(END) + len(END) :]
    else:
        text = DOC_TEMPLATE.format(results=block)
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text if text.endswith("\n") else text + "\n")


# --------------------------------------------------------------------------- main


def single_connection_rounds(pairs: list[Result], args: argparse.Namespace) -> dict[str, float]:
    """Latency alone (one connection) of page 1 and the deep page, interleaved like the loaded rounds."""
    if not args.single:
        return {}
    samples: dict[str, list[float]] = {r.key: [] for r in pairs}
    ratios = []
    for _ in range(args.rounds):
        for r in pairs:
            samples[r.key].append(
                wrk(r.url, seconds=args.single, threads=1, connections=1, headers=r.headers)["latency_ms"]
            )
        ratios.append(samples["deep"][-1] / samples["page1"][-1])
    for r in pairs:
        r.single_ms = statistics.median(samples[r.key])
    return {"deep_vs_page1": statistics.median(ratios)}


def main() -> int:
    parser = argparse.ArgumentParser(description="The news listing's benchmark (issue 2).")
    parser.add_argument(
        "--size", type=int, default=100_000, help="announcements in the corpus (default 100k)"
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the corpus even if it exists")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds per server (default 4)")
    parser.add_argument("--duration", type=float, default=4, help="seconds per line and round (default 4)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per line (default 2)")
    parser.add_argument(
        "--single", type=float, default=2, help="seconds of 1-connection latency per round (0: skip)"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 2, help="server workers (default: cores)"
    )
    parser.add_argument(
        "--threads-per-worker",
        type=int,
        default=0,
        help="request threads per server worker (default: serve's, WEB_THREADS or 4)",
    )
    parser.add_argument("--deep-page", type=int, default=DEEP_PAGE, help="the deep page (default 5000)")
    parser.add_argument("--gunicorn", action="store_true", help="also measure gunicorn (sync workers)")
    parser.add_argument("--no-nginx", action="store_true", help="skip the nginx ceiling")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite docs/performance.md")
    args = parser.parse_args()
    for tool in ("wrk",) + (() if args.no_nginx else ("nginx",)):
        if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists()):
            raise SystemExit(f"{tool} is not installed (apt-get install {tool})")

    db = BENCH_DIR / f"bench-{args.size}.sqlite3"
    corpus.setup_django(db)
    print(f"corpus: {db}", flush=True)
    meta = corpus.ensure(db, args.size, force=args.rebuild)
    print(f"  {meta['published']:,} published of {meta['size']:,}", flush=True)
    page_count = -(-int(meta["published"]) // 12)  # type: ignore[call-overload]
    args.deep_page = min(args.deep_page, page_count)
    # The pages link their static files through the manifest, as `make run` serves them.
    subprocess.run(
        [str(VENV_BIN / "rulecenter"), "collectstatic", "--noinput", "-v0"],
        env=server_env(db, page_cache_seconds=0),
        check=True,
        cwd=ROOT,
    )
    load_before = os.getloadavg()

    base = f"http://{HOST}:{GRANIAN_PORT}"
    deep_url = f"{base}/news/?page={args.deep_page}"
    print(f"granian, {args.workers} workers, page cache off", flush=True)
    with granian(db, args, page_cache_seconds=0, name="granian-uncached") as proc:
        wait_ready(f"{base}/bench/constant/", proc, BENCH_DIR / "granian-uncached.log")
        sqlite = check_sqlite(base, args.workers)
        status, headers, page = fetch(f"{base}/news/")
        assert status == 200, status
        assert "共" in page.decode()
        etag = headers["etag"]
        assert fetch(deep_url)[0] == 200
        assert fetch(f"{base}/news/", {"If-None-Match": etag})[0] == 304
        uncached = [
            Result("constant", "constant Django view", f"{base}/bench/constant/", "granian"),
            Result("page1", "/news/ page 1, uncached", f"{base}/news/", "granian"),
            Result("deep", f"/news/?page={args.deep_page}, uncached", deep_url, "granian"),
            Result(
                "not_modified",
                "/news/ conditional GET → 304",
                f"{base}/news/",
                "granian",
                {"If-None-Match": etag},
            ),
        ]
        measure(uncached, args, proc.pid)
        single = single_connection_rounds([uncached[1], uncached[2]], args)

    print(f"granian, {args.workers} workers, page cache on", flush=True)
    with granian(db, args, page_cache_seconds=300, name="granian-cached") as proc:
        wait_ready(f"{base}/bench/constant/", proc, BENCH_DIR / "granian-cached.log")
        status, _, cached_page = fetch(f"{base}/news/")
        assert status == 200, status
        assert cached_page == page, "the cached page differs from the uncached one"
        cached = [
            Result(
                "constant_cached", "constant Django view", f"{base}/bench/constant/", "granian, page cache on"
            ),
            Result("cached", "/news/ page 1, from the page cache", f"{base}/news/", "granian, page cache on"),
        ]
        measure(cached, args, proc.pid)

    extra: list[Result] = []
    if args.gunicorn:
        gbase = f"http://{HOST}:{GUNICORN_PORT}"
        print(f"gunicorn (sync), {args.workers} workers, page cache off", flush=True)
        with gunicorn(db, args, page_cache_seconds=0, name="gunicorn") as proc:
            wait_ready(f"{gbase}/bench/constant/", proc, BENCH_DIR / "gunicorn.log")
            extra += [
                Result(
                    "gunicorn_constant", "constant Django view", f"{gbase}/bench/constant/", "gunicorn (sync)"
                ),
                Result("gunicorn_page1", "/news/ page 1, uncached", f"{gbase}/news/", "gunicorn (sync)"),
            ]
            measure(extra[-2:], args, proc.pid)

    if not args.no_nginx:
        nbase = f"http://{HOST}:{NGINX_PORT}"
        print(f"nginx, {args.workers} workers, the page as a static file", flush=True)
        with nginx(page, args) as proc:
            wait_ready(f"{nbase}/news/", proc, BENCH_DIR / "nginx" / "stdout.log")
            assert fetch(f"{nbase}/news/")[2] == page
            ceiling = Result("nginx", "/news/ page 1 as a static file", f"{nbase}/news/", "nginx")
            measure([ceiling], args, proc.pid)
            ceiling.ratio = ceiling.cpu_ratio = None
            extra.append(ceiling)

    load_after = os.getloadavg()
    facts = machine_facts(args)
    facts["load"] = f"{load_before[0]:.2f} before, {load_after[0]:.2f} after"
    by_key = {r.key: r for r in [*uncached, *cached, *extra]}
    checks = verdicts(by_key, args.deep_page, single)
    block = report([*uncached, *cached, *extra], meta, facts, args, sqlite, checks, len(page))
    print()
    print(block.replace(START, "").replace(END, "").strip())
    if max(load_before[0], load_after[0]) > 1.5:
        print("\nnote: the machine was busy (load average above); figures are less reliable.")

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS_DIR / f"{stamp}-{args.size}.json").write_text(
        json.dumps(
            {"args": vars(args), "corpus": meta, "machine": facts, "sqlite": sqlite,
             "results": [asdict(x) for x in by_key.values()],
             "verdicts": [{"target": n, "wanted": w, "pass": ok, "measured": m} for n, w, ok, m in checks]},
            indent=2, ensure_ascii=False, default=str,
        )
    )  # fmt: skip
    if not args.no_write:
        write_doc(block)
        print(f"\nwritten to {DOC.relative_to(ROOT)}")
    return 0 if all(ok for _, _, ok, _ in checks) and len(sqlite) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
