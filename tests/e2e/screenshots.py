"""The screenshots of docs/screenshots/: the main pages in Chinese and English, at 1280 px and on a phone.

Take them again from a running server with the demo data (`make run`):

    .venv/bin/python -m tests.e2e.screenshots http://127.0.0.1:8000 docs/screenshots
"""

import argparse
import tempfile
from pathlib import Path

from .browser import DESKTOP, PHONE, chromium_page

PAGES = {
    "news": "/news/",
    "rule": "/rules/shipping-conduct/",
    "diff": "/rules/shipping-conduct/diff/?from=1&to=2",
}
LANGUAGES = {"zh": "zh-hans", "en": "en"}


def main() -> None:
    parser = argparse.ArgumentParser(description="Screenshot the main pages in both languages and widths.")
    parser.add_argument("base", help="the server's address, e.g. http://127.0.0.1:8000")
    parser.add_argument("out", type=Path)
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)
    for width, viewport, phone in (("desktop", DESKTOP, False), ("phone", PHONE, True)):
        with (
            tempfile.TemporaryDirectory(prefix="rulecenter-shots-") as profile,
            chromium_page(Path(profile), viewport=viewport, phone=phone) as page,
        ):
            for short, language in LANGUAGES.items():
                for name, path in PAGES.items():
                    joiner = "&" if "?" in path else "?"
                    page.goto(
                        f"{options.base.rstrip('/')}{path}{joiner}lang={language}", wait_until="networkidle"
                    )
                    shot = options.out / f"{name}-{short}-{width}.png"
                    page.screenshot(path=shot)
                    print(shot)


if __name__ == "__main__":
    main()
