"""Ingest throughput (issue 6): extraction in announcements/s, and importing a 100k-item synthetic listing.

    .venv/bin/python -m bench.ingest                       # 100k items; SQLite and PostgreSQL; updates docs
    .venv/bin/python -m bench.ingest --items 10000 --no-doc --no-postgres

1. Generates the listing in var/bench/ingest/pages/: pages of 12 items in the seed's format (`• title`,
   excerpt, `共N条 当前p/P页` footer), six kinds of item written like the seed's, dates in the forms real
   texts use (2025年2月10日, 2025-02-10, 二〇二五年二月十日, a yearless sibling), ids in rule-channel links.
   Each item's true dates are kept, so the run also reports how often the extractor agrees with them.
2. Extraction: `extract(excerpt, title=title)` over every item, one process, one core.
3. Import, per database (a fresh SQLite file; the PostgreSQL database's schema dropped and re-created),
   each in a child process: `rulecenter migrate`, then `rulecenter import_listing` on all pages in one
   transaction (the bulk path), the same again (nothing changes: the idempotent re-import), and once more
   with 1% of the excerpts changed (updates with revisions).
4. Prints a table and writes it into docs/ingest.md between the bench markers.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "bench" / "ingest"
DOC = ROOT / "docs" / "ingest.md"
START = "<!-- bench:ingest:start -->"
END = "<!-- bench:ingest:end -->"
PAGE_SIZE = 12
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/rc_ingest"

PLATFORMS = ["1688", "淘宝网", "天猫", "京东开放平台", "抖音电商", "拼多多", "快手电商", "小红书"]
SUBJECTS = [
    "商家发货行为管理规范", "指定渠道禁限售规则", "售后服务规范", "营销活动管理规则", "商品信息发布规范",
    "评价管理规则", "知识产权保护规则", "违规处理规则", "交易纠纷处理规则", "保证金管理规范",
    "店铺命名规范", "直播营销管理规范", "价格行为管理规范", "商家信用积分规则", "退换货服务规范",
]  # fmt: skip
SERVICES = ["先采后付-提前回款", "诚信通", "极速收款", "买家保障", "融资服务技术", "保理", "物流", "电子发票"]
TOPICS = ["不当使用获取信息", "虚假发货", "盗用他人图片", "违规引流", "商品描述不符", "恶意拒绝退款"]
CN_DIGITS = "〇一二三四五六七八九"


def cn_number(value: int) -> str:
    if value < 10:
        return CN_DIGITS[value]
    tens, ones = divmod(value, 10)
    return ("" if tens == 1 else CN_DIGITS[tens]) + "十" + (CN_DIGITS[ones] if ones else "")


def written(day: date, style: int, *, sibling: bool = False) -> str:
    """A date as rule notices write it; `sibling` drops the year when another date gives it."""
    if sibling:
        return f"{day.month}月{day.day}日"
    if style == 0:
        return f"{day.year}年{day.month}月{day.day}日"
    if style == 1:
        return day.isoformat()
    if style == 2:
        return f"{day.year}年{day.month:02d}月{day.day:02d}日"
    return (
        "".join(CN_DIGITS[int(c)] for c in str(day.year))
        + f"年{cn_number(day.month)}月{cn_number(day.day)}日"
    )


@dataclass
class Item:
    title: str
    excerpt: str
    notice: str | None = None
    effective: str | None = None
    comment_start: str | None = None
    comment_end: str | None = None


def make_item(n: int, rng: random.Random) -> Item:
    kind = rng.choices(range(6), weights=[30, 20, 15, 15, 10, 10])[0]
    rule = f"{rng.choice(PLATFORMS)}{rng.choice(SUBJECTS)}"
    day = date(2023, 1, 1) + timedelta(days=rng.randrange(900))
    style = rng.randrange(4)
    rule_id, category_id, task_id = 20000000 + n, rng.choice([3044, 3045, 3046]), 1000 + n
    link = f"https://rulechannel.1688.com/?type=detail&ruleId={rule_id}&cId={category_id}#/rule/detail?ruleId={rule_id}&cId={category_id}"
    if kind == 0:
        effective = day + timedelta(days=rng.choice([7, 8, 10, 15]))
        sibling = effective.year == day.year and rng.random() < 0.3
        return Item(
            title=f"《{rule}》和其相关规则的更新公示（第{n}号）",
            excerpt=f"为了规范平台的市场管理秩序，保障卖家的规范经营，平台将针对《{rule}》进行更新。"
            f"本次更新于{written(day, style)}公示，{written(effective, style, sibling=sibling)}生效。"
            f"本次更新主要内容：{link}",
            notice=day.isoformat(),
            effective=effective.isoformat(),
        )
    if kind == 1:
        closes = day + timedelta(days=7)
        return Item(
            title=f"关于《{rule}》调整的意见征集结果反馈（第{n}号）",
            excerpt=f"各位亲爱的会员：针对平台《{rule}》变更，我们于{written(day, style)}至{written(closes, style)}"
            f"进行了意见征集，https://rulechannel.1688.com/?taskId={task_id}#/ruleHOR/detail "
            f"本次投票“可再评估”的意见反馈中，未收到关于此次规范变更的有效意见。",
            comment_start=day.isoformat(),
            comment_end=closes.isoformat(),
        )
    if kind == 2:
        effective = day + timedelta(days=7)
        service = rng.choice(SERVICES)
        return Item(
            title=f"《{service}服务协议》修改公告（第{n}号）",
            excerpt=f"尊敬的1688平台用户：为了适应{service}服务内容变化，我们对《{service}服务协议》进行了修订，"
            f"修订后的协议于{written(day, style)}公示，将于{written(effective, style)}正式生效。{link}",
            notice=day.isoformat(),
            effective=effective.isoformat(),
        )
    if kind == 3:
        return Item(
            title=f"【避坑指南】{rng.choice(TOPICS)}（第{n}期）",
            excerpt="一、您的疑惑1、该违规行为有哪些？2、平台会怎么处罚？二、如何理解：平台将依据《个人信息保护法》"
            f"等法律法规及《{rule}》开展治理，将采取公示警告、账户限制等措施，支持7天无理由退货的商品除外。",
        )
    if kind == 4:
        closes = day + timedelta(days=6)
        return Item(
            title=f"《{rule}》变更意见征集（第{n}号）",
            excerpt=f"各位会员：平台拟对《{rule}》进行调整，意见征集时间：{written(day, 1).replace('-', '/')}~"
            f"{written(closes, 1).replace('-', '/')}，请在规则众议院投票：https://rulechannel.1688.com/?taskId={task_id}#/ruleHOR/detail",
            comment_start=day.isoformat(),
            comment_end=closes.isoformat(),
        )
    resumes = day + timedelta(days=10)
    return Item(
        title=f"{day.year}年物流停运通知（第{n}号）",
        excerpt=f"各位商家：受假期影响，多家快递公司将于{written(day, 0)}至{written(resumes, 0, sibling=True)}"
        "期间暂停揽收，请合理安排发货，停运期间不计入发货超时。",
    )


def generate(count: int, seed: int = 6) -> tuple[list[Item], list[Path]]:
    """The items and the page files (reused when the same size was generated before)."""
    rng = random.Random(seed)
    items = [make_item(n, rng) for n in range(1, count + 1)]
    pages_dir = WORK / f"pages-{count}"
    pages = -(-count // PAGE_SIZE)
    files = [pages_dir / f"page-{number:05d}.txt" for number in range(1, pages + 1)]
    if not (pages_dir / "complete").exists():
        pages_dir.mkdir(parents=True, exist_ok=True)
        for number, path in enumerate(files, start=1):
            chunk = items[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
            lines = ["新闻动态", "了解更多行业资讯"]
            for item in chunk:
                lines += [f"  • {item.title}", "", f"    {item.excerpt}"]
            lines.append(f"共{count}条 当前{number}/{pages}页首页前一页12后一页尾页")
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        (pages_dir / "complete").touch()
    return items, files


def changed_copy(files: list[Path], share: float = 0.01) -> list[Path]:
    """The pages with `share` of the excerpts edited (a sentence appended), written beside them."""
    target = files[0].parent.with_name(files[0].parent.name + "-changed")
    target.mkdir(parents=True, exist_ok=True)
    every = round(1 / share)
    out = []
    counter = 0
    for path in files:
        lines = path.read_text(encoding="utf-8").split("\n")
        for index, line in enumerate(lines):
            if line.startswith("    "):
                counter += 1
                if counter % every == 0:
                    lines[index] = line + "（本条已于次日更正。）"
        copy = target / path.name
        copy.write_text("\n".join(lines), encoding="utf-8")
        out.append(copy)
    return out


def bench_extraction(items: list[Item]) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from rulecenter.ingest.extract import extract
    from rulecenter.ingest.tests import accuracy

    agree = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for item in items:
        facts = extract(item.excerpt, title=item.title).as_json()
        truth = (item.notice, item.effective, item.comment_start, item.comment_end)
        got = (facts["notice_date"], facts["effective_date"], facts["comment_start"], facts["comment_end"])
        agree += truth == got
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    corpus = [case.text for name in accuracy.SETS for case in accuracy.load(name)]
    rounds = max(1, 20000 // len(corpus))
    corpus_started, corpus_cpu_started = time.perf_counter(), time.process_time()
    for _round in range(rounds):
        for text in corpus:
            extract(text)
    corpus_elapsed = time.perf_counter() - corpus_started
    corpus_cpu = time.process_time() - corpus_cpu_started
    return {
        "items": len(items),
        "seconds": round(elapsed, 2),
        "per_second": round(len(items) / elapsed),
        "per_cpu_second": round(len(items) / cpu),
        "microseconds_each": round(cpu / len(items) * 1e6, 1),
        "agreement": round(agree / len(items), 4),
        "corpus_texts": len(corpus) * rounds,
        "corpus_per_second": round(len(corpus) * rounds / corpus_elapsed),
        "corpus_per_cpu_second": round(len(corpus) * rounds / corpus_cpu),
        "average_chars": round(sum(len(i.title) + len(i.excerpt) for i in items) / len(items)),
    }


def reset_postgres(url: str) -> str:
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")
        version = connection.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {version[0] if version else '?'}"


def run_imports(database_url: str, files: list[Path], changed: list[Path]) -> dict[str, Any]:
    """In a child process: Django is set up once per database."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.ingest",
            "--child",
            database_url,
            str(files[0].parent),
            str(changed[0].parent),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"import run failed on {database_url}:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def child(database_url: str, pages_dir: str, changed_dir: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from rulecenter.announcements.models import Announcement, ListingCounter
    from rulecenter.ingest.models import ImportRevision

    files = sorted(str(path) for path in Path(pages_dir).glob("page-*.txt"))
    changed = sorted(str(path) for path in Path(changed_dir).glob("page-*.txt"))
    call_command("migrate", verbosity=0)
    runs = {}
    for label, paths in (("first", files), ("again", files), ("changed", changed)):
        out = io.StringIO()
        started, cpu_started = time.perf_counter(), time.process_time()
        call_command("import_listing", *paths, stdout=out)
        runs[label] = {
            "seconds": round(time.perf_counter() - started, 2),
            "cpu_seconds": round(time.process_time() - cpu_started, 2),
            "report": out.getvalue().strip(),
        }
    items = Announcement.objects.count()
    counter = ListingCounter.objects.get(scope=ListingCounter.ALL).published_count
    assert items == counter, (items, counter)
    vendor = connection.vendor
    version = (
        connection.cursor().connection.execute("select sqlite_version()").fetchone()[0]
        if vendor == "sqlite"
        else ""
    )
    print(
        json.dumps(
            {
                "database": f"SQLite {version}" if vendor == "sqlite" else vendor,
                "announcements": items,
                "revisions": ImportRevision.objects.count(),
                "runs": runs,
            },
            ensure_ascii=False,
        )
    )


def table(result: dict[str, Any]) -> str:
    extraction = result["extraction"]
    load = result["load"]
    lines = [
        f"Measured {result['measured_at']} on {result['machine']} (Python {result['python']}), "
        f"`python -m bench.ingest --items {extraction['items']}`; the machine's load average was "
        f"{load['start']:.1f} at the start and {load['end']:.1f} at the end (other work shared its cores), so "
        "wall-clock figures are lower bounds and CPU-time figures (this process's own CPU) show what one "
        "free core does.",
        "",
        "| extraction, one process | per CPU second | per wall second |",
        "|---|---:|---:|",
        f"| synthetic listing items ({extraction['average_chars']} characters each on average) | "
        f"**{extraction['per_cpu_second']:,} announcements/s** ({extraction['microseconds_each']} µs each) | "
        f"{extraction['per_second']:,}/s |",
        f"| the extraction corpus's texts, repeated ({extraction['corpus_texts']:,} extractions) | "
        f"{extraction['corpus_per_cpu_second']:,}/s | {extraction['corpus_per_second']:,}/s |",
        "",
        f"Agreement with the generator's true dates: {extraction['agreement']:.2%}.",
        "",
        f"| import of {extraction['items']:,} items in {-(-extraction['items'] // PAGE_SIZE):,} page files | "
        + " | ".join(run["database"] for run in result["imports"])
        + " |",
        "|---|" + "---:|" * len(result["imports"]),
    ]
    labels = {
        "first": "first import (all new, bulk path, one transaction)",
        "again": "the same pages again (nothing changes)",
        "changed": "again with 1% of excerpts changed (updates + revisions)",
    }
    for key, label in labels.items():
        cells = []
        for run in result["imports"]:
            seconds, cpu = run["runs"][key]["seconds"], run["runs"][key]["cpu_seconds"]
            cells.append(
                f"{seconds:.1f} s = **{extraction['items'] / seconds:,.0f} items/s** "
                f"(CPU {cpu:.1f} s = {extraction['items'] / cpu:,.0f}/s)"
            )
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "CPU is the importing process's own (parsing, extraction, rendering, the ORM); PostgreSQL's server "
        "work is not in it.",
        "",
        "Reports printed by the three runs (first database):",
        "",
    ]
    for key in labels:
        lines.append(f"- {key}: {result['imports'][0]['runs'][key]['report']}")
    return "\n".join(lines)


def write_doc(text: str) -> None:
    doc = DOC.read_text(encoding="utf-8")
    if START not in doc or END not in doc:
        raise SystemExit(f"{DOC} has no {START} … {END} markers")
    before, rest = doc.split(START, 1)
    _old, after = rest.split(END, 1)
    DOC.write_text(f"{before}{START}\n{text}\n{END}{after}", encoding="utf-8")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        model = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        cpu = model.group(1).strip() if model else cpu
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, {platform.system()}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Ingest throughput: extraction and a synthetic listing import."
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--postgres", default=POSTGRES_URL, help="a PostgreSQL URL whose schema may be wiped")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/ingest.md")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    load_start = os.getloadavg()[0]
    print(f"generating {args.items:,} items …", flush=True)
    items, files = generate(args.items)
    changed = changed_copy(files)
    print("extracting …", flush=True)
    extraction = bench_extraction(items)
    print(json.dumps(extraction, ensure_ascii=False), flush=True)
    imports = []
    sqlite_file = WORK / "ingest.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{sqlite_file}{suffix}").unlink(missing_ok=True)
    print("importing into SQLite …", flush=True)
    imports.append(run_imports(f"sqlite:///{sqlite_file}", files, changed))
    if not args.no_postgres:
        label = reset_postgres(args.postgres)
        print(f"importing into {label} …", flush=True)
        run = run_imports(args.postgres, files, changed)
        run["database"] = label
        imports.append(run)
    result = {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "python": platform.python_version(),
        "extraction": extraction,
        "imports": imports,
        "load": {"start": load_start, "end": os.getloadavg()[0]},
    }
    (WORK / "results.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    text = table(result)
    print(text)
    if not args.no_doc:
        write_doc(text)


if __name__ == "__main__":
    main()
