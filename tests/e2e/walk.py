"""What the walk checks on a page open in Chromium (issue 15): the language of its text, its width, its
header, and axe-core's verdict. Shared by tests/e2e/test_walk.py and anyone checking one page by hand:

    .venv/bin/python -m tests.e2e.walk http://127.0.0.1:8000/news/ --language en --phone
"""

import argparse
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Page

from .browser import DESKTOP, PHONE, chromium_page

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.2 A and AA, which public-sector sites are held to, and axe's best practices (landmarks, headings).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
BLOCKING = {"serious", "critical"}

# Every text in the page's body, and every attribute a reader hears or sees, that holds a CJK character
# outside an element whose language is Chinese; the header's own 中文 button is marked like any content.
UNMARKED_CHINESE_JS = """() => {
  const cjk = /[\\u3000-\\u303f\\u3400-\\u9fff\\uf900-\\ufaff\\uff00-\\uffef]/;
  const chinese = (el) => { const m = el && el.closest('[lang]'); return !!m && /^zh/i.test(m.lang); };
  const hidden = (el) => !!el.closest('script, style, template, noscript');
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (cjk.test(node.data) && !hidden(el) && !chinese(el)) {
      found.push(el.tagName.toLowerCase() + (el.className ? '.' + el.className : '') + ': ' + node.data.trim().slice(0, 60));
    }
  }
  for (const el of document.body.querySelectorAll('[title], [placeholder], [aria-label], [alt], input[value]')) {
    for (const name of ['title', 'placeholder', 'aria-label', 'alt', 'value']) {
      if (name === 'value' && !['submit', 'button', 'reset'].includes(el.type)) continue;
      const value = el.getAttribute(name);
      if (value && cjk.test(value) && !chinese(el)) found.push(el.tagName.toLowerCase() + '[' + name + ']: ' + value.slice(0, 60));
    }
  }
  return found;
}"""

# Wider than the window: the reader would have to scroll sideways.
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= width + 1) return [];
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.right > width + 1 && getComputedStyle(el).position !== 'fixed') {
      wide.push(el.tagName.toLowerCase() + (el.className ? '.' + el.className : '') + ' ends at ' + Math.round(box.right));
    }
  }
  return wide.slice(-5);
}"""

# Each of the header's links is on screen, or behind the header's menu button which is itself on screen.
HEADER_JS = """() => {
  const shown = (el) => { const b = el.getBoundingClientRect(); return b.width > 0 && b.height > 0 && getComputedStyle(el).visibility !== 'hidden'; };
  const menu = document.querySelector('header .site-menu');
  const menuShown = menu && shown(menu.querySelector('summary'));
  const missing = [];
  for (const link of document.querySelectorAll('header .site-nav a')) {
    const inMenu = menu && menu.querySelector('a[href="' + link.getAttribute('href') + '"]');
    if (!shown(link) && !(menuShown && inMenu)) missing.push(link.getAttribute('href'));
  }
  return missing;
}"""


# The first focusable thing on the page skips the header: a keyboard user reaches the content in one step.
SKIP_JS = """() => {
  const first = document.querySelector('a[href], button, input, select, textarea');
  return !!first && first.matches('a.skip-link[href="#main"]') && !!document.getElementById('main');
}"""


def with_axe(page: Page) -> Page:
    """Inject axe-core into every page the context opens from now on: an init script, which the pages'
    Content-Security-Policy (script-src 'self') does not block as it would a script tag."""
    page.context.add_init_script(path=AXE)
    return page


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the open page, with the first few elements of each.
    The page's context must have axe injected (`with_axe`)."""
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        AXE_TAGS,
    )
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [node["target"] for node in violation["nodes"][:3]],
        }
        for violation in result["violations"]
        if violation["impact"] in BLOCKING
    ]


def page_problems(page: Page, *, english: bool) -> list[str]:
    """What a reader (or their screen reader) would trip over on the open page, one line each."""
    problems: list[str] = []
    if english:
        problems += [
            f"Chinese not marked lang=zh-Hans: {text}" for text in page.evaluate(UNMARKED_CHINESE_JS)
        ]
    problems += [f"wider than the screen: {text}" for text in page.evaluate(OVERFLOW_JS)]
    problems += [f"header link out of reach: {href}" for href in page.evaluate(HEADER_JS)]
    if not page.evaluate(SKIP_JS):
        problems.append("no skip link to the content (a.skip-link → #main)")
    problems += [f"axe {v['impact']} {v['id']}: {v['help']} at {v['nodes']}" for v in axe_violations(page)]
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description="Check one page as the walk does.")
    parser.add_argument("url")
    parser.add_argument("--language", default="zh-hans", choices=["zh-hans", "en"])
    parser.add_argument("--phone", action="store_true")
    options = parser.parse_args()
    parts = urlsplit(options.url)
    with (
        tempfile.TemporaryDirectory(prefix="rulecenter-walk-") as profile,
        chromium_page(
            Path(profile), viewport=PHONE if options.phone else DESKTOP, phone=options.phone
        ) as page,
    ):
        page.context.add_cookies(
            [
                {
                    "name": "django_language",
                    "value": options.language,
                    "url": f"{parts.scheme}://{parts.netloc}/",
                }
            ]
        )
        with_axe(page).goto(options.url)
        for problem in page_problems(page, english=options.language == "en"):
            print(problem)


if __name__ == "__main__":
    main()
