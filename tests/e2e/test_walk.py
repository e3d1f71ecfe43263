"""Every public page, in Chinese and in English, at 1280 px and at 390 px, as Chromium shows it (issue 15).

On each page: no server error; on the English pages every Chinese text stands inside an element marked
`lang="zh-Hans"` (the content's own titles, bodies and rule names, which screen readers then pronounce
right) and nothing else is Chinese; nothing is wider than the screen; every header link is on screen or in
the header's menu; and axe-core (npm's package, injected into Debian's Chromium) finds no serious or critical
violation of WCAG 2.2 A/AA or its best practices. Every problem of every page is reported at once.

Every URL pattern outside the API and the admin is either walked or named below as not a page, so a new page
fails this test until it is walked.
"""

from dataclasses import dataclass
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from playwright.sync_api import Page
from pytest_django.live_server_helper import LiveServer

from rulecenter.announcements import services as announcement_services
from rulecenter.announcements.models import Announcement
from rulecenter.cases.models import Case
from rulecenter.common.actors import SYSTEM
from rulecenter.consultations.demo import VOTER
from rulecenter.consultations.models import Consultation
from rulecenter.notifications import mail
from rulecenter.notifications import services as notification_services
from rulecenter.rules.models import ChangeBundle, RuleVersion

from .browser import ARTIFACTS, DESKTOP, PHONE, chromium_page, server_errors
from .walk import AXE, page_problems, with_axe

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# URL names that are not pages a reader opens: files, feeds, and the targets of a form's POST.
NOT_PAGES = {
    "home": "redirects to /news/",
    "healthz": "text for a load balancer",
    "readyz": "JSON for a load balancer, from the platform's own network",
    "metrics": "Prometheus's text format, from the platform's own network",
    "record:bundle_json": "JSON",
    "record:version_json": "JSON",
    "rules:download": "a file (md, txt, json)",
    "rules:bundle_exit": "a form's POST",
    "consultations:sign_out": "a form's POST",
    "audit:checkpoints-atom": "a feed",
    "audit:checkpoints-json": "JSON",
    "cases:escalate": "a form's POST",
    "cases:close": "a form's POST",
    "cases:attachment": "a file",
    "me:language": "a form's POST",
    "me:subscription_delete": "a form's POST",
    "language": "a form's POST",
    "calendar_ics": "an iCalendar file",
    "feeds:news-rss": "a feed",
    "feeds:news-atom": "a feed",
    "feeds:news-json": "a feed",
}


@dataclass(frozen=True)
class Walk:
    paths: list[tuple[str, str, bool]]  # (URL name, path, as the signed-in member)
    statuses: dict[str, int]  # a path that is not a 200: the withdrawn announcement, the unknown rule
    session: str


def url_names() -> set[str]:
    names: set[str] = set()

    def walk(resolver: URLResolver, namespace: str) -> None:
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                if str(entry.pattern).startswith(("api/", "admin/")):
                    continue
                walk(entry, f"{namespace}{entry.namespace}:" if entry.namespace else namespace)
            elif isinstance(entry, URLPattern) and entry.name:
                names.add(namespace + entry.name)

    walk(get_resolver(), "")
    return names


@pytest.fixture
def walk(transactional_db: None) -> Walk:
    """The demo data, a withdrawn announcement and a pending subscription; the paths that show them."""
    call_command("loaddemo", stdout=StringIO())
    published = Announcement.objects.filter(status=Announcement.Status.PUBLISHED).order_by("-published_at")
    news = published.first()
    gone = published.last()
    assert news is not None
    assert gone is not None
    announcement_services.announcement_withdraw(
        actor=SYSTEM, announcement=gone, reason="内容有误，重新发布。"
    )
    pending = notification_services.subscription_create(
        actor=SYSTEM, owner=None, channel="email", target="reader@example.com", topic="all", frequency="daily"
    )
    member = User.objects.get(username=VOTER)
    client = Client()
    client.force_login(member)
    bundle = ChangeBundle.objects.get(title="诚信通服务协议变更")
    acknowledge = RuleVersion.objects.get(acknowledgment_required=True, rule__slug="trustpass-agreement")
    consultation = Consultation.objects.order_by("id").first()
    case = Case.objects.get(member=member)
    assert consultation is not None
    paths = [
        ("announcements:list", "/news/", False),
        ("announcements:list", "/news/?category=rule-changes", False),
        ("announcements:detail", f"/news/{news.pk}/", False),
        ("announcements:detail", f"/news/{gone.pk}/", False),
        ("rules:library", "/rules/", False),
        ("rules:detail", "/rules/trustpass-agreement/", False),
        ("rules:detail", "/rules/shipping-conduct/?at=2025-03-15T14:30%2B08:00", False),
        ("rules:history", "/rules/prohibited-goods/history/", False),
        ("rules:diff", "/rules/prohibited-goods/diff/?from=1&to=2", False),
        ("rules:diff", "/rules/prohibited-goods/diff/?from=1&to=2&view=inline", False),
        ("rules:version", "/rules/factoring-agreement/versions/2/", False),
        ("rules:acknowledge", f"/rules/trustpass-agreement/versions/{acknowledge.number}/acknowledge/", True),
        ("rules:bundle", f"/rules/bundles/{bundle.pk}/", True),
        ("record:bundle", f"/rules/bundles/{bundle.pk}/record", False),
        ("record:version", "/rules/factoring-agreement/versions/2/record", False),
        ("rule_cases", "/rules/shipping-conduct/cases/", False),
        ("search:results", "/search/?q=发货", False),
        ("search:results", "/search/", False),
        ("consultations:list", "/consultations/", False),
        ("consultations:detail", f"/consultations/{consultation.pk}/", True),
        ("consultations:sign_in", "/consultations/sign-in/", False),
        ("audit:index", "/audit/", False),
        ("notifications:subscribe", "/notifications/subscribe/", False),
        ("notifications:confirm", f"/notifications/confirm/{mail.confirm_token(pending)}/", False),
        (
            "notifications:unsubscribe",
            f"/notifications/unsubscribe/{mail.unsubscribe_token([pending.pk])}/",
            False,
        ),
        ("me:page", "/me/", True),
        ("cases:list", "/me/cases/", True),
        ("cases:new", "/me/cases/new/?rule=shipping-conduct", True),
        ("cases:detail", f"/me/cases/{case.number}/", True),
        ("calendar", "/calendar/", False),
        ("not found", "/rules/no-such-rule/", False),
    ]
    statuses = {f"/news/{gone.pk}/": 410, "/rules/no-such-rule/": 404}
    return Walk(paths=paths, statuses=statuses, session=client.cookies[settings.SESSION_COOKIE_NAME].value)


def test_every_page_is_walked(walk: Walk) -> None:
    walked = {name for name, _, _ in walk.paths} - {"not found"}
    assert url_names() - walked - set(NOT_PAGES) == set(), "a page nobody walks: add it to the walk's paths"
    assert set(NOT_PAGES) <= url_names(), "NOT_PAGES names a URL that is gone"


def walk_pages(page: Page, live_server: LiveServer, walk: Walk, *, label: str) -> list[str]:
    failures = server_errors(with_axe(page))
    problems: list[str] = []
    for language in ("zh-hans", "en"):
        for _name, path, signed_in in walk.paths:
            page.context.clear_cookies()
            cookies = [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}]
            if signed_in:
                cookies.append(
                    {"name": settings.SESSION_COOKIE_NAME, "value": walk.session, "url": live_server.url}
                )
            page.context.add_cookies(cookies)  # type: ignore[arg-type]
            response = page.goto(f"{live_server.url}{path}")
            assert response is not None
            if response.status != walk.statuses.get(path, 200):
                problems.append(f"{language} {path}: answered {response.status}")
            expected = "en" if language == "en" else "zh-hans"
            if page.locator("html").get_attribute("lang") != expected:
                problems.append(f"{language} {path}: <html lang> is not {expected}")
            problems += [f"{language} {path}: {p}" for p in page_problems(page, english=language == "en")]
            if path in {"/news/", "/rules/prohibited-goods/diff/?from=1&to=2", "/me/"}:
                shot = ARTIFACTS / f"walk-{label}-{language}-{path.strip('/').split('/')[0]}.png"
                page.screenshot(path=shot, full_page=True)
    return problems + [f"server error: {failure}" for failure in failures]


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_every_page_in_both_languages(
    live_server: LiveServer, walk: Walk, tmp_path_factory: pytest.TempPathFactory, width: str
) -> None:
    assert AXE.exists(), "axe-core is missing: `make browser` installs it (npm ci)"
    phone = width == "phone"
    viewport = PHONE if phone else DESKTOP
    with chromium_page(
        tmp_path_factory.mktemp(f"chromium-walk-{width}"), viewport=viewport, phone=phone
    ) as page:
        problems = walk_pages(page, live_server, walk, label=width)
    assert problems == [], "\n".join(problems)
