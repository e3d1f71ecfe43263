"""Reads for the lead's pages: an announcement's facts, calendar entries, search's date filter."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from pytest_django import DjangoAssertNumQueries

from rulecenter.announcements import services as announcement_services
from rulecenter.announcements.demo import SEED_FILE
from rulecenter.announcements.models import Announcement
from rulecenter.common.actors import SYSTEM
from rulecenter.ingest import listing, selectors, services
from rulecenter.rules import services as rule_services
from rulecenter.rules.tests.factories import rule_create

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def seed() -> dict[str, Announcement]:
    services.listing_import(
        actor=SYSTEM, pages=[listing.parse(SEED_FILE.read_text(encoding="utf-8"), name="page-1.txt")]
    )
    return {a.title: a for a in Announcement.objects.all()}


def test_facts_link_rule_names_to_the_library(
    seed: dict[str, Announcement], django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    rule = rule_create(slug="prohibited-goods", title="1688指定渠道禁限售规则")
    # Only a public rule (one of its versions noticed) is linked: an unnoticed one's page is a 404.
    version = rule_services.rule_version_create(actor=SYSTEM, rule=rule, text="第一条 示例。")
    rule_services.rule_version_schedule(
        actor=SYSTEM,
        version=version,
        notice_at=datetime(2024, 1, 1, tzinfo=SHANGHAI),
        effective_at=datetime(2024, 1, 10, tzinfo=SHANGHAI),
        record_past=True,
    )
    announcement = seed["《1688指定渠道禁限售规则》和其相关规则的更新公示"]
    with django_assert_num_queries(3):
        facts = selectors.facts_for_announcement(announcement.pk)
    assert facts is not None
    assert (facts.kind, facts.kind_label) == ("rule_change_notice", "规则变更公示")
    assert (facts.notice_date, facts.effective_date) == (date(2025, 2, 10), date(2025, 2, 18))
    assert [(r.name, r.url) for r in facts.rules] == [
        ("1688指定渠道禁限售规则", rule.get_absolute_url()),
        ("禁售商品规则-其他国家或地区禁售商品", None),
    ]
    assert facts.source == "rulechannel.1688.com"
    assert facts.revision_count == 0


def test_an_announcement_without_facts_has_none(seed: dict[str, Announcement]) -> None:
    assert selectors.facts_for_announcement(10**9) is None


def test_calendar_entries_are_the_published_items_dates_in_order(seed: dict[str, Announcement]) -> None:
    entries = selectors.calendar_entries()
    assert [(e.at.date().isoformat(), e.label) for e in entries] == [
        ("2025-01-15", "意见征集开始"),
        ("2025-01-16", "意见征集开始"),
        ("2025-01-22", "意见征集截止"),
        ("2025-01-23", "意见征集截止"),
        ("2025-02-10", "公示"),
        ("2025-02-10", "公示"),
        ("2025-02-18", "生效"),
        ("2025-02-18", "生效"),
    ]
    assert entries[0].at == datetime(2025, 1, 15, tzinfo=SHANGHAI)
    assert entries[-1].url.startswith("/news/")
    assert entries[0].uid.startswith("announcement-")


def test_calendar_entries_respect_bounds_and_drafts(seed: dict[str, Announcement]) -> None:
    start = datetime(2025, 2, 1, tzinfo=SHANGHAI)
    end = datetime(2025, 2, 18, tzinfo=SHANGHAI)
    assert {e.label for e in selectors.calendar_entries(start=start, end=end)} == {"公示"}
    announcement_services.announcement_withdraw(
        actor=SYSTEM, announcement=seed["《1688商家发货行为管理规范》的更新公告"], reason="内容有误"
    )
    assert len(selectors.calendar_entries(start=start, end=end)) == 1


def test_ids_by_extracted_date_feed_a_search_filter(seed: dict[str, Announcement]) -> None:
    ids = selectors.announcement_ids_with_date(
        field="effective_date", start=date(2025, 2, 1), end=date(2025, 2, 28)
    )
    titles = set(Announcement.objects.filter(pk__in=ids).values_list("title", flat=True))
    assert titles == {
        "《1688指定渠道禁限售规则》和其相关规则的更新公示",
        "《1688商家发货行为管理规范》的更新公告",
    }
    assert not selectors.announcement_ids_with_date(field="comment_end", end=date(2025, 1, 1)).exists()
    with pytest.raises(ValueError, match="title"):
        selectors.announcement_ids_with_date(field="title")  # type: ignore[arg-type]


def test_revisions_are_counted_and_listed(seed: dict[str, Announcement]) -> None:
    changed = SEED_FILE.read_text(encoding="utf-8").replace(
        "2025年2月18日生效。具体内容如下", "2025年2月20日生效。具体内容如下"
    )
    services.listing_import(actor=SYSTEM, pages=[listing.parse(changed, name="page-1.txt")])
    announcement = seed["《1688商家发货行为管理规范》的更新公告"]
    facts = selectors.facts_for_announcement(announcement.pk)
    assert facts is not None
    assert (facts.effective_date, facts.revision_count) == (date(2025, 2, 20), 1)
    assert "2025年2月18日生效" in selectors.revisions_of(announcement_id=announcement.pk).get().excerpt
