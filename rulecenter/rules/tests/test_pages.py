import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from icalendar import Calendar

from rulecenter.accounts.services import member_create
from rulecenter.common.actors import SYSTEM
from rulecenter.common.tests.pages import unmarked
from rulecenter.rules.demo import load_demo_rules
from rulecenter.rules.models import ChangeBundle, ExitRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo() -> None:
    load_demo_rules()


def text_of(response) -> str:
    return text_of_html(response.content.decode())


def test_library_lists_rules_by_category(client: Client, demo: None) -> None:
    page = text_of(client.get("/rules/"))
    assert "市场管理" in page
    assert "禁限售" in page
    assert "《1688指定渠道禁限售规则》" in page
    assert "《保理服务协议》" in page


def test_at_just_before_and_just_after_the_change_shows_old_then_new(client: Client, demo: None) -> None:
    before = text_of(client.get("/rules/prohibited-goods/", {"at": "2025-02-17T23:59:59+08:00"}))
    after = text_of(client.get("/rules/prohibited-goods/", {"at": "2025-02-18T00:00+08:00"}))
    assert "第 1 版" in before
    assert "扣除2分" in before
    assert "历史版本" in before
    assert "第 2 版" in after
    assert "扣除4分" in after


def test_rule_page_shows_the_version_in_force_now(client: Client, demo: None) -> None:
    page = text_of(client.get("/rules/prohibited-goods/"))
    assert "第 2 版" in page
    assert "示例文本" in page  # the demo text says it is illustrative


def test_a_noticed_upcoming_version_shows_a_banner_with_countdown_and_exit(
    client: Client, demo: None
) -> None:
    page = text_of(client.get("/rules/trustpass-agreement/"))
    assert "第 2 版已于" in page
    assert "还有 13 天" in page or "还有 14 天" in page
    assert "查看变更对比" in page
    assert "申请退出" in page


def test_clauses_have_stable_anchors(client: Client, demo: None) -> None:
    html = client.get("/rules/shipping-conduct/").content.decode()
    assert 'id="article-3"' in html
    assert 'href="#article-3"' in html


@pytest.mark.parametrize("at", ["yesterday", "2025-13-45", "%00", "2025-02-18T25:00"])
def test_a_bad_instant_is_a_404_that_explains_the_format(client: Client, demo: None, at: str) -> None:
    response = client.get("/rules/prohibited-goods/", {"at": at})
    assert response.status_code == 404
    assert "ISO 8601" in response.content.decode()


def test_before_the_first_version_there_is_nothing_in_force(client: Client, demo: None) -> None:
    response = client.get("/rules/prohibited-goods/", {"at": "2020-01-01"})
    assert response.status_code == 404
    assert "尚无生效版本" in response.content.decode()


def test_history_lists_every_version_with_dates_and_status(client: Client, demo: None) -> None:
    page = text_of(client.get("/rules/prohibited-goods/history/"))
    assert "第 2 版" in page
    assert "第 1 版" in page
    assert "现行有效" in page
    assert "已被替代" in page
    assert "2025-02-10 10:00" in page
    assert "2025-02-18 00:00" in page


def test_diff_shows_clause_changes_with_the_legend(client: Client, demo: None) -> None:
    response = client.get("/rules/shipping-conduct/diff/", {"from": "1", "to": "2"})
    html = response.content.decode()
    assert response.status_code == 200
    for word in ("新增", "删除", "修改"):
        assert word in text_of(response)
    assert '<del class="diff-del">' in html
    assert '<ins class="diff-ins">' in html
    assert 'id="article-5"' in html  # the added definition of 欺诈发货
    inline = client.get("/rules/shipping-conduct/diff/", {"from": "1", "to": "2", "view": "inline"})
    assert '<ins class="diff-ins">' in inline.content.decode()


@pytest.mark.parametrize(
    "query",
    [{}, {"from": "1"}, {"from": "1", "to": "9"}, {"from": "x", "to": "2"}, {"from": "-1", "to": "2"}],
)
def test_diff_with_missing_or_unknown_versions_is_a_clear_404(
    client: Client, demo: None, query: dict[str, str]
) -> None:
    response = client.get("/rules/shipping-conduct/diff/", query)
    assert response.status_code == 404
    assert re.search("没有第 .* 版|指定两个版本号", response.content.decode())


def test_every_version_downloads_as_markdown_text_and_json(client: Client, demo: None) -> None:
    markdown = client.get("/rules/shipping-conduct/versions/1.md")
    assert markdown["Content-Type"].startswith("text/markdown")
    assert 'filename="shipping-conduct-v1.md"' in markdown["Content-Disposition"]
    assert "48小时内发货" in markdown.content.decode()
    plain = client.get("/rules/shipping-conduct/versions/1.txt").content.decode()
    assert "第三条" in plain
    assert "**" not in plain
    data = json.loads(client.get("/rules/shipping-conduct/versions/2.json").content)
    assert data["number"] == 2
    assert data["status"] == "in_force"
    assert data["effective_at"].startswith("2025-02-17T16:00:00")
    assert [c["anchor"] for c in data["clauses"]][-1] == "article-5"


def test_unknown_rules_and_versions_are_404(client: Client, demo: None) -> None:
    assert client.get("/rules/nope/").status_code == 404
    assert client.get("/rules/shipping-conduct/versions/9/").status_code == 404
    assert client.get("/rules/shipping-conduct/versions/9.json").status_code == 404


def test_drafts_are_not_public(client: Client, demo: None) -> None:
    from rulecenter.rules import services
    from rulecenter.rules.models import Rule

    services.rule_version_create(
        actor=SYSTEM, rule=Rule.objects.get(slug="shipping-conduct"), text="第一条 草稿内容"
    )
    assert client.get("/rules/shipping-conduct/versions/3/").status_code == 404
    assert "草稿内容" not in client.get("/rules/shipping-conduct/history/").content.decode()


def test_ics_has_the_effective_date_of_the_demo_change(client: Client, demo: None) -> None:
    response = client.get("/calendar.ics")
    assert response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = [(str(e["SUMMARY"]), e.decoded("DTSTART")) for e in calendar.walk("VEVENT")]
    effective = [
        (summary, start)
        for summary, start in events
        if "1688指定渠道禁限售规则" in summary and "生效" in summary and start.year == 2025
    ]
    assert len(effective) == 1
    assert (
        effective[0][1].astimezone(timezone.get_default_timezone()).strftime("%Y-%m-%d %H:%M")
        == "2025-02-18 00:00"
    )


def test_ics_per_rule_and_per_category(client: Client, demo: None) -> None:
    per_rule = Calendar.from_ical(client.get("/calendar.ics", {"rule": "shipping-conduct"}).content)
    assert {str(e["SUMMARY"])[:16] for e in per_rule.walk("VEVENT")} == {"《1688商家发货行为管理规范》"}
    per_category = Calendar.from_ical(client.get("/calendar.ics", {"category": "agreements"}).content)
    summaries = [str(e["SUMMARY"]) for e in per_category.walk("VEVENT")]
    assert summaries
    assert all("协议" in s for s in summaries)
    assert client.get("/calendar.ics", {"category": "nope"}).status_code == 404


def test_calendar_page_lists_upcoming_effective_dates(client: Client, demo: None) -> None:
    page = text_of(client.get("/calendar/"))
    assert "即将发生" in page
    assert "《诚信通服务协议》第 2 版" in page


def test_a_member_records_an_exit_during_the_notice_period(client: Client, demo: None) -> None:
    member = member_create(actor=SYSTEM, username="shop1", verified=True, shop_name="示例店铺")
    client.force_login(member.user)
    bundle = ChangeBundle.objects.get(title="诚信通服务协议变更")
    refused = client.post(f"/rules/bundles/{bundle.pk}/exit/", {"reason": "不同意"})
    assert refused.status_code == 400
    assert "请勾选确认框" in refused.content.decode()
    assert not ExitRequest.objects.exists()
    response = client.post(
        f"/rules/bundles/{bundle.pk}/exit/", {"reason": "不同意退费规则", "confirm": "yes"}
    )
    assert response.status_code == 302
    record = ExitRequest.objects.get()
    assert [v.number for v in record.binding_versions.all()] == [1]  # bound by the old terms
    again = client.post(f"/rules/bundles/{bundle.pk}/exit/", {"confirm": "yes"})
    assert "提交过退出申请" in again.content.decode()
    assert ExitRequest.objects.count() == 1


def test_exit_is_refused_outside_the_notice_period_and_for_non_members(client: Client, demo: None) -> None:
    staff = User.objects.create_user("staff", password="pw-staff-123")
    client.force_login(staff)
    bundle = ChangeBundle.objects.get(title="诚信通服务协议变更")
    assert (
        "只有已登录的会员"
        in client.post(f"/rules/bundles/{bundle.pk}/exit/", {"confirm": "yes"}).content.decode()
    )
    member = member_create(actor=SYSTEM, username="late-shop")
    with time_machine.travel(timezone.now() + timedelta(days=30)):
        client.force_login(member.user)
        response = client.post(f"/rules/bundles/{bundle.pk}/exit/", {"confirm": "yes"})
    assert "只能在公示期内申请退出" in response.content.decode()
    assert not ExitRequest.objects.exists()


def test_exit_needs_a_signed_in_user(client: Client, demo: None) -> None:
    bundle = ChangeBundle.objects.get(title="诚信通服务协议变更")
    response = client.post(f"/rules/bundles/{bundle.pk}/exit/", {"confirm": "yes"})
    assert response.status_code == 302
    assert response["Location"].startswith("/consultations/sign-in/")


def test_history_is_paged_and_links_each_version_to_its_predecessor(client: Client) -> None:
    from rulecenter.rules import services

    from .factories import rule_create, shanghai

    rule = rule_create()
    for n in range(25):
        version = services.rule_version_create(actor=SYSTEM, rule=rule, text=f"第一条 第{n + 1}版的文本。")
        notice = shanghai(2020, 1, 1) + timedelta(days=10 * n)
        services.rule_version_schedule(
            actor=SYSTEM,
            version=version,
            notice_at=notice,
            effective_at=notice + timedelta(days=8),
            record_past=True,
        )
    first = client.get(f"/rules/{rule.slug}/history/").content.decode()
    assert "共25条 当前1/2页" in text_of_html(first)
    assert first.count("现行有效") == 1
    assert "?from=5&amp;to=6" in first  # the last row of page 1 links to its predecessor on page 2
    second = client.get(f"/rules/{rule.slug}/history/", {"page": "2"}).content.decode()
    assert "共25条 当前2/2页" in text_of_html(second)
    assert "第 1 版" in second
    assert "现行有效" not in second
    assert client.get(f"/rules/{rule.slug}/history/", {"page": "3"}).status_code == 404


def text_of_html(html: str) -> str:
    # A title marked as Chinese reads as one phrase with the words around it, as a reader sees it.
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", unmarked(html))).strip()


def test_dates_read_from_imported_announcements_join_the_calendar(client: Client) -> None:
    """The seed's first item says 2025年2月10日公示,2025年2月18日生效: both days appear, in the ICS too."""
    from pathlib import Path

    from django.core.management import call_command

    from rulecenter.announcements.demo import SEED_FILE

    call_command("import_listing", str(Path(SEED_FILE)), verbosity=0)
    page = text_of(client.get("/calendar/"))
    assert "2025-02-18" in page
    assert "《1688指定渠道禁限售规则》和其相关规则的更新公示" in page
    calendar = Calendar.from_ical(client.get("/calendar.ics").content)
    days = {
        (str(e["SUMMARY"]).split("：")[0], e.decoded("DTSTART").isoformat())
        for e in calendar.walk("VEVENT")
        if "禁限售规则》和其相关规则的更新公示" in str(e["SUMMARY"])
    }
    assert days == {("公示", "2025-02-10"), ("生效", "2025-02-18")}


def test_history_page_costs_the_same_queries_however_many_versions(
    client: Client, django_assert_max_num_queries
) -> None:
    """Count, one window of ids, the rows shown with their rule: no query per row."""
    from rulecenter.rules import services

    from .factories import rule_create, shanghai

    rule = rule_create()
    for n in range(25):
        version = services.rule_version_create(actor=SYSTEM, rule=rule, text=f"第一条 第{n + 1}版。")
        notice = shanghai(2020, 1, 1) + timedelta(days=10 * n)
        services.rule_version_schedule(
            actor=SYSTEM,
            version=version,
            notice_at=notice,
            effective_at=notice + timedelta(days=8),
            record_past=True,
        )
    with django_assert_max_num_queries(5):
        client.get(f"/rules/{rule.slug}/history/")
