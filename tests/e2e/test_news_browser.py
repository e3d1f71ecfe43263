"""The news listing (新闻动态) in a real browser: what a merchant sees on a desktop and on a phone.

Also that the rule pages fit a phone. Screenshots go to test-artifacts/ (gitignored) for a person to look
at after the run.
"""

import re

import pytest
from playwright.sync_api import Locator, Page, Response, expect
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from rulecenter.announcements.demo import SeedItem

from .browser import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ACCENT = (
    "rgb(194, 65, 12)"  # --accent in site.css (4.5:1 on white): proves the stylesheet was served and applied
)


def snap(page: Page, name: str, *, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=full_page)


def watch_failures(page: Page) -> list[str]:
    """Collect script errors and failed requests (a missing stylesheet, a 500) while the page is used."""
    failures: list[str] = []

    def on_response(response: Response) -> None:
        if response.status >= 400:
            failures.append(f"{response.status} {response.url}")

    page.on("response", on_response)
    page.on("pageerror", lambda error: failures.append(f"script error: {error}"))
    return failures


def title_link(page: Page, title: str) -> Locator:
    # By text, not by accessible name: the name also carries the bullet that site.css puts before it.
    return page.locator("a.news-title", has_text=re.compile(f"^{re.escape(title)}$"))


def listed_titles(page: Page) -> list[str]:
    return [title.strip() for title in page.locator(".news-title").all_inner_texts()]


def pager_text(page: Page) -> str:
    return " ".join(page.locator(".pager").inner_text().split())


def assert_fits_the_screen(page: Page) -> None:
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth, document.body.scrollWidth]"
    )
    scroll_width, inner_width, body_width = widths
    assert scroll_width <= inner_width, f"page is {scroll_width}px wide on a {inner_width}px screen"
    assert body_width <= inner_width, f"body is {body_width}px wide on a {inner_width}px screen"


def test_news_lists_the_twelve_seed_items_in_order(
    live_server: LiveServer, demo_news: list[SeedItem], desktop_page: Page
) -> None:
    """/news/ shows the seed's 12 titles in its order, with excerpts, the heading and a one-page pager."""
    page = desktop_page
    failures = watch_failures(page)

    page.goto(f"{live_server.url}/news/")

    expect(page.get_by_role("heading", level=1)).to_have_text("新闻动态")
    expect(page.get_by_text("了解更多行业资讯")).to_be_visible()
    expect(page.locator(".news-item")).to_have_count(12)
    seed = demo_news
    assert listed_titles(page) == [item.title for item in seed]
    first_excerpt = page.locator(".news-excerpt").first.inner_text()
    assert first_excerpt.startswith(seed[0].excerpt[:40])
    expect(page.locator(".pager-summary")).to_have_text("共12条 当前1/1页")
    assert pager_text(page) == "共12条 当前1/1页 首页 前一页 1 后一页 尾页"
    expect(page.locator(".brand")).to_have_css("color", ACCENT)
    snap(page, "news-desktop")
    assert failures == []


def test_next_page_with_five_per_page(
    live_server: LiveServer, demo_news: list[SeedItem], desktop_page: Page, settings: Settings
) -> None:
    """With five per page, following 后一页 goes to page 2 of 3 and shows the seed's items 6–10."""
    settings.RULECENTER_NEWS_PAGE_SIZE = 5
    page = desktop_page
    failures = watch_failures(page)
    seed = [item.title for item in demo_news]

    page.goto(f"{live_server.url}/news/")
    expect(page.locator(".pager-summary")).to_have_text("共12条 当前1/3页")
    assert listed_titles(page) == seed[0:5]

    page.locator(".pager").get_by_role("link", name="后一页", exact=True).click()

    expect(page).to_have_url(re.compile(r"/news/\?page=2$"))
    expect(page.locator(".pager-summary")).to_have_text("共12条 当前2/3页")
    assert listed_titles(page) == seed[5:10]
    assert pager_text(page) == "共12条 当前2/3页 首页 前一页 1 2 3 后一页 尾页"
    expect(page.locator(".pager .current")).to_have_text("2")
    snap(page, "news-page-2-desktop")
    assert failures == []


def test_a_title_leads_to_its_detail_page_with_the_body(
    live_server: LiveServer, demo_news: list[SeedItem], desktop_page: Page
) -> None:
    """Clicking an item's title opens /news/<id>/ with that item's title and full body."""
    page = desktop_page
    failures = watch_failures(page)
    item = demo_news[2]

    page.goto(f"{live_server.url}/news/")
    title_link(page, item.title).click()

    expect(page).to_have_url(re.compile(r"/news/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(item.title)
    body = " ".join(page.locator(".announcement .body").inner_text().split())
    before_link = item.excerpt.split("http")[0].strip()
    assert before_link
    assert before_link in body
    expect(page.locator(".facts")).to_contain_text("2025-02-10")
    snap(page, "detail-desktop")
    assert failures == []


def test_phone_width_shows_everything_without_sideways_scrolling(
    live_server: LiveServer, demo_news: list[SeedItem], phone_page: Page
) -> None:
    """On a 390×844 phone neither the listing nor a detail page with long URLs is wider than the screen."""
    page = phone_page
    failures = watch_failures(page)

    page.goto(f"{live_server.url}/news/")
    expect(page.locator(".news-item")).to_have_count(12)
    assert page.evaluate("() => window.innerWidth") == 390
    assert_fits_the_screen(page)
    expect(page.locator(".pager-summary")).to_be_visible()
    snap(page, "news-phone")
    snap(page, "news-phone-first-screen", full_page=False)
    page.locator(".pager").scroll_into_view_if_needed()
    snap(page, "news-phone-pager", full_page=False)

    title_link(page, demo_news[0].title).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(demo_news[0].title)
    assert_fits_the_screen(page)
    snap(page, "detail-phone")
    snap(page, "detail-phone-first-screen", full_page=False)
    assert failures == []


def test_rule_pages_fit_a_phone(live_server: LiveServer, demo_rule_slug: str, phone_page: Page) -> None:
    """The rule library, a rule, its history, both diff views and the calendar fit a 390px screen."""
    page = phone_page
    failures = watch_failures(page)
    pages = {
        "rules-phone": "/rules/",
        "rule-phone": f"/rules/{demo_rule_slug}/",
        "rule-history-phone": f"/rules/{demo_rule_slug}/history/",
        "rule-diff-phone": f"/rules/{demo_rule_slug}/diff/?from=1&to=2",
        "rule-diff-inline-phone": f"/rules/{demo_rule_slug}/diff/?from=1&to=2&view=inline",
        "calendar-phone": "/calendar/",
    }
    for name, path in pages.items():
        page.goto(f"{live_server.url}{path}")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        snap(page, name)
        assert_fits_the_screen(page)
    assert failures == []
