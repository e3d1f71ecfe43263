"""The history's 共N条 comes from a tally the database keeps, and deep pages seek from remembered anchors."""

from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.test import Client

from rulecenter.common.actors import SYSTEM
from rulecenter.rules import selectors, services
from rulecenter.rules.models import Rule, RuleVersion, RuleVersionTally

from .factories import rule_create, shanghai
from .test_pages import text_of

pytestmark = pytest.mark.django_db(transaction=True)


def bulk_versions(rule: Rule, count: int) -> None:
    """Versions 1…count, noticed a day apart from 2020-01-01, each in force 12 hours after its notice."""
    start = shanghai(2020, 1, 1)
    RuleVersion.objects.bulk_create(
        RuleVersion(
            rule=rule,
            number=n,
            text="第一条 文本。",
            notice_at=start + timedelta(days=n),
            effective_at=start + timedelta(days=n, hours=12),
        )
        for n in range(1, count + 1)
    )


def tallied(rule: Rule) -> int:
    return RuleVersionTally.objects.filter(rule=rule).values_list("scheduled", flat=True).first() or 0


def counted(rule: Rule) -> int:
    return RuleVersion.objects.filter(rule=rule, notice_at__isnull=False).count()


def test_every_kind_of_write_keeps_the_tally_equal_to_a_count() -> None:
    """Services, bulk inserts, queryset updates, deletes and moves between rules: no writer can forget it."""
    one, two = rule_create(slug="one", title="规则一"), rule_create(slug="two", title="规则二")
    start = shanghai(2020, 1, 1)
    drafts = [
        services.rule_version_create(actor=SYSTEM, rule=one, text=f"第一条 第{n}版。") for n in range(3)
    ]
    assert tallied(one) == counted(one) == 0
    services.rule_version_schedule(
        actor=SYSTEM,
        version=drafts[0],
        notice_at=start,
        effective_at=start + timedelta(days=8),
        record_past=True,
    )
    assert tallied(one) == counted(one) == 1
    bulk_versions(two, 5)  # straight into the table, past every service
    assert tallied(two) == counted(two) == 5
    RuleVersion.objects.filter(pk=drafts[1].pk).update(
        notice_at=start + timedelta(days=20), effective_at=start + timedelta(days=30)
    )
    assert tallied(one) == counted(one) == 2
    RuleVersion.objects.filter(pk=drafts[1].pk).update(notice_at=None, effective_at=None)
    assert tallied(one) == counted(one) == 1
    RuleVersion.objects.filter(rule=two, number=5).update(rule=one, number=9)
    assert (tallied(one), tallied(two)) == (counted(one), counted(two)) == (2, 4)
    RuleVersion.objects.filter(rule=two, number__lte=2).delete()
    drafts[2].delete()  # a draft: nothing to take away
    assert (tallied(one), tallied(two)) == (counted(one), counted(two)) == (2, 2)
    # A scheduled version written past the services (no done notice event, so not frozen in the database).
    RuleVersion.objects.filter(rule=one, number=9).update(summary="只改摘要")
    assert tallied(one) == counted(one) == 2


def test_the_tally_cannot_be_driven_below_zero() -> None:
    rule = rule_create()
    with pytest.raises(IntegrityError), transaction.atomic():
        RuleVersionTally.objects.create(rule=rule, scheduled=-1)


def test_the_count_leaves_out_versions_noticed_later_until_their_notice() -> None:
    rule = rule_create()
    start = shanghai(2020, 1, 1)
    with time_machine.travel(start - timedelta(days=1), tick=False):
        for n in range(3):
            notice = start + timedelta(days=10 * n)
            services.rule_version_submit(
                actor=SYSTEM,
                rule=rule,
                text=f"第一条 第{n + 1}版。",
                notice_at=notice,
                effective_at=notice + timedelta(days=8),
            )
        assert selectors.version_count(rule=rule) == 0
    assert tallied(rule) == 3
    assert selectors.version_count(rule=rule, at=start) == 1
    assert selectors.version_count(rule=rule, at=start + timedelta(days=10)) == 2
    assert selectors.version_count(rule=rule, at=start + timedelta(days=25)) == 3


@pytest.mark.parametrize("size", [1, 3, 7, 20])
def test_every_history_page_matches_a_plain_reading_whether_or_not_it_starts_from_an_anchor(
    client: Client, settings, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    settings.RULECENTER_HISTORY_PAGE_SIZE = size
    monkeypatch.setattr(selectors, "HISTORY_ANCHOR_SPAN", 5)
    rule = rule_create()
    start = shanghai(2020, 1, 1)
    bulk_versions(rule, 23)
    plain = [v.number for v in RuleVersion.objects.filter(rule=rule).order_by("-effective_at")]
    total = selectors.version_count(rule=rule)
    assert total == 23
    seen: list[int] = []
    # Twice over: the first reading finds the anchors, the second uses the remembered ones.
    for offset in [*range(0, total, size), *range(0, total, size)]:
        rows = selectors.version_history(
            rule=rule, offset=offset, limit=size, at=start + timedelta(days=365), total=total
        )
        numbers = [row.version.number for row in rows]
        assert numbers == plain[offset : offset + size]
        assert [row.previous_number for row in rows] == [n - 1 if n > 1 else None for n in numbers]
        assert [row.status for row in rows] == [
            RuleVersion.Status.IN_FORCE if n == 23 else RuleVersion.Status.SUPERSEDED for n in numbers
        ]
        seen += numbers
    assert seen == plain * 2
    last = -(-total // size)
    page = text_of(client.get(f"/rules/{rule.slug}/history/", {"page": str(last)}))
    assert f"共23条 当前{last}/{last}页" in page
    assert "第 1 版" in page
