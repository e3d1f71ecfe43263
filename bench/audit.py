"""What the audit chain costs the writes, and how fast `rulecenter audit verify` reads a million entries.

    .venv/bin/python -m bench.audit                        # both parts, SQLite (+ PostgreSQL if it answers)
    .venv/bin/python -m bench.audit --no-postgresql --verify-size 100000 --no-doc

1. **Writes with and without the chain.** A fresh database (var/bench/audit-writes.sqlite3, or PostgreSQL
   `rc_audit_bench`) with the project's migrations, 200 rules and an audit chain of 100,000 entries built in
   bulk. Then, in interleaved rounds — with the audit receiver connected, then disconnected, the order
   swapped every round — the platform (SYSTEM) calls `rule_version_create` + `rule_version_update` and
   `announcement_create` + `announcement_save` (one transaction each, commit included), timing each call's
   wall and CPU time (`time.process_time`: this process only — on PostgreSQL the server's work is in the
   wall time, not the CPU time). The search receiver stays connected in both: the baseline is everything
   but the chain. Target: ≤ 1.15× per write.
2. **Verify at 1,000,000 entries.** var/bench/audit-verify.sqlite3 gets a chain of `--verify-size` entries
   built with bulk inserts — realistic data: announcement texts (0.9–2.7 KB), rule version texts (0.6–6 KB)
   and small records (tokens, roles, approvals), each hashed as the receiver hashes it — then the real
   command, `rulecenter audit verify`, is run and timed three times (entries/s).

Each part runs in its own process (Django is set up once per process, on one database). The figures go to
docs/performance.md between the `bench:audit` markers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
DOC = ROOT / "docs" / "performance.md"
START = "<!-- bench:audit:start -->"
END = "<!-- bench:audit:end -->"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "rc_audit_bench"
RULES = 200
PREFILL = 100_000
BATCH = 10_000

SAMPLE = (
    "为保障平台经营秩序，维护消费者权益，平台将对商家发货行为管理规范进行更新。本次更新于公示期满后生效，"
    "商家应在承诺时间内发货，延迟发货的，按订单金额的一定比例向买家赔付。虚假发货、发空包等行为将按违规处理。"
    "第一条 为规范发货行为，制定本规范。第二条 商家应在48小时内发货。第三条 延迟发货的，赔付金额为订单金额的10%。"
)


def _django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def _text(rng: random.Random, low: int, high: int) -> str:
    length = rng.randint(low, high)
    start = rng.randrange(len(SAMPLE))
    return (SAMPLE * (length // len(SAMPLE) + 2))[start : start + length]


def _payload(rng: random.Random, n: int) -> tuple[str, str, dict[str, Any], list[int]]:
    """(kind, action, data, rule ids) of a plausible change: the mix a rule center writes."""
    roll = rng.random()
    if roll < 0.30:
        data = {
            "title": f"《规则{n % 977}》的更新公示",
            "body": _text(rng, 300, 900),
            "summary": "",
            "kind": "rule_change",
            "category": 1 + n % 5,
            "source_url": "",
            "status": "published",
            "published_at": "2025-03-02T10:00:00+08:00",
        }
        return "announcement", rng.choice(["created", "updated", "published"]), data, []
    if roll < 0.55:
        rule = 1 + n % RULES
        data = {
            "rule": rule,
            "number": 1 + n % 40,
            "text": _text(rng, 200, 2000),
            "summary": "发货时限调整",
            "major": False,
            "notice_at": "2025-03-02T10:00:00+08:00",
            "effective_at": "2025-03-10T00:00:00+08:00",
            "buffer_ends_at": None,
            "bundle": None,
        }
        return "rule_version", rng.choice(["created", "updated", "scheduled", "noticed"]), data, [rule]
    data = {"prefix": f"rc_{n:07d}", "name": "同步", "roles": ["editor"], "user": f"user{n % 50}"}
    return "api_token", rng.choice(["issued", "revoked"]), data, []


def build_chain(count: int, *, seed: int = 11) -> float:
    """Append `count` entries (and their subjects) to the chain with executemany; returns the seconds taken."""
    from django.db import connection, transaction

    from rulecenter.audit import chain
    from rulecenter.audit.models import AuditEntry, AuditHead

    rng = random.Random(seed)
    head = AuditHead.objects.get(pk=1)
    seq, prev = head.seq, head.hash
    at = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=30 * seq)
    vendor = connection.vendor
    entry_sql = (
        "INSERT INTO audit_auditentry (seq, at, actor_id, actor_name, actor_roles, kind, action, object_ids, "
        "rule_ids, data, data_sha256, prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    )
    subject_sql = "INSERT INTO audit_auditsubject (entry_id, kind, object_id) VALUES (%s, %s, %s)"
    began = time.perf_counter()
    done = 0
    while done < count:
        entries: list[tuple[Any, ...]] = []
        subjects: list[tuple[Any, ...]] = []
        for _ in range(min(BATCH, count - done)):
            seq += 1
            at += timedelta(seconds=30)
            kind, action, data, rule_ids = _payload(rng, seq)
            actor_id = None if kind == "rule_version" and action == "noticed" else 1 + seq % 50
            name = "system" if actor_id is None else f"staff{actor_id}"
            roles = "system" if actor_id is None else rng.choice(["editor", "publisher", "editor,reviewer"])
            text = chain.canonical_json(data)
            digest = chain.sha256_hex(text)
            object_ids = chain.ids_json([seq])
            rules = chain.ids_json(rule_ids)
            canonical = chain.entry_canonical(
                seq=seq,
                at=at,
                actor_id=actor_id,
                actor_name=name,
                actor_roles=roles,
                kind=kind,
                action=action,
                object_ids=object_ids,
                rule_ids=rules,
                data_sha256=digest,
                data_stored=True,
            )
            hash_ = chain.entry_hash(prev, seq, canonical)
            stored_at: Any = at if vendor == "postgresql" else at.replace(tzinfo=None).isoformat(" ")
            entries.append(
                (
                    seq,
                    stored_at,
                    actor_id,
                    name,
                    roles,
                    kind,
                    action,
                    object_ids,
                    rules,
                    text,
                    digest,
                    prev,
                    hash_,
                )
            )
            subjects.append((seq, kind, seq))
            subjects.extend((seq, "rule", rule) for rule in rule_ids)
            prev = hash_
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(entry_sql, entries)
            cursor.executemany(subject_sql, subjects)
            AuditHead.objects.filter(pk=1).update(seq=seq, hash=prev, checkpoint_at=at)
        done += len(entries)
        print(f"  chain: {seq:,} entries", end="\r", file=sys.stderr)
    print(file=sys.stderr)
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE audit_auditentry")
            cursor.execute("ANALYZE audit_auditsubject")
    assert AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() == seq
    return time.perf_counter() - began


def _fresh_database(database_url: str) -> None:
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        import psycopg

        name = database_url.rsplit("/", 1)[1]
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {name}")


# --------------------------------------------------------------------------- part 1: the writes


def phase_writes(database_url: str, rounds: int, per_round: int, prefill: int) -> dict[str, Any]:
    _fresh_database(database_url)
    _django(database_url)
    from django.core.management import call_command
    from django.db import connection

    from rulecenter.announcements import services as announcement_services
    from rulecenter.audit import receivers
    from rulecenter.common.actors import SYSTEM
    from rulecenter.common.changes import content_changed
    from rulecenter.rules import services as rule_services

    call_command("migrate", verbosity=0)
    category = announcement_services.category_ensure(actor=SYSTEM, slug="bench", name="基准")
    rule_category = rule_services.rule_category_create(actor=SYSTEM, slug="bench", name="基准")
    rules = [
        rule_services.rule_create(
            actor=SYSTEM, slug=f"bench-{n}", title=f"基准规则{n}", category=rule_category
        )
        for n in range(RULES)
    ]
    chain_seconds = build_chain(prefill)
    rng = random.Random(5)
    operations = ["rule_version_create", "rule_version_update", "announcement_create", "announcement_save"]
    samples: dict[str, dict[str, list[tuple[float, float]]]] = {
        mode: {op: [] for op in operations} for mode in ("with", "without")
    }

    def timed(mode: str, operation: str, function: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        result = function(actor=SYSTEM, **kwargs)
        samples[mode][operation].append((time.perf_counter() - wall, time.process_time() - cpu))
        return result

    def one_round(mode: str, count: int) -> None:
        for n in range(count):
            rule = rules[rng.randrange(RULES)]
            text = _text(rng, 200, 2000)
            version = timed(
                mode,
                "rule_version_create",
                rule_services.rule_version_create,
                rule=rule,
                text=text,
                summary="调整",
            )
            timed(
                mode,
                "rule_version_update",
                rule_services.rule_version_update,
                version=version,
                text=text + "\n\n第九条 附则。",
                summary="调整",
                major=False,
            )
            body = _text(rng, 300, 900)
            announcement = timed(
                mode,
                "announcement_create",
                announcement_services.announcement_create,
                title=f"基准公告{n}",
                body=body,
                category=category,
            )
            announcement.body = body + "\n\n（更正）"
            timed(
                mode, "announcement_save", announcement_services.announcement_save, announcement=announcement
            )

    def audit(connected: bool) -> None:
        if connected:
            content_changed.connect(receivers.content_changed, dispatch_uid="audit_content_changed")
        else:
            content_changed.disconnect(dispatch_uid="audit_content_changed")

    for mode in ("with", "without"):  # warm up both paths
        audit(mode == "with")
        one_round(mode, 10)
    samples = {mode: {op: [] for op in operations} for mode in ("with", "without")}
    for index in range(rounds):
        order = ("with", "without") if index % 2 == 0 else ("without", "with")
        for mode in order:
            audit(mode == "with")
            one_round(mode, per_round)
    audit(True)
    from rulecenter.audit import selectors

    verified = selectors.audit_chain_verify()
    rows = []
    for operation in operations:
        w = samples["with"][operation]
        wo = samples["without"][operation]
        wall_with, wall_without = (statistics.median(s[0] for s in x) * 1e3 for x in (w, wo))
        cpu_with, cpu_without = (statistics.fmean(s[1] for s in x) * 1e3 for x in (w, wo))
        rows.append(
            {
                "operation": operation,
                "calls": len(w),
                "wall_with_ms": wall_with,
                "wall_without_ms": wall_without,
                "cpu_with_ms": cpu_with,
                "cpu_without_ms": cpu_without,
            }
        )
    return {
        "vendor": connection.vendor,
        "rows": rows,
        "rounds": rounds,
        "per_round": per_round,
        "prefill": prefill,
        "prefill_seconds": chain_seconds,
        "chain_after": verified.checked,
        "chain_ok": verified.ok,
    }


# --------------------------------------------------------------------------- part 2: verify


def phase_verify(database_url: str, size: int, runs: int) -> dict[str, Any]:
    path = Path(database_url.removeprefix("sqlite:///"))
    marker = path.with_suffix(".built")
    reuse = path.exists() and marker.exists() and marker.read_text().strip() == str(size)
    if not reuse:
        _fresh_database(database_url)
        marker.unlink(missing_ok=True)
    _django(database_url)
    from io import StringIO

    from django.core.management import call_command
    from django.db import connection

    build_seconds = None
    if not reuse:
        call_command("migrate", verbosity=0)
        build_seconds = build_chain(size)
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        marker.write_text(str(size))
    results = []
    for _ in range(runs):
        out = StringIO()
        wall, cpu = time.perf_counter(), time.process_time()
        call_command("audit", "verify", stdout=out)
        results.append((time.perf_counter() - wall, time.process_time() - cpu))
        print("  " + out.getvalue().splitlines()[0], file=sys.stderr)
    size_bytes = sum(Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists())
    with connection.cursor() as cursor:
        cursor.execute("SELECT avg(length(CAST(data AS BLOB))) FROM audit_auditentry")
        (average,) = cursor.fetchone()
    return {
        "vendor": connection.vendor,
        "size": size,
        "build_seconds": build_seconds,
        "runs": [{"wall": w, "cpu": c, "rate": size / w} for w, c in results],
        "database_bytes": size_bytes,
        "average_data_bytes": average,
    }


# --------------------------------------------------------------------------- the driver


def _sub(args: list[str]) -> dict[str, Any]:
    out = VAR / f"audit-{os.getpid()}-{time.monotonic_ns()}.json"
    subprocess.run([sys.executable, "-m", "bench.audit", *args, "--json", str(out)], check=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    return result


def _postgresql_up() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:
        return False


def _load() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


def _machine() -> str:
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "?"
    with contextlib.suppress(OSError, IndexError, ValueError):
        memory = f"{int(Path('/proc/meminfo').read_text().split()[1]) / 1024 / 1024:.0f} GiB"
    import sqlite3

    import django

    return (
        f"{cpu}, {os.cpu_count()} cores, {memory} RAM, Linux {platform.release()}; Python "
        f"{platform.python_version()}, Django {django.get_version()}, SQLite {sqlite3.sqlite_version}"
    )


def _section(writes: list[dict[str, Any]], verify: dict[str, Any] | None, load: tuple[str, str]) -> str:
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `python -m bench.audit` on {_machine()}; "
        f"load average {load[0]} before, {load[1]} after.",
        "",
    ]
    for result in writes:
        vendor = "SQLite (WAL, the local settings)" if result["vendor"] == "sqlite" else "PostgreSQL"
        lines += [
            f"**Writes, {vendor}**: {RULES} rules, a chain of {result['prefill']:,} entries to start with; "
            f"{result['rounds']} interleaved rounds × {result['per_round']} of each call per mode; afterwards "
            f"the chain of {result['chain_after']:,} entries verified {'sound' if result['chain_ok'] else 'BROKEN'}.",
            "",
            "| write (as SYSTEM, one transaction) | calls per mode | wall p50 without → with | × | CPU mean without → with | × |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        total = {"wall_with_ms": 0.0, "wall_without_ms": 0.0, "cpu_with_ms": 0.0, "cpu_without_ms": 0.0}
        for row in result["rows"]:
            for key in total:
                total[key] += row[key]
            lines.append(
                f"| `{row['operation']}` | {row['calls']:,} | {row['wall_without_ms']:.2f} → {row['wall_with_ms']:.2f} ms "
                f"| {row['wall_with_ms'] / row['wall_without_ms']:.2f} | {row['cpu_without_ms']:.2f} → "
                f"{row['cpu_with_ms']:.2f} ms | {row['cpu_with_ms'] / row['cpu_without_ms']:.2f} |"
            )
        lines += [
            f"| all four | | {total['wall_without_ms']:.2f} → {total['wall_with_ms']:.2f} ms | "
            f"**{total['wall_with_ms'] / total['wall_without_ms']:.2f}** | {total['cpu_without_ms']:.2f} → "
            f"{total['cpu_with_ms']:.2f} ms | **{total['cpu_with_ms'] / total['cpu_without_ms']:.2f}** |",
            "",
        ]
    if verify is not None:
        rates = [run["rate"] for run in verify["runs"]]
        build = f", built in {verify['build_seconds']:.0f} s" if verify["build_seconds"] else ""
        lines += [
            f"**Verify, SQLite**: `rulecenter audit verify` over {verify['size']:,} entries (data {verify['average_data_bytes']:.0f} "
            f"bytes on average, all kept as text; database {verify['database_bytes'] / 2**30:.2f} GiB{build}), "
            f"{len(rates)} runs: "
            + ", ".join(
                f"{run['wall']:.1f} s ({run['rate']:,.0f} entries/s, CPU {run['cpu']:.1f} s)"
                for run in verify["runs"]
            )
            + f". Median **{statistics.median(rates):,.0f} entries/s**.",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def _write_doc(section: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    block = f"{START}\n{section}{END}"
    if START in text:
        before, rest = text.split(START, 1)
        text = before + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + f"\n\n## The audit chain (issue 11)\n\n{block}\n"
    DOC.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--phase", choices=["writes", "verify"], help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=50, help="calls of each write per mode and round")
    parser.add_argument("--prefill", type=int, default=PREFILL, help="entries in the chain before the writes")
    parser.add_argument("--verify-size", type=int, default=1_000_000)
    parser.add_argument("--verify-runs", type=int, default=3)
    parser.add_argument("--no-postgresql", action="store_true")
    parser.add_argument("--no-verify", action="store_true")
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    VAR.mkdir(parents=True, exist_ok=True)
    if args.phase == "writes":
        result = phase_writes(args.database_url, args.rounds, args.per_round, args.prefill)
        args.json.write_text(json.dumps(result))
        return
    if args.phase == "verify":
        args.json.write_text(json.dumps(phase_verify(args.database_url, args.verify_size, args.verify_runs)))
        return

    load_before = _load()
    common = [
        "--rounds",
        str(args.rounds),
        "--per-round",
        str(args.per_round),
        "--prefill",
        str(args.prefill),
    ]
    urls = [f"sqlite:///{VAR / 'audit-writes.sqlite3'}"]
    if not args.no_postgresql and _postgresql_up():
        urls.append(f"postgres://postgres@127.0.0.1:5432/{PG_DATABASE}")
    writes = []
    for url in urls:
        print(f"writes on {url.split(':')[0]} …", file=sys.stderr)
        writes.append(_sub(["--phase", "writes", "--database-url", url, *common]))
    verify = None
    if not args.no_verify:
        print(f"verify at {args.verify_size:,} entries …", file=sys.stderr)
        verify = _sub(
            [
                "--phase",
                "verify",
                "--database-url",
                f"sqlite:///{VAR / 'audit-verify.sqlite3'}",
                "--verify-size",
                str(args.verify_size),
                "--verify-runs",
                str(args.verify_runs),
            ]
        )
    section = _section(writes, verify, (load_before, _load()))
    print(section)
    if not args.no_doc:
        _write_doc(section)
        print(f"written to {DOC.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
