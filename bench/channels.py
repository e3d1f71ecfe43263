"""Followed channels (issue 16): how fast `channels_fetch_due()` gets through 1,000 channels, most of them 304.

    .venv/bin/python -m bench.channels                              # 1,000 channels, 5 rounds; updates docs
    .venv/bin/python -m bench.channels --channels 100 --rounds 2 --no-doc

Three processes, so that only the fetching loop's own work is counted as ours:

1. This one starts the measuring child (`--child`), prints its table and writes it into docs/ingest.md
   between the `bench:channels` markers (unless `--no-doc`).
2. The child sets Django up on a fresh SQLite file (var/bench/channels/), migrates, and starts
3. the page server (`--serve`): `rulecenter.ingest.tests.pages_server` (a ThreadingHTTPServer answering with
   an ETag, 304 to a matching If-None-Match) serving one listing page per channel at /c/<n>/, each with
   `--items` items (default 10) in the tests' `listing_html` markup. The child drives it through its stdin:
   `change <round> <every>` rewrites, for every channel n with n % every == round % every, its first
   item's excerpt (a correction naming the round), so that page's ETag changes; `cpu` answers with the
   server's own CPU seconds.

The child follows every page with `services.channel_create` (a publisher, one channel per page, each its own
source), then runs rounds of `services.channels_fetch_due()` with every channel made due by one UPDATE of
`next_fetch_at` before each:

- round 0: every channel fetched for the first time; every item is new and imported;
- rounds 1..`--rounds`: `--changed` (5%) of the pages changed since the last round: those are read and
  imported (one update with a revision each, the other items seen again), the rest answer 304;
- then `--still-rounds` rounds (default 2) where nothing changed: every channel answers 304.

Per round: channels/s (wall), this process's CPU per channel (`time.process_time`), SQL statements per
channel (a connection execute wrapper), the time spent inside `fetching.fetch` (the HTTP part), the outcomes,
and the process's memory after the round (VmRSS from /proc/self/status, the number of objects the garbage
collector tracks, and with `--tracemalloc` the traced Python heap, which slows the run down): the fetching
loop's memory should stay flat from round to round.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "bench" / "channels"
DB = WORK / "channels.sqlite3"
DOC = ROOT / "docs" / "ingest.md"
START = "<!-- bench:channels:start -->"
END = "<!-- bench:channels:end -->"

PLATFORMS = ["1688", "淘宝网", "天猫", "京东开放平台", "抖音电商", "拼多多", "快手电商", "小红书"]
SUBJECTS = [
    "商家发货行为管理规范", "指定渠道禁限售规则", "售后服务规范", "营销活动管理规则", "商品信息发布规范",
    "评价管理规则", "知识产权保护规则", "违规处理规则", "交易纠纷处理规则", "保证金管理规范",
]  # fmt: skip
ITEM = """<li><a href="{href}">{title}</a><span class="date">{date}</span><p>{excerpt}</p></li>"""


# --- the pages (the server process) ---------------------------------------------------------------------


def _written(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def page_path(channel: int) -> str:
    return f"/c/{channel}/"


def page_items(channel: int, items: int, version: int) -> list[tuple[str, str, str, str]]:
    """The page's items (href, title, date, excerpt); `version` > 0 rewrites the first item's excerpt."""
    found = []
    for number in range(items):
        rule = f"{PLATFORMS[(channel + number) % len(PLATFORMS)]}{SUBJECTS[(channel * 7 + number) % len(SUBJECTS)]}"
        day = date(2025, 1, 1) + timedelta(days=(channel * 3 + number * 11) % 300)
        kind = (channel + number) % 3
        if kind == 0:
            title = f"《{rule}》变更公示（第{channel}-{number}号）"
            excerpt = (
                f"为了规范平台的市场管理秩序，平台将针对《{rule}》进行更新，于{_written(day)}公示，"
                f"{_written(day + timedelta(days=7))}生效。商家发货时效由72小时调整为48小时，超时发货将按规则处理。"
            )
        elif kind == 1:
            title = f"关于《{rule}》调整的意见征集结果反馈（第{channel}-{number}号）"
            excerpt = (
                f"针对《{rule}》变更，我们于{_written(day)}至{_written(day + timedelta(days=7))}进行了意见征集，"
                "本次意见征集共收到有效意见212条，采纳情况及平台回应详见正文。"
            )
        else:
            title = f"《{rule}》服务协议修改公告（第{channel}-{number}号）"
            excerpt = (
                f"为了适应服务内容变化，我们对《{rule}》服务协议第五条、第九条进行了修订，"
                f"修订后的协议将于{_written(day + timedelta(days=10))}正式生效，请商家及时查阅确认。"
            )
        if number == 0 and version:
            excerpt += f"（第{version}轮更正：时效调整为{48 - version % 24}小时。）"
        found.append((f"/c/{channel}/a/{number}.html", title, day.isoformat(), excerpt))
    return found


def page_body(channel: int, items: int, version: int) -> bytes:
    """A rule channel's listing page, as `listing_html` in the channel tests makes one."""
    rows = "\n".join(
        ITEM.format(href=href, title=title, date=day, excerpt=excerpt)
        for href, title, day, excerpt in page_items(channel, items, version)
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>规则动态</title></head><body>
<nav><a href="/">首页</a><a href="/rules/">规则</a><a href="/news/">动态</a></nav>
<main><h1>规则动态</h1><ul class="news">{rows}</ul>
<div class="pager"><a href="?page=1">1</a><a href="?page=2">2</a><a href="?page=2">下一页</a></div></main>
<aside><h3>热门文章</h3><ul><li><a href="/hot/1">如何开店</a></li><li><a href="/hot/2">保证金说明</a></li></ul></aside>
<footer>© 2025 规则转载站 · 浙ICP备00000000号</footer></body></html>""".encode()


def serve(channels: int, items: int) -> None:
    """The page server: prints its URL, then answers the commands on stdin until `stop` or end of input."""
    from rulecenter.ingest.tests.pages_server import Page, pages_server

    with pages_server(record=False) as site:
        for channel in range(channels):
            site.pages[page_path(channel)] = Page(page_body(channel, items, 0))
        print(site.url, flush=True)
        for line in sys.stdin:
            command = line.split()
            if not command or command[0] == "stop":
                break
            if command[0] == "change":
                round_number, every = int(command[1]), int(command[2])
                changed = 0
                if every:
                    for channel in range(round_number % every, channels, every):
                        site.pages[page_path(channel)] = Page(page_body(channel, items, round_number))
                        changed += 1
                print(changed, flush=True)
            elif command[0] == "cpu":
                print(f"{time.process_time():.6f}", flush=True)


@dataclass
class Server:
    """The page server's process, driven through its stdin and stdout."""

    process: subprocess.Popen[str]
    url: str

    def ask(self, command: str) -> str:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None
        assert stdout is not None
        stdin.write(command + "\n")
        stdin.flush()
        answer = stdout.readline().strip()
        if not answer:
            raise SystemExit(f"the page server stopped answering ({command!r})")
        return answer

    def cpu(self) -> float:
        return float(self.ask("cpu"))


@contextmanager
def page_server(channels: int, items: int) -> Iterator[Server]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.channels",
            "--serve",
            "--channels",
            str(channels),
            "--items",
            str(items),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        stdout: IO[str] | None = process.stdout
        assert stdout is not None
        url = stdout.readline().strip()
        if not url.startswith("http://"):
            raise SystemExit("the page server did not start")
        yield Server(process, url)
    finally:
        if process.stdin is not None:
            process.stdin.close()  # end of input: the server shuts down
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the measurement (the child process) ----------------------------------------------------------------


@dataclass
class Round:
    number: int
    label: str
    changed_pages: int
    channels: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    queries: int = 0
    fetch_seconds: float = 0.0  # wall time inside fetching.fetch (the HTTP part)
    fetch_cpu_seconds: float = 0.0
    server_cpu_seconds: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)
    items: int = 0
    new: int = 0
    updated: int = 0
    error: str = ""  # the first failed fetch's error, if any
    rss_kib: int = 0  # VmRSS after the round
    hwm_kib: int = 0  # VmHWM (the peak RSS so far)
    gc_objects: int = 0
    traced_bytes: int | None = None


def memory_kib() -> tuple[int, int]:
    """This process's VmRSS and VmHWM in KiB (from /proc/self/status; zeros where there is none)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0, 0
    found = {
        match.group(1): int(match.group(2))
        for match in re.finditer(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.M)
    }
    return found.get("VmRSS", 0), found.get("VmHWM", 0)


class QueryCounter:
    """A connection execute wrapper that counts statements and keeps none of them."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+[`"]?(\w+)', re.IGNORECASE)


def statement_kinds(sqls: Iterable[str]) -> dict[str, int]:
    """`SELECT ingest_channel`-style counts of SQL statements (verb and first table), in the order first run."""
    found: Counter[str] = Counter()
    for sql in sqls:
        words = sql.split(None, 1)
        verb = words[0].upper() if words else "?"
        if verb in ("SAVEPOINT", "RELEASE", "ROLLBACK"):
            found["savepoint"] += 1
            continue
        if verb == "SELECT" and '"_check"' in sql:
            found["SELECT (a CheckConstraint validated)"] += 1
            continue
        table = _TABLE.search(sql)
        found[f"{verb} {table.group(1)}" if table else verb] += 1
    return dict(found)


def _django() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DB}{suffix}").unlink(missing_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{DB}"
    os.environ["RULECENTER_VAR_DIR"] = str(WORK / "var")  # the search index and the rest, not the project's
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["RULECENTER_CHANNEL_ALLOW_PRIVATE"] = "1"  # the page server is on loopback
    os.environ["REDIS_URL"] = ""  # tasks go to the database, as on one machine
    os.environ["DEBUG"] = "0"  # no query log kept in memory
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    _django()
    import tracemalloc
    from unittest import mock

    import django
    from django.db import connection
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from rulecenter.accounts.models import Role
    from rulecenter.announcements.models import Announcement
    from rulecenter.common.actors import Actor
    from rulecenter.ingest import fetching, services
    from rulecenter.ingest.fetching import Fetched
    from rulecenter.ingest.models import Channel, ChannelFetch, ImportRevision

    publisher = Actor(user_id=None, name="bench-publisher", roles=frozenset({Role.PUBLISHER.value}))
    every = round(1 / args.changed) if args.changed > 0 else 0
    spent = [0.0, 0.0]  # wall and CPU seconds inside fetch()
    real_fetch = fetching.fetch  # what services calls by the name `fetch`

    def timed_fetch(url: str, **options: Any) -> Fetched:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return real_fetch(url, **options)
        finally:
            spent[0] += time.perf_counter() - wall
            spent[1] += time.process_time() - cpu

    rounds: list[Round] = []
    with page_server(args.channels, args.items) as server, mock.patch.object(services, "fetch", timed_fetch):
        _progress(f"page server at {server.url}; creating {args.channels:,} channels …")
        wall, cpu = time.perf_counter(), time.process_time()
        for channel in range(args.channels):
            services.channel_create(
                actor=publisher,
                name=f"频道 {channel:05d}",
                urls=[server.url + page_path(channel)],
                source=f"c{channel:05d}.bench.example",
            )
        created = {"seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu}
        if args.tracemalloc:
            tracemalloc.start()
        plan = [(0, "first fetch (all new)", 0)]
        plan += [(n, f"{args.changed:.0%} changed", every) for n in range(1, args.rounds + 1)]
        plan += [(n, "0% changed", 0) for n in range(args.rounds + 1, args.rounds + 1 + args.still_rounds)]
        for number, label, step in plan:
            changed = int(server.ask(f"change {number} {step}")) if number else args.channels
            Channel.objects.update(next_fetch_at=timezone.now())  # every channel due, in one UPDATE
            server_cpu = server.cpu()
            spent[0] = spent[1] = 0.0
            counter = QueryCounter()
            wall, cpu = time.perf_counter(), time.process_time()
            with connection.execute_wrapper(counter):
                records = services.channels_fetch_due()
            result = Round(
                number=number,
                label=label,
                changed_pages=changed,
                channels=len(records),
                seconds=time.perf_counter() - wall,
                cpu_seconds=time.process_time() - cpu,
                queries=counter.count,
                fetch_seconds=spent[0],
                fetch_cpu_seconds=spent[1],
                server_cpu_seconds=server.cpu() - server_cpu,
                outcomes=dict(Counter(str(record.outcome) for record in records)),
                items=sum(record.items for record in records),
                new=sum(record.new for record in records),
                updated=sum(record.updated for record in records),
                error=next((record.error for record in records if record.error), ""),
            )
            del records
            result.rss_kib, result.hwm_kib = memory_kib()
            result.gc_objects = len(gc.get_objects())
            if args.tracemalloc:
                result.traced_bytes = tracemalloc.get_traced_memory()[0]
            rounds.append(result)
            _progress(
                f"round {number} ({label}): {result.channels / result.seconds:,.0f} channels/s, "
                f"{result.cpu_seconds / max(result.channels, 1) * 1000:.2f} ms CPU each, {result.outcomes}, "
                f"RSS {result.rss_kib / 1024:.1f} MiB"
            )
        # After the timed rounds: the statements of one fetch answered 304 and of one with a changed page.
        first, second = Channel.objects.order_by("pk").values_list("pk", flat=True)[:2]
        # Only channel 0's page changes (a round number no earlier round used, divisible by `every`).
        server.ask(f"change {args.channels * (len(plan) + 1)} {args.channels}")
        statements = {}
        for name, channel_id in (("not_modified", second), ("imported", first)):
            Channel.objects.filter(pk=channel_id).update(next_fetch_at=timezone.now())
            with CaptureQueriesContext(connection) as captured:
                record = services.channel_fetch(channel_id=channel_id)
            assert record is not None
            assert record.outcome == name, (record.outcome, record.error)
            statements[name] = statement_kinds(query["sql"] for query in captured.captured_queries)
    sqlite_version = connection.cursor().connection.execute("select sqlite_version()").fetchone()[0]
    return {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "sqlite": sqlite_version,
        "channels": args.channels,
        "items": args.items,
        "changed": args.changed,
        "every": every,
        "tracemalloc": bool(args.tracemalloc),
        "created": created,
        "rounds": [asdict(result) for result in rounds],
        "statements": statements,
        "totals": {
            "announcements": Announcement.objects.count(),
            "revisions": ImportRevision.objects.count(),
            "fetch_records": ChannelFetch.objects.count(),
            "queued_tasks": DBTaskResult.objects.count(),
            "queued_by_task": dict(
                DBTaskResult.objects.values_list("task_path").annotate(n=Count("pk")).order_by("-n")
            ),
            "database_mib": sum(
                Path(f"{DB}{suffix}").stat().st_size
                for suffix in ("", "-wal")
                if Path(f"{DB}{suffix}").exists()
            )
            / 2**20,
        },
    }


# --- the report (this process) --------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        model = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        cpu = model.group(1).strip() if model else cpu
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, {platform.system()}"


def table(result: dict[str, Any]) -> str:
    rounds = [Round(**row) for row in result["rounds"]]
    load = result["load"]
    traced = result["tracemalloc"]
    command = (
        f"`python -m bench.channels --channels {result['channels']} --rounds {len(rounds) - 1 - result['still_rounds']}"
        f" --still-rounds {result['still_rounds']} --changed {result['changed']:g}"
        + (" --tracemalloc`" if traced else "`")
    )
    created = result["created"]
    lines = [
        f"Measured {result['measured_at']} on {result['machine']}; Python {result['python']}, Django "
        f"{result['django']}, SQLite {result['sqlite']}; {command}. {result['channels']:,} channels of one page "
        f"each, {result['items']} items a page, on a local page server in a process of its own (its CPU is not "
        f"ours: the last column); load average {load['start']:.1f} at the start, {load['end']:.1f} at the end.",
        "",
        f"Following the {result['channels']:,} channels (`channel_create`): {created['seconds']:.1f} s "
        f"({result['channels'] / created['seconds']:,.0f}/s; CPU {created['cpu_seconds']:.1f} s).",
        "",
        "| round | pages changed | **channels/s** (wall) | CPU per channel | SQL per channel | in `fetch` (wall · CPU) "
        "per channel | not modified · imported · failed | items new · updated | RSS after | GC objects"
        + (" | traced heap" if traced else "")
        + " | page server CPU per channel |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if traced else "") + "---:|",
    ]
    for r in rounds:
        per = max(r.channels, 1)
        lines.append(
            f"| {r.number}: {r.label} | {r.changed_pages:,} | **{r.channels / r.seconds:,.0f}** | "
            f"{r.cpu_seconds / per * 1000:.2f} ms | {r.queries / per:.1f} | "
            f"{r.fetch_seconds / per * 1000:.2f} · {r.fetch_cpu_seconds / per * 1000:.2f} ms | "
            f"{r.outcomes.get('not_modified', 0):,} · {r.outcomes.get('imported', 0):,} · "
            f"{r.outcomes.get('failed', 0):,} | {r.new:,} · {r.updated:,} | {r.rss_kib / 1024:.1f} MiB | "
            f"{r.gc_objects:,} | "
            + (f"{(r.traced_bytes or 0) / 2**20:.1f} MiB | " if traced else "")
            + f"{r.server_cpu_seconds / per * 1000:.2f} ms |"
        )
    steady = [r for r in rounds if r.number > 0]
    lines.append("")
    if len(steady) >= 2:
        first, last = steady[0], steady[-1]
        lines.append(
            f"Memory across the rounds after the first: RSS {first.rss_kib / 1024:.1f} MiB after round "
            f"{first.number}, {last.rss_kib / 1024:.1f} MiB after round {last.number} "
            f"({(last.rss_kib - first.rss_kib) / 1024:+.1f} MiB); GC-tracked objects "
            f"{last.gc_objects - first.gc_objects:+,}"
            + (
                f"; traced heap {((last.traced_bytes or 0) - (first.traced_bytes or 0)) / 2**20:+.2f} MiB"
                if traced
                else ""
            )
            + f"; peak RSS {last.hwm_kib / 1024:.1f} MiB."
        )
    failed = next((r.error for r in rounds if r.error), "")
    if failed:
        lines.append(f"First failure: {failed[:300]}")
    totals = result["totals"]
    queued = ", ".join(
        f"{path.rsplit('.', 1)[-1]} {count:,}" for path, count in totals["queued_by_task"].items()
    )
    lines += [
        "",
        f"At the end: {totals['announcements']:,} announcements, {totals['revisions']:,} revisions, "
        f"{totals['fetch_records']:,} fetch records, {totals['queued_tasks']:,} queued tasks ({queued}; each "
        f"fetch queues the channel's next), database {totals['database_mib']:.1f} MiB.",
        "",
        "SQL statements of one fetch (after the rounds, one channel):",
        "",
    ]
    for name, label in (
        ("not_modified", "answered 304"),
        ("imported", "its page changed (one item updated)"),
    ):
        kinds = result["statements"][name]
        lines.append(
            f"- {label}: {sum(kinds.values())} — "
            + ", ".join(f"{kind} ×{count}" if count > 1 else kind for kind, count in kinds.items())
        )
    lines += [
        "",
        "CPU is this process's own (`time.process_time`): the fetch loop, httpx, reading, the import, the ORM and "
        "SQLite; `fetch` is the time inside `fetching.fetch` (the HTTP request and its SSRF check). SQL per "
        "channel counts the statements sent through Django's cursors (BEGIN included, COMMIT not); RSS and GC "
        "objects are read after each round, without a collection.",
    ]
    return "\n".join(lines)


def write_doc(text: str) -> None:
    doc = DOC.read_text(encoding="utf-8")
    block = f"{START}\n{text}\n{END}"
    if START in doc and END in doc:
        before, rest = doc.split(START, 1)
        _old, after = rest.split(END, 1)
        doc = f"{before}{block}{after}"
    else:
        doc = doc.rstrip("\n") + "\n\n## Benchmark: followed channels (issue 16)\n\n" + block + "\n"
    DOC.write_text(doc, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--channels", type=int, default=1000, help="channels followed, one page each")
    parser.add_argument("--items", type=int, default=10, help="items on each page")
    parser.add_argument("--rounds", type=int, default=5, help="rounds with --changed of the pages changed")
    parser.add_argument("--changed", type=float, default=0.05, help="share of pages changed each round")
    parser.add_argument("--still-rounds", type=int, default=2, help="rounds at the end with nothing changed")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace the Python heap (slower)")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/ingest.md")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.channels, args.items)
        return
    if args.child:
        print(json.dumps(measure(args), ensure_ascii=False))
        return
    if not 0 <= args.changed <= 1:
        parser.error("--changed is a share: 0 to 1")
    if args.channels < 2 or args.items < 1 or args.rounds < 0 or args.still_rounds < 0:
        parser.error("at least 2 channels and 1 item a page; rounds cannot be negative")

    load_start = os.getloadavg()[0]
    forwarded = [
        "--channels", str(args.channels), "--items", str(args.items), "--rounds", str(args.rounds),
        "--changed", str(args.changed), "--still-rounds", str(args.still_rounds),
    ]  # fmt: skip
    if args.tracemalloc:
        forwarded.append("--tracemalloc")
    done = subprocess.run(
        [sys.executable, "-m", "bench.channels", "--child", *forwarded],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise SystemExit(f"the measuring process failed (exit {done.returncode})")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["load"] = {"start": load_start, "end": os.getloadavg()[0]}
    result["still_rounds"] = args.still_rounds
    (WORK / "results.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    text = table(result)
    print(text)
    if not args.no_doc:
        write_doc(text)


if __name__ == "__main__":
    main()
