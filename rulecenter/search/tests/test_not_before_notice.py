"""Search finds a rule version only from its notice's second (issue 11: nothing before its notice).

A scheduled version is indexed when it is scheduled, with its notice as `visible_at`, and every query
hides it until then; a draft is never indexed at all. When the lifecycle runner publishes the notice, the
NOTICED change reaches search's receiver like any other change of a version: the rule is re-indexed.
"""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.test import Client

from rulecenter.common.actors import SYSTEM
from rulecenter.rules import lifecycle, services
from rulecenter.rules.models import RuleVersion
from rulecenter.rules.tests.factories import OLD_TEXT, rule_create, shanghai
from rulecenter.search import indexer, inputs, segmenter, selectors
from rulecenter.search.backends import tantivy as engine
from rulecenter.search.models import OutboxEntry

pytestmark = pytest.mark.django_db

CREATED = shanghai(2025, 2, 1, 9)
NOTICE = shanghai(2025, 3, 1, 10, 0, 0)
UPCOMING = "第一条 为规范发货行为，制定本规范。\n\n第二条 跨境直邮订单应在72小时内发货。"
DRAFT = "第一条 为规范发货行为，制定本规范。\n\n第二条 商家须缴纳海外仓保证金。"


def found(q: str) -> int:
    indexer.catch_up_for_search()
    return selectors.search(q=q, filters=inputs.build_filters(), raw_page=None, size=20).total


@pytest.fixture
def rule_with_upcoming_and_draft() -> int:
    """A rule in force since 2024, its v2 noticed at NOTICE and a v3 draft; returns the rule's id."""
    with time_machine.travel(CREATED, tick=False):
        rule = rule_create(slug="shipping")
        first = services.rule_version_create(actor=SYSTEM, rule=rule, text=OLD_TEXT)
        services.rule_version_schedule(
            actor=SYSTEM,
            version=first,
            notice_at=shanghai(2024, 1, 1, 10),
            effective_at=shanghai(2024, 1, 10),
            record_past=True,
        )
        upcoming = services.rule_version_create(actor=SYSTEM, rule=rule, text=UPCOMING)
        services.rule_version_schedule(
            actor=SYSTEM, version=upcoming, notice_at=NOTICE, effective_at=NOTICE + timedelta(days=10)
        )
        services.rule_version_create(actor=SYSTEM, rule=rule, text=DRAFT)
        assert found("发货") == 1  # builds the index; the rule is found by its version in force
    return rule.pk


@pytest.mark.parametrize(("moment", "hits"), [(NOTICE - timedelta(seconds=1), 0), (NOTICE, 1)])
def test_a_word_only_an_unnoticed_version_has_is_found_from_its_notice_second(
    client: Client, rule_with_upcoming_and_draft: int, moment: datetime, hits: int
) -> None:
    with time_machine.travel(moment, tick=False):
        assert found("跨境直邮") == hits
        api = client.get("/api/v1/search", {"q": "跨境直邮"}).json()
        assert api["count"] == hits
        assert [item["version"] for item in api["items"]] == [2] * hits
        page = client.get("/search/", {"q": "跨境直邮"}).content.decode()
        assert ("/rules/shipping/versions/2/" in page) is bool(hits)


def test_a_draft_is_never_indexed(rule_with_upcoming_and_draft: int) -> None:
    with time_machine.travel(shanghai(2099, 1, 1), tick=False):
        assert found("海外仓保证金") == 0
        assert found("跨境直邮") == 1
    assert "保证金" in segmenter.tokens(DRAFT)  # the term the draft would be indexed under
    index, _schema, _generation = engine.reader.get()
    assert index.searcher().doc_freq("text", "保证金") == 0  # not hidden: absent


def test_the_runner_s_notice_reaches_search_and_the_version_is_found(
    rule_with_upcoming_and_draft: int,
) -> None:
    with time_machine.travel(NOTICE + timedelta(seconds=2), tick=False):
        before = OutboxEntry.objects.count()
        ran = lifecycle.lifecycle_run_due()
        assert [event.kind for event in ran] == ["notice"]
        rows = list(OutboxEntry.objects.order_by("id")[before:].values_list("entity", "object_id"))
        assert (OutboxEntry.Entity.RULE, rule_with_upcoming_and_draft) in rows
        assert found("跨境直邮") == 1


def test_a_version_moved_to_a_later_notice_disappears_until_then(rule_with_upcoming_and_draft: int) -> None:
    later = NOTICE + timedelta(days=5)
    upcoming = RuleVersion.objects.get(rule_id=rule_with_upcoming_and_draft, number=2)
    with time_machine.travel(CREATED + timedelta(hours=1), tick=False):
        services.rule_version_schedule(
            actor=SYSTEM, version=upcoming, notice_at=later, effective_at=later + timedelta(days=10)
        )
    with time_machine.travel(NOTICE, tick=False):
        assert found("跨境直邮") == 0
    with time_machine.travel(later - timedelta(seconds=1), tick=False):
        assert found("跨境直邮") == 0
    with time_machine.travel(later, tick=False):
        assert found("跨境直邮") == 1
