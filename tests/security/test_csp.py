"""The Content Security Policy in a real browser: every main page loads with no violation reported.

The policy (config/settings/base.py, django-csp) allows the site's own scripts, styles and images and
nothing inline. Chromium reports each thing it refuses as a `securitypolicyviolation` event and a console
error; a template that slips an inline style or script back in fails here, page by page.
"""

from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from playwright.sync_api import Page
from pytest_django.live_server_helper import LiveServer

from rulecenter.announcements.models import Announcement
from rulecenter.consultations.models import Consultation
from rulecenter.rules.models import Rule, RuleVersion
from tests.e2e.browser import DESKTOP, chromium_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
});
"""


def _session_cookie(username: str, *, staff: bool) -> str:
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is None:
        user = user_model.objects.create_superuser(username, f"{username}@example.com", "pw-not-used-1")
    assert user.is_staff == staff
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.fixture
def site(transactional_db: None) -> dict[str, object]:
    """`make run`'s demo data, and a member's and an operator's sessions, all made before Chromium starts."""
    call_command("loaddemo", stdout=StringIO())
    rule = Rule.objects.filter(versions__number=2).order_by("id").first()
    assert rule is not None
    noticed = RuleVersion.objects.filter(notice_at__isnull=False).order_by("id").first()
    assert noticed is not None
    consultation = Consultation.objects.order_by("id").first()
    assert consultation is not None
    news = Announcement.objects.filter(status=Announcement.Status.PUBLISHED).order_by("id").first()
    assert news is not None
    return {
        "news": news.pk,
        "rule": rule.slug,
        "record": f"/rules/{noticed.rule.slug}/versions/{noticed.number}/record",
        "consultation": consultation.pk,
        "member": _session_cookie("demo-voter", staff=False),
        "operator": _session_cookie("csp-operator", staff=True),
    }


@pytest.fixture
def browser_page(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    with chromium_page(Path(tmp_path_factory.mktemp("chromium-csp")), viewport=DESKTOP) as page:
        page.add_init_script(COLLECT_VIOLATIONS)
        yield page


def _visit_all(page: Page, base: str, paths: list[str]) -> list[str]:
    problems: list[str] = []

    def on_console(text: str) -> None:
        if "Content Security Policy" in text:
            problems.append(f"console: {text}")

    page.on("console", lambda message: on_console(message.text))
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    for path in paths:
        response = page.goto(base + path, wait_until="networkidle")
        assert response is not None, path
        assert response.status < 400, f"{path}: {response.status}"
        assert "script-src 'self'" in (response.headers.get("content-security-policy") or ""), path
        problems += [f"{path}: {v}" for v in page.evaluate("window.__cspViolations")]
    return problems


def test_public_pages_load_under_the_policy_with_no_violation(
    site: dict[str, object], live_server: LiveServer, browser_page: Page
) -> None:
    paths = [
        "/news/",
        f"/news/{site['news']}/",
        "/rules/",
        f"/rules/{site['rule']}/",
        f"/rules/{site['rule']}/history/",
        f"/rules/{site['rule']}/diff/?from=1&to=2",
        f"/rules/{site['rule']}/diff/?from=1&to=2&view=inline",
        str(site["record"]),
        "/consultations/",
        f"/consultations/{site['consultation']}/",
        "/search/?q=规则",
        "/calendar/",
        "/audit/",
        "/consultations/sign-in/",
        "/api/v1/docs",
    ]
    problems = _visit_all(browser_page, live_server.url, paths)
    assert not problems, "\n".join(problems)
    # The watch works: an inline style added now is refused and reported.
    browser_page.evaluate(
        "document.head.insertAdjacentHTML('beforeend', '<style>body { color: red }</style>')"
    )
    browser_page.wait_for_function("window.__cspViolations.length > 0")
    # The API docs drew their interface from the site's own Swagger UI files (none from a CDN).
    browser_page.goto(live_server.url + "/api/v1/docs", wait_until="networkidle")
    assert browser_page.locator(".swagger-ui .info .title").count() == 1


def test_a_members_pages_and_the_admin_load_under_the_policy(
    site: dict[str, object], live_server: LiveServer, browser_page: Page
) -> None:
    context = browser_page.context
    context.add_cookies([{"name": "sessionid", "value": str(site["member"]), "url": live_server.url}])
    problems = _visit_all(
        browser_page, live_server.url, ["/consultations/", f"/consultations/{site['consultation']}/"]
    )
    # The member's own pages show the account and the sign-out button, under the same policy.
    assert browser_page.get_by_role("button", name="退出登录").count() == 1
    context.clear_cookies()
    context.add_cookies([{"name": "sessionid", "value": str(site["operator"]), "url": live_server.url}])
    problems += _visit_all(
        browser_page,
        live_server.url,
        [
            "/admin/",
            "/admin/announcements/announcement/",
            f"/admin/announcements/announcement/{site['news']}/change/",
            "/admin/rules/rule/",
            "/admin/rules/ruleversion/",
            "/admin/consultations/consultation/",
            "/admin/accounts/apitoken/",
            "/admin/ingest/importeditem/import/",
        ],
    )
    assert not problems, "\n".join(problems)
