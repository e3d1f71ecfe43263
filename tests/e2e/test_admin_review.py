"""Four eyes in the admin, in a real browser: an editor drafts, a reviewer approves, a publisher schedules.

Three people sign in one after the other (the cookies are cleared between them) and each uses only the
buttons their role is offered. All database work happens before Chromium starts and after it stops (see
conftest.py). Screenshots go to test-artifacts/.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from rulecenter.accounts.models import Role
from rulecenter.accounts.tests.factories import user_create
from rulecenter.rules.models import LifecycleEvent, RuleVersion
from rulecenter.rules.tests.factories import rule_create

from .browser import ARTIFACTS, DESKTOP, chromium_page, server_errors

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "pw-for-tests-only"  # the factories' password
TEXT = "第一条 为规范发货行为，制定本规范。\n\n第二条 商家应在24小时内发货。"


@pytest.fixture
def team(transactional_db: None) -> str:
    """An editor, a reviewer and a publisher, and a rule with no version yet; returns the rule's title."""
    for name, role in (("editor", Role.EDITOR), ("reviewer", Role.REVIEWER), ("publisher", Role.PUBLISHER)):
        user_create(name, roles=(role,), is_staff=True)
    return rule_create().title


def sign_in(page: Page, live_server: LiveServer, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/rules/ruleversion/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("input[type=submit]").click()
    expect(page.locator("#user-tools")).to_contain_text(username)


def open_version(page: Page, title: str) -> None:
    page.locator("#result_list").get_by_role("link", name=f"《{title}》 v1").click()
    expect(page.locator("h1")).to_be_visible()


def test_draft_approve_schedule_in_the_admin(
    live_server: LiveServer, team: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    title = team
    notice = timezone.localtime() + timedelta(days=2)
    effective = notice + timedelta(days=8)
    with chromium_page(tmp_path_factory.mktemp("chromium-admin"), viewport=DESKTOP) as page:
        failures = server_errors(page)

        sign_in(page, live_server, "editor")
        page.goto(f"{live_server.url}/admin/rules/ruleversion/add/")
        page.select_option("#id_rule", label=f"《{title}》")
        page.fill("#id_text", TEXT)
        page.fill("#id_summary", "发货时限缩短为24小时")
        page.locator("input[name=_save]").click()
        expect(page.locator(".messagelist")).to_be_visible()
        open_version(page, title)
        expect(page.locator("input[name=_approve]")).to_have_count(0)  # an editor does not approve
        expect(page.locator("input[name=_schedule]")).to_have_count(0)

        sign_in(page, live_server, "reviewer")
        open_version(page, title)
        expect(page.locator("input[name=_schedule]")).to_have_count(0)
        page.locator("input[name=_approve]").click()
        expect(page.locator(".messagelist")).to_contain_text("已审核通过")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "admin-review-approved.png", full_page=True)

        sign_in(page, live_server, "publisher")
        open_version(page, title)
        expect(page.locator("input[name=_approve]")).to_have_count(0)
        page.fill("#id_notice_at_0", f"{notice:%Y-%m-%d}")
        page.fill("#id_notice_at_1", f"{notice:%H:%M:00}")
        page.fill("#id_effective_at_0", f"{effective:%Y-%m-%d}")
        page.fill("#id_effective_at_1", f"{effective:%H:%M:00}")
        page.locator("input[name=_schedule]").click()
        expect(page.locator(".messagelist")).to_contain_text("已排期公示")
        expect(page.locator(".field-review_state")).to_contain_text("已排期")
        expect(page.locator("input[name=_unschedule]")).to_be_visible()
        page.screenshot(path=ARTIFACTS / "admin-review-scheduled.png", full_page=True)
        assert failures == []

    version = RuleVersion.objects.select_related("author", "approved_by").get(rule__title=title, number=1)
    assert version.author is not None
    assert version.approved_by is not None
    assert (version.author.username, version.approved_by.username) == ("editor", "reviewer")
    assert version.notice_at == notice.replace(second=0, microsecond=0)
    assert LifecycleEvent.objects.filter(version=version).count() == 2
