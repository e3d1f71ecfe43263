"""A rule version and a diff printed on A4 in Chromium (issue 15): merchants file them in disputes, so the
print carries the page's address, the version and its dates, without the header's menus and forms, and
nothing runs off the paper. The PDFs Chromium makes go to test-artifacts/."""

import pytest
from playwright.sync_api import Page, ViewportSize, expect
from pytest_django.live_server_helper import LiveServer

from .browser import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
A4 = ViewportSize(width=794, height=1123)  # 210 × 297 mm at 96 CSS px per inch


@pytest.mark.parametrize("path", ["versions/2/", "diff/?from=1&to=2"])
def test_a_rule_prints_on_a4_with_its_address_version_and_dates(
    live_server: LiveServer, demo_rule_slug: str, desktop_page: Page, path: str
) -> None:
    page = desktop_page
    page.set_viewport_size(A4)
    page.emulate_media(media="print")
    url = f"/rules/{demo_rule_slug}/{path}"
    page.goto(f"{live_server.url}{url}")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.locator(".site-language")).to_be_hidden()
    source = page.locator(".print-source")
    expect(source).to_be_visible()
    expect(source).to_contain_text(url)
    expect(page.locator("main")).to_contain_text("第 2 版")
    expect(page.locator("main")).to_contain_text("生效")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= A4["width"], f"{url} runs {width - A4['width']}px off an A4 page"
    ARTIFACTS.mkdir(exist_ok=True)
    name = "print-version.pdf" if path.startswith("versions") else "print-diff.pdf"
    pdf = page.pdf(path=str(ARTIFACTS / name), format="A4", print_background=True)
    assert pdf.startswith(b"%PDF-")
