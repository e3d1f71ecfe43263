"""The search benchmark (issues 5 and 17), one corpus size or several in one run: `python -m bench.search`.

1,000,000 announcements by default; `--size 100000 300000 1000000` measures each size in turn, each in a
process of its own, and adds a table of the sizes side by side: the raw tantivy call and the service, p50 and
p95, and the service's share of the raw call at p50. For each size it

1. builds (or reuses) the shared corpus (bench/corpus.py) in var/bench/search/corpus-<size>.sqlite3 (or
   under `--work-dir`);
2. builds the index with `rulecenter reindex`'s own code (indexer.rebuild): wall-clock time and documents
   per second, CPU time per document (the reading and segmenting thread, and the whole process tree:
   tantivy's threads and any segmenting worker processes), the load average, the size on disk — then
   measures the follower (outbox rows applied per second);
3. runs two-word queries three ways in the same process: through the service (selectors.search: parse,
   segment, search, group, fetch, highlight — top 20 with snippets, the page's total), the same tantivy
   query called directly (search with count + fetching the 20 stored documents: the ceiling), and a LIKE
   scan over the table (the total and the newest 20 matches: the floor);
4. prints a table and writes the figures into docs/search.md between the bench markers.

With `--rounds N` the engine and the service are measured N times each, alternately, and every query of
every round counts in the percentiles (steadier figures on a machine with other load).

    python -m bench.search --size 100000 --queries 100 --scan-queries 3 --work-dir /tmp/search-bench --no-doc
    python -m bench.search --size 100000 300000 1000000     # issue 17's three sizes, one table
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import corpus

ROOT = Path(__file__).resolve().parent.parent
WORK_DIR = ROOT / "var" / "bench" / "search"
DOC = ROOT / "docs" / "search.md"
START = "<!-- bench:search:start -->"
END = "<!-- bench:search:end -->"
NODE = "bench"

# Words of the corpus's texts, common and rare; queries pair two of them.
WORDS = [
    "发货", "规则", "商家", "意见征集", "协议", "退款", "公示", "生效", "处罚", "买家", "服务", "保证金", "直播",
    "知识产权", "信用积分", "虚假", "刷单", "诚信通", "极速收款", "先采后付", "违规", "标识", "合规", "反诈",
    "跨境", "价格", "评价", "售后", "营销", "个人信息", "商品", "平台", "治理", "培训", "投票", "执行时间",
    "认定标准", "自查", "整改", "退出", "费率", "禁限售", "引流", "警示", "质量",
]  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": percentile(values, 0.50),
        "p95": percentile(values, 0.95),
        "mean": statistics.fmean(values),
        "max": max(values),
        "n": len(values),
    }


def directory_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def queries(count: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.sample(WORDS, 2)) for _ in range(count)]


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds (user + system) of this process (all its threads) and of its finished child processes."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def build_index(*, force: bool, size: int, work_dir: Path) -> dict[str, Any]:
    from rulecenter.search import indexer
    from rulecenter.search.backends import tantivy as engine

    generation = engine.current_generation()
    if generation and engine.generation_usable(generation) and not force:
        print(f"  index: reusing {generation}", file=sys.stderr)
        previous = work_dir / f"results-{size}.json"
        if previous.exists():
            build = json.loads(previous.read_text()).get("build", {})
            if build.get("generation") == generation:
                return build  # the figures of the run that built it
        return {"reused": True, "generation": generation}
    last = {"at": 0.0}

    def progress(p: indexer.BuildProgress) -> None:
        now = time.monotonic()
        if now - last["at"] > 10 or p.done == p.total:
            last["at"] = now
            rate = p.done / max(now - p.started, 1e-6)
            print(f"  index: {p.done:,}/{p.total:,} ({rate:,.0f} docs/s)", file=sys.stderr)

    load_before = round(os.getloadavg()[0], 2)
    started, thread_cpu = time.perf_counter(), time.thread_time()
    process_cpu, children_cpu = cpu_seconds()
    result = indexer.rebuild(restart=True, on_progress=progress)
    seconds = time.perf_counter() - started
    thread_cpu = time.thread_time() - thread_cpu
    process_after, children_after = cpu_seconds()
    process_cpu, children_cpu = process_after - process_cpu, children_after - children_cpu
    total_cpu = process_cpu + children_cpu
    cpus = os.cpu_count() or 1
    per_doc = 1e6 / result.total
    return {
        "reused": False,
        "generation": result.generation,
        "documents": result.total,
        "seconds": round(seconds, 1),
        "docs_per_s": round(result.total / seconds),
        "workers": result.workers,
        # What the machine's load inflates least: CPU spent per document by the thread that reads and
        # segments (and hands documents to tantivy), by this process (tantivy's indexing and merging threads
        # included) and by the whole process tree (the segmenting worker processes, if any, included).
        "thread_cpu_us_per_doc": round(thread_cpu * per_doc),
        "process_cpu_us_per_doc": round(process_cpu * per_doc),
        "children_cpu_us_per_doc": round(children_cpu * per_doc),
        "cpu_us_per_doc": round(total_cpu * per_doc),
        "thread_bound_docs_per_s": round(result.total / thread_cpu),
        # The rate free cores would allow: the busiest thread, or all the CPU time spread over every core.
        "cpu_bound_docs_per_s": round(min(result.total / thread_cpu, cpus * result.total / total_cpu)),
        "cpus": cpus,
        "measured_at": datetime.now(UTC).isoformat(),
        "load": [load_before, round(os.getloadavg()[0], 2)],
    }


def follow_rate(rows: int) -> dict[str, Any]:
    """Outbox rows applied per second by the follower, on existing announcements (batches of the setting)."""
    from django.conf import settings
    from django.db import transaction

    from rulecenter.announcements.models import Announcement
    from rulecenter.search import indexer
    from rulecenter.search.models import OutboxEntry
    from rulecenter.search.services import search_outbox_add

    last = Announcement.objects.order_by("-id").values_list("id", flat=True).first() or 0
    rng = random.Random(7)
    ids = sorted(rng.sample(range(1, last + 1), min(rows, last)))
    with transaction.atomic():
        search_outbox_add(entity=OutboxEntry.Entity.ANNOUNCEMENT, object_ids=ids)
    started = time.perf_counter()
    applied = indexer.apply_pending(wait_seconds=30).applied
    seconds = time.perf_counter() - started
    return {
        "rows": applied,
        "seconds": round(seconds, 2),
        "rows_per_s": round(applied / seconds),
        "batch": settings.RULECENTER_SEARCH_BATCH_SIZE,
    }


def forget_queries() -> None:
    """What the service keeps of a query it has met (the parsed query, its highlighting terms) is forgotten:
    every measured query is a new one, as in a single round, whatever the warm-up or an earlier round did."""
    from rulecenter.search import query, snippets

    query.parse.cache_clear()
    snippets._compiled.cache_clear()
    snippets._regex.cache_clear()


def measure_service(texts: list[str]) -> tuple[list[float], list[float], list[int]]:
    from rulecenter.search import indexer, selectors
    from rulecenter.search.query import Filters

    times: list[float] = []
    cpu: list[float] = []
    totals: list[int] = []
    for text in texts[:10]:  # warm up: the reader, the segmenter, the OS cache
        indexer.catch_up_for_search()
        selectors.search(q=text, filters=Filters(), raw_page=None, size=20)
    forget_queries()
    for text in texts:
        started, started_cpu = time.perf_counter(), time.thread_time()
        indexer.catch_up_for_search()  # what the page and the API do before the selector reads
        results = selectors.search(q=text, filters=Filters(), raw_page=None, size=20)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
        totals.append(results.total)
        assert len(results.hits) == min(20, results.total)
        assert all(hit.snippet for hit in results.hits)
    return times, cpu, totals


def measure_raw(texts: list[str]) -> tuple[list[float], list[float]]:
    """The same tantivy query, built beforehand, called directly: search with count, fetch 20 documents."""
    from django.utils import timezone

    from rulecenter.search.backends import tantivy as engine
    from rulecenter.search.query import Filters, filtered, parse, text_query

    index, schema, _generation = engine.reader.get()
    searcher = index.searcher()
    now = timezone.now()
    built = [
        filtered(schema, text_query(schema, parse(text)), Filters(), source="announcement", now=now)
        for text in texts
    ]
    for query in built[:10]:
        searcher.search(query, 20, count=True)
    times: list[float] = []
    cpu: list[float] = []
    for query in built:
        started, started_cpu = time.perf_counter(), time.thread_time()
        result = searcher.search(query, 20, count=True)
        for _score, address in result.hits:
            searcher.doc(address)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    return times, cpu


def measure_scan(texts: list[str]) -> tuple[list[float], list[float], list[int]]:
    """What search without an index costs: LIKE over title and body for the total and the newest 20."""
    from django.db import connection

    times: list[float] = []
    cpu: list[float] = []
    totals: list[int] = []
    for text in texts:
        words = text.split()
        where = "status = 'published'" + " AND (title LIKE %s OR body LIKE %s)" * len(words)
        params = [f"%{word}%" for word in words for _ in range(2)]
        started, started_cpu = time.perf_counter(), time.thread_time()
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM announcements_announcement WHERE {where}", params)
            total = cursor.fetchone()[0]
            cursor.execute(
                f"SELECT id, title, excerpt FROM announcements_announcement WHERE {where} "
                "ORDER BY published_at DESC, id DESC LIMIT 20",
                params,
            )
            cursor.fetchall()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
        totals.append(total)
    return times, cpu, totals


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_1m": round(load[0], 2),
    }


def _ratio(results: dict[str, Any], figures: str) -> float:
    """The service's p50 over the raw call's, by wall clock (`figures` "wall") or CPU time ("cpu")."""
    source = results["cpu"] if figures == "cpu" else results
    return float(source["service"]["p50"] / source["raw"]["p50"])


def render_sizes(by_size: list[dict[str, Any]]) -> list[str]:
    """Issue 17's table: engine and service side by side, one line per corpus size."""
    lines = [
        "| announcements | raw p50 | raw p95 | service p50 | service p95 | service ÷ raw at p50 | median matches |",
        "|---|---|---|---|---|---|---|",
    ]
    for results in by_size:
        cpu = results["cpu"]

        def pair(
            key: str, quantile: str, results: dict[str, Any] = results, cpu: dict[str, Any] = cpu
        ) -> str:
            return f"{cpu[key][quantile]:.2f} ms ({results[key][quantile]:.2f})"

        lines.append(
            f"| {results['corpus']['published']:,} | {pair('raw', 'p50')} | {pair('raw', 'p95')} | "
            f"{pair('service', 'p50')} | {pair('service', 'p95')} | **{_ratio(results, 'cpu'):.2f}×** "
            f"({_ratio(results, 'wall'):.2f}×) | {results['median_total']:,} |"
        )
    return lines


def render(results: dict[str, Any], by_size: list[dict[str, Any]] | None = None) -> str:
    """The docs block: every figure of `results` (the largest size measured), then all sizes side by side."""
    by_size = by_size or [results]
    build, follow, size = results["build"], results["follow"], results["size"]
    wall = {key: results[key] for key in ("service", "raw", "scan")}
    cpu = results["cpu"]
    overhead = wall["service"]["p50"] / wall["raw"]["p50"]
    overhead_cpu = cpu["service"]["p50"] / cpu["raw"]["p50"]
    speedup = wall["scan"]["p50"] / wall["service"]["p50"]
    speedup_cpu = cpu["scan"]["p50"] / cpu["service"]["p50"]
    rate = build.get("docs_per_s")
    rate_cpu = build.get("cpu_bound_docs_per_s", build.get("thread_bound_docs_per_s"))

    def met(ok: bool | None) -> str:
        return "—" if ok is None else ("yes" if ok else "**no**")

    checks = [
        ("service p95 ≤ 20 ms", wall["service"]["p95"] <= 20, cpu["service"]["p95"] <= 20,
         f"{wall['service']['p95']:.1f} ms", f"{cpu['service']['p95']:.1f} ms"),
        ("service ≤ 2× the raw engine call (p50)", overhead <= 2, overhead_cpu <= 2,
         f"{overhead:.2f}×", f"{overhead_cpu:.2f}×"),
        ("≥ 100× faster than the LIKE scan (p50)", speedup >= 100, speedup_cpu >= 100,
         f"{speedup:,.0f}×", f"{speedup_cpu:,.0f}×"),
        ("indexing ≥ 5,000 docs/s (rebuild)", None if rate is None else rate >= 5000,
         None if rate_cpu is None else rate_cpu >= 5000,
         f"{rate:,} docs/s" if rate else "reused", f"{rate_cpu:,} docs/s" if rate_cpu else "reused"),
    ]  # fmt: skip
    # Issue 17: the service within 1.5× of the engine at p50 at every size, p95 ≤ 10 ms at a million.
    worst_wall = max(by_size, key=lambda one: _ratio(one, "wall"))
    worst_cpu = max(by_size, key=lambda one: _ratio(one, "cpu"))
    million = [one for one in by_size if one["size"] >= 1_000_000]
    checks += [
        ("issue 17: service ≤ 1.5× the raw engine call (p50), at every size measured",
         _ratio(worst_wall, "wall") <= 1.5, _ratio(worst_cpu, "cpu") <= 1.5,
         f"{_ratio(worst_wall, 'wall'):.2f}× at {worst_wall['size']:,}",
         f"{_ratio(worst_cpu, 'cpu'):.2f}× at {worst_cpu['size']:,}"),
        ("issue 17: service p95 ≤ 10 ms at 1,000,000",
         million[-1]["service"]["p95"] <= 10 if million else None,
         million[-1]["cpu"]["service"]["p95"] <= 10 if million else None,
         f"{million[-1]['service']['p95']:.1f} ms" if million else "not measured",
         f"{million[-1]['cpu']['service']['p95']:.1f} ms" if million else "not measured"),
    ]  # fmt: skip
    machine = results["machine"]
    lines = [
        START,
        f"Measured {results['finished_at'][:16].replace('T', ' ')} UTC with `python -m bench.search --size "
        f"{' '.join(str(one['size']) for one in by_size)}` "
        f"on {machine['cpus']} CPUs, Python {machine['python']}. 1-minute load average {machine['load_before']} "
        f"before and {machine['load_after']} after the run on {machine['cpus']} CPUs (other work on the machine "
        "counts too): where it nears or passes the CPU count, wall-clock figures include waiting for a CPU. "
        "The CPU-time figures "
        "(`time.thread_time()` of the thread doing the work; `getrusage` of the process and its children for "
        "the whole build) are what the code costs on free cores.",
        "",
        f"**Corpus:** {results['corpus']['published']:,} published announcements of generated rule text "
        f"(`bench/corpus.py`, {size:,} rows, SQLite).",
        "",
        "| | figure |",
        "|---|---|",
    ]
    if build.get("reused"):
        lines.append(f"| index build | reused `{build['generation']}` (built by an earlier run) |")
    else:
        when = build.get("measured_at", "")[:16].replace("T", " ")
        load = build.get("load")
        context = f" (built {when} UTC, load {load[0]} → {load[1]})" if when and load else ""
        workers = build.get("workers", 0)
        segmenting = (
            f"{workers} segmenting worker processes"
            if workers
            else "segmented in the reading thread, no worker pool"
        )
        lines += [
            f"| index build (`rulecenter reindex`), wall clock{context} | {build['documents']:,} documents in "
            f"{build['seconds']} s — **{build['docs_per_s']:,} docs/s** ({segmenting}) |",
        ]
        if "cpu_us_per_doc" in build:
            lines.append(
                f"| index build, CPU per document | **{build['cpu_us_per_doc']} µs for the whole process tree** "
                f"({build['process_cpu_us_per_doc']} µs in this process — tantivy's indexing and merging threads "
                f"included — and {build['children_cpu_us_per_doc']} µs in worker processes); "
                f"{build['thread_cpu_us_per_doc']} µs in the reading and segmenting thread. On "
                f"{build['cpus']} free cores that allows **{build['cpu_bound_docs_per_s']:,} docs/s** |"
            )
        else:  # results of an older run
            lines.append(
                f"| index build, CPU per document | {build['thread_cpu_us_per_doc']} µs in the reading and "
                f"segmenting thread (**{build['thread_bound_docs_per_s']:,} docs/s** on a free core), "
                f"{build['process_cpu_us_per_doc']} µs with tantivy's indexing threads |"
            )
    lines += [
        f"| index size on disk | {results['index_bytes'] / 1e6:,.0f} MB (stored text for snippets included) |",
        f"| follower (outbox → index), batches of {follow['batch']} | {follow['rows']:,} rows in "
        f"{follow['seconds']} s — **{follow['rows_per_s']:,} rows/s** |",
        "",
        f"Two-word queries ({wall['service']['n']} through the service and the engine"
        f"{rounds_note(results)}, {wall['scan']['n']} for the scan; median {results['median_total']:,} matches), "
        "top 20 with snippets and the total:",
        "",
        "| | wall p50 | wall p95 | CPU p50 | CPU p95 |",
        "|---|---|---|---|---|",
    ]
    for label, key in (
        ("service (`selectors.search`)", "service"),
        ("raw tantivy call (ceiling)", "raw"),
        ("LIKE scan (floor)", "scan"),
    ):
        lines.append(
            f"| {label} | {wall[key]['p50']:.2f} ms | {wall[key]['p95']:.2f} ms | {cpu[key]['p50']:.2f} ms | "
            f"{cpu[key]['p95']:.2f} ms |"
        )
    lines += [
        "",
        "By corpus size — the same queries, CPU time (wall clock in brackets); the raw call searches with the "
        "count and fetches the 20 stored documents, the service also parses and segments the query, re-ranks "
        "by recency, groups rule versions, highlights and builds the page's results:",
        "",
        *render_sizes(by_size),
        "",
        "| target (issues 5, 17) | wall clock | met | CPU time | met |",
        "|---|---|---|---|---|",
        *[
            f"| {label} | {w_fig} | {met(w_ok)} | {c_fig} | {met(c_ok)} |"
            for label, w_ok, c_ok, w_fig, c_fig in checks
        ],
        END,
    ]
    return "\n".join(lines)


def rounds_note(results: dict[str, Any]) -> str:
    rounds = results.get("rounds", 1)
    return f" in {rounds} alternating rounds" if rounds > 1 else ""


def write_doc(block: str) -> None:
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else f"# Search\n\n{START}\n{END}\n"
    if START not in text:
        text = text.rstrip() + f"\n\n{START}\n{END}\n"
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    DOC.write_text(before + block + after, encoding="utf-8")


def measure_size(args: argparse.Namespace, size: int) -> dict[str, Any]:
    """Everything for one corpus size, in this process (Django is set up once, on that size's database)."""
    work_dir = args.work_dir.resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    db = work_dir / f"corpus-{size}.sqlite3"
    os.environ["RULECENTER_SEARCH_INDEX_DIR"] = str(work_dir / f"index-{size}")
    os.environ["RULECENTER_SEARCH_NODE"] = NODE
    load_before = round(os.getloadavg()[0], 2)
    corpus.setup_django(db)
    print(f"corpus: {db}", file=sys.stderr)
    meta = corpus.ensure(db, size)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)  # the search tables, on an older corpus
    build = build_index(force=args.force_index, size=size, work_dir=work_dir)

    from rulecenter.search.backends import tantivy as engine

    generation = engine.current_generation() or ""
    texts = queries(args.queries)
    print(
        f"queries: {len(texts)} through the service and the engine, {args.rounds} round(s)", file=sys.stderr
    )
    raw: list[float] = []
    raw_cpu: list[float] = []
    service: list[float] = []
    service_cpu: list[float] = []
    totals: list[int] = []
    for _round in range(args.rounds):
        wall, cpu = measure_raw(texts)
        raw += wall
        raw_cpu += cpu
        wall, cpu, totals = measure_service(texts)
        service += wall
        service_cpu += cpu
    print(f"scan: {args.scan_queries} LIKE queries", file=sys.stderr)
    scan, scan_cpu, _scan_totals = measure_scan(texts[: args.scan_queries])
    follow = follow_rate(args.follow_rows)
    results = {
        "size": size,
        "corpus": meta,
        "build": build,
        "index_bytes": directory_bytes(engine.generation_path(generation)),
        "follow": follow,
        "rounds": args.rounds,
        "service": summary(service),
        "raw": summary(raw),
        "scan": summary(scan),
        "cpu": {"service": summary(service_cpu), "raw": summary(raw_cpu), "scan": summary(scan_cpu)},
        "median_total": int(statistics.median(totals)),
        "machine": {**machine(), "load_before": load_before, "load_after": round(os.getloadavg()[0], 2)},
        "finished_at": datetime.now(UTC).isoformat(),
    }
    (work_dir / f"results-{size}.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size",
        type=int,
        nargs="+",
        default=[1_000_000],
        help="announcements in the corpus; several sizes are measured one after the other",
    )
    parser.add_argument("--queries", type=int, default=200, help="two-word queries for service and engine")
    parser.add_argument("--rounds", type=int, default=1, help="alternate engine and service this many times")
    parser.add_argument("--scan-queries", type=int, default=5, help="queries for the (slow) LIKE scan")
    parser.add_argument("--follow-rows", type=int, default=5_000, help="outbox rows for the follower rate")
    parser.add_argument("--force-index", action="store_true", help="rebuild the index even if one exists")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/search.md")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=WORK_DIR,
        help=f"where the corpus, the index and the results go (default {WORK_DIR.relative_to(ROOT)})",
    )
    args = parser.parse_args()
    sizes = sorted(set(args.size))
    if len(sizes) == 1:
        by_size = [measure_size(args, sizes[0])]
    else:
        # Django is set up once per process, on one database: each size runs in a process of its own.
        work_dir = args.work_dir.resolve()
        passed = [
            f"--queries={args.queries}", f"--rounds={args.rounds}", f"--scan-queries={args.scan_queries}",
            f"--follow-rows={args.follow_rows}", f"--work-dir={work_dir}", "--no-doc",
            *(["--force-index"] if args.force_index else []),
        ]  # fmt: skip
        for size in sizes:
            print(f"\n== {size:,} announcements ==", file=sys.stderr)
            subprocess.run(
                [sys.executable, "-m", "bench.search", "--size", str(size), *passed], check=True, cwd=ROOT
            )
        by_size = [json.loads((work_dir / f"results-{size}.json").read_text()) for size in sizes]
    block = render(by_size[-1], by_size)
    print(block.replace(START, "").replace(END, "").strip())
    if not args.no_doc:
        write_doc(block)
        print(f"\nwritten to {DOC.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
