"""Debian's Chromium driven by Playwright: the one way the browser tests and the README screenshot open it.

Never a downloaded browser build: `make test` installs Debian's `chromium` package, and this module points
Playwright at `/usr/bin/chromium`. Each launch gets a new, empty user-data directory, so no profile, cache
or cookie leaks from one test (or one developer's run) into another.

Run as a module to take the README's screenshot of a running server:

    .venv/bin/python -m tests.e2e.browser http://127.0.0.1:8300/news/ docs/screenshot-news.png
"""

import argparse
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, Response, ViewportSize, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = ViewportSize(width=1280, height=900)
PHONE = ViewportSize(width=390, height=844)  # an iPhone 12–15's CSS viewport
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@contextmanager
def chromium_page(user_data_dir: Path, *, viewport: ViewportSize, phone: bool = False) -> Iterator[Page]:
    """A page in a fresh Chromium profile; `phone` turns on touch, the meta viewport and a 2x screen."""
    with sync_playwright() as playwright:
        context: BrowserContext = playwright.chromium.launch_persistent_context(
            user_data_dir,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=viewport,
            is_mobile=phone,
            has_touch=phone,
            device_scale_factor=2 if phone else 1,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            context.close()


def server_errors(page: Page) -> list[str]:
    """The 5xx answers the page receives from now on (a list the test asserts empty at the end)."""
    failures: list[str] = []

    def on_response(response: Response) -> None:
        if response.status >= 500:
            failures.append(f"{response.status} {response.url}")

    page.on("response", on_response)
    return failures


def screenshot(url: str, out: Path, *, viewport: ViewportSize = DESKTOP, full_page: bool = True) -> None:
    """Save a PNG of `url` as a reader sees it."""
    with (
        tempfile.TemporaryDirectory(prefix="rulecenter-chromium-") as profile,
        chromium_page(Path(profile), viewport=viewport) as page,
    ):
        page.goto(url, wait_until="networkidle")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=out, full_page=full_page)


def main() -> None:
    parser = argparse.ArgumentParser(description="Screenshot a page with Debian's Chromium.")
    parser.add_argument("url")
    parser.add_argument("out", type=Path)
    parser.add_argument("--width", type=int, default=DESKTOP["width"])
    parser.add_argument("--height", type=int, default=DESKTOP["height"])
    parser.add_argument("--viewport-only", action="store_true", help="only the first screenful")
    options = parser.parse_args()
    viewport = ViewportSize(width=options.width, height=options.height)
    screenshot(options.url, options.out, viewport=viewport, full_page=not options.viewport_only)
    print(options.out)


if __name__ == "__main__":
    main()
