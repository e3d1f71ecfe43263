"""Point-in-time lookups and history pages stay flat from 10 to 10,000 versions of a rule (issue 3).

`python -m bench.rules` builds two rules in var/bench/rules.sqlite3 (or DATABASE_URL) — one with 10
versions and one with 10,000 — then times, in one run and side by side, the same requests against
both through Django's full request path (middleware, view, template): `/rules/<slug>/?at=…`, the
history page (first, middle and last page) and the API's `/at` endpoint. It prints the p50/p95 of
each and the ratio big/small; the target is ≤ 1.2×.

The history runs with 10 versions per page (`RULECENTER_HISTORY_PAGE_SIZE`, 20 in production), so the
10-version rule's only page and every page of the big one show the same number of rows: the ratio then
measures what the number of versions costs, not the cost of rendering more rows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "rules-performance.md"
HISTORY_PAGE_SIZE = 10


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1"
    os.environ["RULECENTER_HISTORY_PAGE_SIZE"] = str(HISTORY_PAGE_SIZE)
    import django

    django.setup()


def build(sizes: list[int]) -> None:
    from django.core.management import call_command
    from django.db import connection, transaction

    from rulecenter.rules.models import LifecycleEvent, Rule, RuleCategory, RuleVersion

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    category, _ = RuleCategory.objects.get_or_create(slug="bench", defaults={"name": "基准"})
    start = datetime(1990, 1, 1, tzinfo=UTC)
    for size in sizes:
        slug = f"bench-{size}"
        if Rule.objects.filter(slug=slug, versions__number=size).exists():
            continue
        with transaction.atomic():
            Rule.objects.filter(slug=slug).delete() if not RuleVersion.objects.filter(
                rule__slug=slug
            ).exists() else None
            rule, _ = Rule.objects.get_or_create(
                slug=slug, defaults={"title": f"基准规则{size}", "category": category}
            )
            RuleVersion.objects.filter(rule=rule).delete()
            step = timedelta(days=1)
            versions = []
            for n in range(size):
                notice = start + step * n
                text = "\n\n".join(
                    f"第{a}条 第{n + 1}版第{a}条的示例文本，商家应在48小时内发货。" for a in range(1, 11)
                )
                versions.append(
                    RuleVersion(
                        rule=rule,
                        number=n + 1,
                        text=text,
                        summary=f"第{n + 1}版",
                        notice_at=notice,
                        effective_at=notice + timedelta(hours=12),
                    )
                )
            RuleVersion.objects.bulk_create(versions, batch_size=1000)
            LifecycleEvent.objects.filter(version__rule=rule).delete()
    if connection.vendor == "postgresql":
        # What autovacuum does soon after a bulk load; without statistics the planner guesses a handful
        # of rows per rule and sorts instead of walking the index.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE rules_ruleversion")


def timed(client, url: str, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=f"sqlite:///{ROOT / 'var' / 'bench' / 'rules.sqlite3'}")
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    setup_django(args.database_url)
    from django.db import connection
    from django.test import Client
    from django.urls import NoReverseMatch, reverse

    small, big = 10, 10_000
    build([small, big])
    client = Client()
    at_small = (datetime(1990, 1, 1, tzinfo=UTC) + timedelta(days=small // 2, hours=13)).isoformat()
    at_big = (datetime(1990, 1, 1, tzinfo=UTC) + timedelta(days=big // 2, hours=13)).isoformat()
    cases = [
        (
            "rule page ?at= (middle version)",
            f"/rules/bench-{small}/?at={at_small}",
            f"/rules/bench-{big}/?at={at_big}",
        ),
        ("rule page, version in force now", f"/rules/bench-{small}/", f"/rules/bench-{big}/"),
        ("history, page 1", f"/rules/bench-{small}/history/", f"/rules/bench-{big}/history/"),
        (
            "history, middle page",
            f"/rules/bench-{small}/history/",
            f"/rules/bench-{big}/history/?page={big // HISTORY_PAGE_SIZE // 2}",
        ),
        (
            "history, last page",
            f"/rules/bench-{small}/history/",
            f"/rules/bench-{big}/history/?page={big // HISTORY_PAGE_SIZE}",
        ),
    ]
    try:
        reverse("api:rule_at", kwargs={"slug": "x"})
        cases.append(
            (
                "API /rules/{slug}/at",
                f"/api/v1/rules/bench-{small}/at?time={at_small.replace('+', '%2B')}",
                f"/api/v1/rules/bench-{big}/at?time={at_big.replace('+', '%2B')}",
            )
        )
    except NoReverseMatch:
        pass
    rows = []
    for label, url_small, url_big in cases:
        timed(client, url_small, 20)
        timed(client, url_big, 20)  # warm up
        # Interleave the two so machine noise hits both alike.
        s_samples: list[float] = []
        b_samples: list[float] = []
        for _ in range(args.repeat // 50):
            s_samples += timed(client, url_small, 50)
            b_samples += timed(client, url_big, 50)
        s50, b50 = statistics.median(s_samples), statistics.median(b_samples)
        s95 = statistics.quantiles(s_samples, n=20)[-1]
        b95 = statistics.quantiles(b_samples, n=20)[-1]
        rows.append((label, s50, s95, b50, b95, b50 / s50))
    vendor = connection.vendor
    lines = [
        f"| request | {small} versions p50 / p95 (ms) | {big:,} versions p50 / p95 (ms) | ratio (p50) |",
        "|---|---|---|---|",
    ]
    for label, s50, s95, b50, b95, ratio in rows:
        lines.append(f"| {label} | {s50:.2f} / {s95:.2f} | {b50:.2f} / {b95:.2f} | {ratio:.2f}× |")
    table = "\n".join(lines)
    print(f"database: {vendor}, {args.repeat} requests each, in-process through the full Django request path")
    print(table)
    section = (
        f"\n## Rules: point in time and history, 10 vs 10,000 versions ({vendor})\n\n"
        f"Measured {datetime.now(UTC):%Y-%m-%d} by `python -m bench.rules` on {os.cpu_count()} cores: "
        f"{args.repeat} requests per cell through Django's full request path (test client, no network), "
        "the two rules interleaved. History pages show "
        f"{HISTORY_PAGE_SIZE} versions (the small rule's only page is compared with the big rule's first, "
        "middle and last). Target: ≤ 1.2× latency at 10,000 versions.\n\n" + table + "\n"
    )
    DOC.parent.mkdir(exist_ok=True)
    existing = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Rules performance\n"
    marker = f"\n## Rules: point in time and history, 10 vs 10,000 versions ({vendor})\n"
    if marker in existing:
        existing = existing.split(marker)[0].rstrip() + "\n"
        # keep sections of other vendors that followed
    DOC.write_text(existing.rstrip() + "\n" + section, encoding="utf-8")
    print(f"written to {DOC.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
