"""A case, tried as its people would in Chromium: a member files about a clause as it stood on a past date,
sees the pinned version and clause; a reviewer answers in the admin; the member asks for a human review,
which the first answerer cannot give and another reviewer does; an overdue case is flagged in the queue.

All database work happens before Chromium starts and after it stops (see conftest.py). Screenshots go to
test-artifacts/.
"""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from rulecenter.cases.models import Case
from rulecenter.cases.tests.factories import PNG, case_file, member, reviewer, shipping_rule

from .browser import ARTIFACTS, DESKTOP, PHONE, chromium_page, server_errors

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "pw-for-tests-only"


@pytest.fixture
def people(transactional_db: None) -> None:
    shipping_rule()
    shop = member("shop")
    shop.user.set_password(PASSWORD)
    shop.user.save()
    for name in ("rita", "sam"):
        reviewer(name)
    # Another member's case, filed nine days ago and never answered: overdue.
    with time_machine.travel(timezone.now() - timedelta(days=9)):
        case_file(member("late"), text="九天前提交的申诉。")


def sign_in_site(page: Page, live_server: LiveServer, next_path: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/consultations/sign-in/?next={next_path}")
    page.fill("input[name=username]", "shop")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form.sign-in button[type=submit]").click()


def sign_in_admin(page: Page, live_server: LiveServer, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/cases/case/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("input[type=submit]").click()
    expect(page.locator("#user-tools")).to_contain_text(username)


def answer_in_admin(page: Page, live_server: LiveServer, number: str, outcome: str, text: str) -> None:
    page.goto(f"{live_server.url}/admin/cases/case/")
    page.locator("#result_list").get_by_role("link", name=number).click()
    page.select_option("#id_new_outcome", outcome)
    page.fill("#id_new_answer", text)
    page.locator("input[name=_save]").click()


def test_a_case_from_filing_to_human_review(
    live_server: LiveServer, people: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    evidence = tmp_path_factory.mktemp("evidence") / "物流截图.png"
    evidence.write_bytes(PNG)
    disguised = evidence.with_name("决定书.pdf")
    disguised.write_bytes(b"MZ\x90\x00" + b"\x00" * 60)
    with chromium_page(tmp_path_factory.mktemp("chromium-cases"), viewport=DESKTOP) as page:
        failures = server_errors(page)
        # The member reads the rule as it stood when they were penalised, and appeals from there.
        sign_in_site(page, live_server, "/rules/shipping/%3Fat%3D2025-03-15T14:30")
        page.goto(f"{live_server.url}/rules/shipping/?at=2025-03-15T14:30%2B08:00")
        expect(page.locator("article.rule")).to_contain_text("48小时")
        page.get_by_role("link", name="对这条规则申诉").click()
        expect(page.locator("#id_rule")).to_have_value("shipping")
        expect(page.locator("#id_at")).to_have_value("2025-03-15T14:30")
        page.fill("#id_clause", "article-2")
        page.fill("#id_penalty_reference", "CF-2025-0315")
        page.check("#id_automated")
        page.fill("#id_text", "系统判我延迟发货，但当时的规则是48小时内发货，我30小时就发出了。")
        page.set_input_files("#case-attachments", [str(disguised)])
        page.get_by_role("button", name="提交申诉").click()
        expect(page.locator(".error-message")).to_contain_text("不是图片")
        page.set_input_files("#case-attachments", [str(evidence)])
        page.fill("#id_text", "系统判我延迟发货，但当时的规则是48小时内发货，我30小时就发出了。")
        page.get_by_role("button", name="提交申诉").click()
        expect(page.locator(".banner")).to_contain_text("已受理您的申诉")
        expect(page.locator("dl.facts")).to_contain_text("第 1 版")
        expect(page.locator(".case-clause")).to_contain_text("商家应在48小时内发货")
        number = page.locator("h1").inner_text().split()[-1]
        page.screenshot(path=str(ARTIFACTS / "case-filed.png"), full_page=True)

        # A reviewer answers in the admin; the overdue case is flagged in the queue.
        sign_in_admin(page, live_server, "rita")
        page.goto(f"{live_server.url}/admin/cases/case/?deadline=overdue")
        expect(page.locator("#result_list tbody tr")).to_have_count(1)
        expect(page.locator("#result_list tbody tr img[alt=True]")).to_have_count(1)  # 逾期 ticked
        answer_in_admin(page, live_server, number, "rejected", "系统记录显示揽收时间超过48小时。")
        expect(page.locator(".messagelist")).to_be_visible()

        # The member reads the answer and asks for a human review.
        sign_in_site(page, live_server, f"/me/cases/{number}/")
        page.goto(f"{live_server.url}/me/cases/{number}/")
        expect(page.locator(".case-answer")).to_contain_text("不成立")
        page.fill("#escalate-reason", "请看附件里的物流截图：揽收在 30 小时内。")
        page.get_by_role("button", name="申请人工复核").click()
        expect(page.locator(".banner")).to_contain_text("另一位工作人员")

        # The first answerer cannot give the review; another reviewer does.
        sign_in_admin(page, live_server, "rita")
        answer_in_admin(page, live_server, number, "upheld", "改判")
        expect(page.locator(".messagelist")).to_contain_text("首次答复以外")
        sign_in_admin(page, live_server, "sam")
        answer_in_admin(page, live_server, number, "upheld", "复核：物流截图显示按时揽收，撤销处罚。")

        sign_in_site(page, live_server, f"/me/cases/{number}/")
        page.goto(f"{live_server.url}/me/cases/{number}/")
        expect(page.locator(".case-answer")).to_contain_text("撤销处罚")
        expect(page.locator(".case-timeline li")).to_have_count(4)  # filed, answered, escalated, answered
        page.screenshot(path=str(ARTIFACTS / "case-reviewed.png"), full_page=True)
        page.set_viewport_size(PHONE)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the case page scrolls sideways on a phone ({width}px)"
        assert failures == []
    case = Case.objects.get(number=number)
    assert (case.status, case.outcome, case.answered_by.username) == ("answered", "upheld", "sam")  # type: ignore[union-attr]
    assert case.attachments.get().name == "物流截图.png"
