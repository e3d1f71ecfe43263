"""What a case costs to file, and whether a rule's public statistics stay cheap as its cases grow.

    .venv/bin/python -m bench.cases                 # 1,000 / 10,000 / 100,000 cases on one rule, SQLite
    .venv/bin/python -m bench.cases --sizes 1000 10000 --no-doc

A fresh SQLite database (var/bench/cases.sqlite3) with the project's migrations, one rule with two versions
and 2,000 members. Then:

1. **Filing.** `case_file` through the service (pinning the version in force, checking the clause, the
   timeline step, the audit entry, the member's notice scheduled) side by side, in interleaved rounds, with
   the same rows written by plain ORM inserts (`Case` + `CaseStep`): wall and CPU time per case.
2. **Statistics at N cases.** The rule's cases are grown to each size with bulk inserts (statuses and
   outcomes mixed), then `/rules/<slug>/cases/` is requested in process through Django's test client side
   by side with the rule's own page, each request with a query string of its own (so no cache answers): wall and CPU time per request (median of 200), and the queries each
   page runs (constant is the target: they must not grow with N).

The figures go to docs/performance.md between the `bench:cases` markers.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
DB = VAR / "cases.sqlite3"
DOC = ROOT / "docs" / "performance.md"
START = "<!-- bench:cases:start -->"
END = "<!-- bench:cases:end -->"
MEMBERS = 2000
TEXT = "我在 2025-03-15 被判延迟发货，但当时的规则是48小时内发货，我在30小时内发出。请撤销处罚。" * 3


def _django() -> None:
    VAR.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DB}{suffix}").unlink(missing_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{DB}"
    os.environ["RULECENTER_VAR_DIR"] = str(VAR / "cases-var")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["ALLOWED_HOSTS"] = "testserver,localhost"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # the pages name hashed static files


def _world() -> tuple[Any, list[Any]]:
    from django.contrib.auth.models import User

    from rulecenter.accounts.models import Member
    from rulecenter.common.actors import SYSTEM
    from rulecenter.rules import services as rules

    category = rules.rule_category_create(actor=SYSTEM, slug="market", name="市场管理")
    rule = rules.rule_create(actor=SYSTEM, slug="shipping", title="发货规范", category=category)
    for text, effective in (("第一条 总则。\n\n第二条 商家应在48小时内发货。", datetime(2024, 1, 10, tzinfo=UTC)),
                            ("第一条 总则。\n\n第二条 商家应在24小时内发货。", datetime(2025, 6, 1, tzinfo=UTC))):  # fmt: skip
        version = rules.rule_version_create(actor=SYSTEM, rule=rule, text=text)
        rules.rule_version_schedule(
            actor=SYSTEM, version=version, notice_at=effective - timedelta(days=20), effective_at=effective,
            record_past=True,
        )  # fmt: skip
    users = User.objects.bulk_create(User(username=f"m{n:05d}", password="!") for n in range(MEMBERS))
    Member.objects.bulk_create(
        Member(user=user, joined_on=datetime(2024, 1, 1, tzinfo=UTC).date()) for user in users
    )
    return rule, list(User.objects.filter(username__startswith="m").order_by("pk"))


def _timed(call: Any) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def filing(rule: Any, users: list[Any], rounds: int) -> dict[str, float]:
    from django.db import transaction
    from django.utils import timezone

    from rulecenter.accounts.roles import actor_for
    from rulecenter.cases import services
    from rulecenter.cases.models import Case, CaseStep

    at = datetime(2025, 3, 15, 6, 30, tzinfo=UTC)
    version = rule.versions.get(number=1)
    service: list[tuple[float, float]] = []
    plain: list[tuple[float, float]] = []
    counter = iter(range(10**9))

    def through_service(user: Any) -> None:
        services.case_file(
            actor=actor_for(user), member=user, subject="application", rule_slug="shipping", at=at,
            clause="article-2", text=TEXT,
        )  # fmt: skip

    def by_insert(user: Any) -> None:
        with transaction.atomic():
            now = timezone.now()
            case = Case.objects.create(
                number=f"P{next(counter):019d}", member=user, subject="application", rule=rule, version=version,
                at=at, clause="article-2", text=TEXT, received_at=now, due_at=now + timedelta(days=7),
            )  # fmt: skip
            CaseStep.objects.create(case=case, kind="filed", at=now, actor_id=user.pk)

    for n in range(rounds):
        user = users[n % len(users)]
        pair = [(service, through_service), (plain, by_insert)]
        for bucket, call in pair if n % 2 == 0 else reversed(pair):
            bucket.append(_timed(lambda call=call, user=user: call(user)))
    med = statistics.median
    return {
        "service_ms": med(w for w, _ in service) * 1000,
        "service_cpu_ms": med(c for _, c in service) * 1000,
        "insert_ms": med(w for w, _ in plain) * 1000,
        "insert_cpu_ms": med(c for _, c in plain) * 1000,
    }


def grow(rule: Any, users: list[Any], total: int) -> None:
    """Bulk-insert cases on the rule until it has `total` (statuses and outcomes mixed, a tenth overdue)."""
    from django.db import connection

    from rulecenter.cases.models import Case

    have = Case.objects.filter(rule=rule).count()
    version = rule.versions.get(number=1)
    rng = random.Random(total)
    now = datetime.now(UTC)
    rows = []
    for n in range(have, total):
        received = now - timedelta(days=rng.randint(0, 400))
        status = rng.choice(["received", "under_review", "answered", "answered", "closed", "closed"])
        answered = status in ("answered", "closed")
        rows.append((
            f"B{n:019d}", users[n % len(users)].pk, "application", rule.pk, version.pk,
            datetime(2025, 3, 15, tzinfo=UTC).isoformat(), "", "", False, TEXT, status, received.isoformat(),
            (received + timedelta(days=7)).isoformat(),
            rng.choice(["upheld", "partly_upheld", "rejected"]) if answered else "",
            "理由" if answered else "", (received + timedelta(days=3)).isoformat() if answered else None,
            rng.random() < 0.9 if answered else None,
        ))  # fmt: skip
    sql = (
        "INSERT INTO cases_case (number, member_id, subject, rule_id, version_id, at, clause, penalty_reference,"
        " automated, text, status, received_at, due_at, outcome, answer, answered_at, answered_in_time)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 10_000):
            cursor.executemany(sql, rows[start : start + 10_000])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def pages(samples: int) -> dict[str, float]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    found: dict[str, float] = {}
    for name, path in (("stats", "/rules/shipping/cases/"), ("rule", "/rules/shipping/")):
        # Each request its own URL: the shared cache keeps a page for its max-age, and the point is its cost.
        assert client.get(path).status_code == 200, path
        with CaptureQueriesContext(connection) as queries:
            client.get(f"{path}?q=first")
        found[f"{name}_queries"] = len(queries.captured_queries)
        timings = [_timed(lambda n=n, path=path: client.get(f"{path}?n={n}")) for n in range(samples)]
        found[f"{name}_ms"] = statistics.median(w for w, _ in timings) * 1000
        found[f"{name}_cpu_ms"] = statistics.median(c for _, c in timings) * 1000
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    sys.setrecursionlimit(10_000)
    _django()
    rule, users = _world()
    filed = filing(rule, users, args.rounds)
    print(f"filing: service {filed['service_ms']:.2f} ms ({filed['service_cpu_ms']:.2f} CPU) vs "
          f"plain inserts {filed['insert_ms']:.2f} ms ({filed['insert_cpu_ms']:.2f} CPU)")  # fmt: skip
    rows = []
    for size in sorted(args.sizes):
        grow(rule, users, size)
        found = pages(args.samples)
        rows.append((size, found))
        print(f"{size:>8} cases: stats {found['stats_ms']:.2f} ms ({found['stats_cpu_ms']:.2f} CPU, "
              f"{found['stats_queries']:.0f} queries) · rule page {found['rule_ms']:.2f} ms "
              f"({found['rule_cpu_ms']:.2f} CPU, {found['rule_queries']:.0f} queries)")  # fmt: skip
    if args.no_doc:
        return
    lines = [
        START,
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()} ({os.cpu_count()} cores), SQLite, one "
        f"process; `python -m bench.cases` ({args.rounds} filings, {args.samples} requests per figure).",
        "",
        "| filing one case | wall | CPU |",
        "|---|---|---|",
        f"| `case_file` (pin, clause check, timeline, audit entry, notice queued) | {filed['service_ms']:.2f} ms "
        f"| {filed['service_cpu_ms']:.2f} ms |",
        f"| the same rows by plain inserts | {filed['insert_ms']:.2f} ms | {filed['insert_cpu_ms']:.2f} ms |",
        f"| ratio | {filed['service_ms'] / filed['insert_ms']:.1f}× | "
        f"{filed['service_cpu_ms'] / filed['insert_cpu_ms']:.1f}× |",
        "",
        "| cases on the rule | `/rules/<slug>/cases/` wall · CPU · queries | the rule's page wall · CPU · queries |",
        "|---|---|---|",
        *(
            f"| {size:,} | {f['stats_ms']:.2f} ms · {f['stats_cpu_ms']:.2f} ms · {f['stats_queries']:.0f} | "
            f"{f['rule_ms']:.2f} ms · {f['rule_cpu_ms']:.2f} ms · {f['rule_queries']:.0f} |"
            for size, f in rows
        ),
        END,
    ]
    text = DOC.read_text(encoding="utf-8")
    block = "\n".join(lines)
    if START in text:
        text = text[: text.index(START)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n## Cases (complaints and appeals)\n\n" + block + "\n"
    DOC.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
