"""Nothing before its notice: every public read shows a version only once `notice_at <= now` (issue 11).

A future instant is answered with what is public now about it: the version in force by then among the
versions already noticed, never one whose notice is still ahead, and never a draft. Each read is checked
one second before the notice (absent) and at the notice's second (present).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from icalendar import Calendar

from rulecenter.common.actors import SYSTEM
from rulecenter.rules import services
from rulecenter.rules.models import ChangeBundle, Rule, RuleVersion

from .factories import OLD_TEXT, rule_create, shanghai
from .test_pages import text_of

pytestmark = pytest.mark.django_db

CREATED = shanghai(2025, 2, 1, 9)
NOTICE = shanghai(2025, 3, 1, 10, 0, 0)
EFFECTIVE = NOTICE + timedelta(days=10)
FUTURE = NOTICE + timedelta(days=30)  # after the upcoming version takes effect
UPCOMING_TEXT = "第一条 为规范发货行为，制定本规范。\n\n第二条 跨境直邮订单应在72小时内发货。"
DRAFT_TEXT = "第一条 为规范发货行为，制定本规范。\n\n第二条 草稿独有的保证金条款。"

BEFORE, AT = NOTICE - timedelta(seconds=1), NOTICE


@dataclass(frozen=True)
class Library:
    rule: Rule
    upcoming: RuleVersion  # v2: scheduled in a bundle, noticed at NOTICE
    draft: RuleVersion  # v3: never scheduled
    bundle: ChangeBundle
    newcomer: Rule  # a rule whose only version is noticed at NOTICE


@pytest.fixture
def library() -> Library:
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
        upcoming = services.rule_version_create(
            actor=SYSTEM, rule=rule, text=UPCOMING_TEXT, summary="跨境直邮"
        )
        newcomer = rule_create(slug="cross-border", title="1688跨境直邮服务规范")
        newcomer_first = services.rule_version_create(
            actor=SYSTEM, rule=newcomer, text="第一条 跨境直邮服务。"
        )
        bundle = services.change_bundle_schedule(
            actor=SYSTEM,
            title="跨境直邮相关规则更新",
            versions=[upcoming, newcomer_first],
            notice_at=NOTICE,
            effective_at=EFFECTIVE,
        )
        draft = services.rule_version_create(actor=SYSTEM, rule=rule, text=DRAFT_TEXT)
    upcoming.refresh_from_db()
    return Library(rule=rule, upcoming=upcoming, draft=draft, bundle=bundle, newcomer=newcomer)


def _at(client: Client, moment: datetime, path: str, **query: str) -> Any:
    with time_machine.travel(moment, tick=False):
        return client.get(path, query)


@pytest.mark.parametrize(("moment", "public"), [(BEFORE, False), (AT, True)])
def test_a_future_at_on_the_page_shows_only_what_is_noticed(
    client: Client, library: Library, moment: datetime, public: bool
) -> None:
    """/rules/<slug>/?at=<after the change> shows the old text until the new one's notice second."""
    page = text_of(_at(client, moment, "/rules/shipping/", at=FUTURE.isoformat()))
    assert ("72小时" in page) is public
    assert ("48小时" in page) is not public  # the version in force by then among those noticed
    assert "保证金" not in page  # a draft, never
    assert "按截至目前已公示的版本" in page
    now_page = text_of(_at(client, moment, "/rules/shipping/"))
    assert ("第 2 版已于" in now_page) is public  # the upcoming banner


@pytest.mark.parametrize(("moment", "number"), [(BEFORE, 1), (AT, 2)])
def test_a_future_time_over_the_api_shows_only_what_is_noticed(
    client: Client, library: Library, moment: datetime, number: int
) -> None:
    response = _at(client, moment, "/api/v1/rules/shipping/at", time=FUTURE.isoformat())
    assert response.status_code == 200
    body = response.json()
    assert body["number"] == number
    assert ("跨境直邮" in body["text"]) is (number == 2)
    far = _at(client, moment, "/api/v1/rules/shipping/at", time="2099-01-01T00:00:00+08:00").json()
    assert far["number"] == number  # the draft (v3) never answers


@pytest.mark.parametrize(("moment", "public"), [(BEFORE, False), (AT, True)])
def test_history_lists_a_version_from_its_notice(
    client: Client, library: Library, moment: datetime, public: bool
) -> None:
    page = text_of(_at(client, moment, "/rules/shipping/history/"))
    assert ("第 2 版" in page) is public
    assert "第 3 版" not in page
    listing = _at(client, moment, "/api/v1/rules/shipping/versions").json()
    assert listing["count"] == (2 if public else 1)
    assert [item["number"] for item in listing["items"]] == ([2, 1] if public else [1])


@pytest.mark.parametrize(("moment", "status"), [(BEFORE, 404), (AT, 200)])
def test_the_version_page_and_its_downloads_wait_for_the_notice(
    client: Client, library: Library, moment: datetime, status: int
) -> None:
    for path in (
        "/rules/shipping/versions/2/",
        *(f"/rules/shipping/versions/2.{f}" for f in ("md", "txt", "json")),
    ):
        response = _at(client, moment, path)
        assert response.status_code == status, path
        assert ("72小时" in response.content.decode()) is (status == 200), path
    for path in ("/rules/shipping/versions/3/", "/rules/shipping/versions/3.md"):
        assert _at(client, moment, path).status_code == 404  # a draft, never


@pytest.mark.parametrize(("moment", "status"), [(BEFORE, 404), (AT, 200)])
def test_a_diff_against_an_unnoticed_version_waits_for_its_notice(
    client: Client, library: Library, moment: datetime, status: int
) -> None:
    page = _at(client, moment, "/rules/shipping/diff/", **{"from": "1", "to": "2"})
    assert page.status_code == status
    assert ("第 1 版 → 第 2 版" in text_of(page)) is (status == 200)
    api = _at(client, moment, "/api/v1/rules/shipping/diff", **{"from": "1", "to": "2"})
    assert api.status_code == status
    assert ("72小时" in api.content.decode()) is (status == 200)
    assert _at(client, moment, "/rules/shipping/diff/", **{"from": "1", "to": "3"}).status_code == 404


@pytest.mark.parametrize(("moment", "status"), [(BEFORE, 404), (AT, 200)])
def test_the_bundle_page_waits_for_the_notice(
    client: Client, library: Library, moment: datetime, status: int
) -> None:
    response = _at(client, moment, f"/rules/bundles/{library.bundle.pk}/")
    assert response.status_code == status
    assert ("跨境直邮相关规则更新" in response.content.decode()) is (status == 200)


@pytest.mark.parametrize(("moment", "public"), [(BEFORE, False), (AT, True)])
def test_the_calendar_and_its_ics_show_dates_from_the_notice(
    client: Client, library: Library, moment: datetime, public: bool
) -> None:
    page = text_of(_at(client, moment, "/calendar/"))
    assert ("《1688商家发货行为管理规范》第 2 版" in page) is public
    assert "第 3 版" not in page
    calendar = Calendar.from_ical(_at(client, moment, "/calendar.ics").content)
    uids = {str(event["UID"]) for event in calendar.walk("VEVENT")}
    expected = {"shipping-v2-notice@rulecenter", "shipping-v2-effective@rulecenter"}
    assert (expected <= uids) is public
    assert not public or "cross-border-v1-effective@rulecenter" in uids
    assert not any("-v3-" in uid for uid in uids)
    starts = {str(event["UID"]): event.decoded("DTSTART") for event in calendar.walk("VEVENT")}
    if public:
        assert starts["shipping-v2-effective@rulecenter"] == EFFECTIVE


@pytest.mark.parametrize(("moment", "public"), [(BEFORE, False), (AT, True)])
def test_a_rule_is_public_from_its_first_notice(
    client: Client, library: Library, moment: datetime, public: bool
) -> None:
    """Before any of its versions is noticed, a new rule's very title is a draft: no page, list or calendar."""
    assert ("1688跨境直邮服务规范" in text_of(_at(client, moment, "/rules/"))) is public
    page = _at(client, moment, "/rules/cross-border/")
    assert page.status_code == (200 if public else 404)
    assert ("1688跨境直邮服务规范" in page.content.decode()) is public  # not even in the 404's message
    assert _at(client, moment, "/rules/cross-border/history/").status_code == (200 if public else 404)
    slugs = [item["slug"] for item in _at(client, moment, "/api/v1/rules").json()["items"]]
    assert ("cross-border" in slugs) is public
    assert _at(client, moment, "/calendar/", rule="cross-border").status_code == (200 if public else 404)
    assert _at(client, moment, "/calendar.ics", rule="cross-border").status_code == (200 if public else 404)


def test_a_past_instant_still_answers_from_the_record(client: Client, library: Library) -> None:
    """A past `at` is unchanged: whatever was in force then was noticed before it."""
    page = text_of(_at(client, AT, "/rules/shipping/", at="2024-06-01T00:00:00+08:00"))
    assert "48小时" in page
    assert "历史版本：这是" in page
    with time_machine.travel(FUTURE, tick=False):
        page = text_of(client.get("/rules/shipping/", {"at": (EFFECTIVE - timedelta(seconds=1)).isoformat()}))
        assert "48小时" in page
        page = text_of(client.get("/rules/shipping/", {"at": EFFECTIVE.isoformat()}))
        assert "72小时" in page


def test_a_version_rescheduled_later_leaves_the_bundle_page_until_its_own_notice(
    client: Client, library: Library
) -> None:
    """A bundle is public from its first notice; a version moved to a later notice is not shown with it."""
    later = NOTICE + timedelta(days=5)
    with time_machine.travel(CREATED, tick=False):
        services.rule_version_schedule(
            actor=SYSTEM, version=library.upcoming, notice_at=later, effective_at=later + timedelta(days=10)
        )
    page = _at(client, AT, f"/rules/bundles/{library.bundle.pk}/").content.decode()
    assert "1688跨境直邮服务规范" in page
    assert "/rules/shipping/versions/2/" not in page
    page = _at(client, later, f"/rules/bundles/{library.bundle.pk}/").content.decode()
    assert "/rules/shipping/versions/2/" in page
