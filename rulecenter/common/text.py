"""Text helpers: Markdown rendering with sanitising, and CJK-aware excerpts."""

import html
import re
import unicodedata
from datetime import datetime
from functools import lru_cache

import nh3
from django.utils import timezone
from markdown_it import MarkdownIt

ELLIPSIS = "…"
_URL = re.compile(r"https?://[^\s<>\"'，。；：、（）《》【】“”]+")
_SPACE = re.compile(r"\s+")

# What a rule text may contain once rendered; anything else (script, style, on* attributes) is dropped.
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "ins", "li", "ol", "p", "pre", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "td": {"align"}, "th": {"align"}}


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"linkify": True, "html": True}).enable(["linkify", "table"])


def markdown_to_html(source: str) -> str:
    """Render Markdown and keep only the safe subset of HTML; links get rel=noopener nofollow."""
    rendered = _markdown().render(source)
    return nh3.clean(
        rendered,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener nofollow ugc",
    )


def html_to_text(fragment: str) -> str:
    """The readable text of an HTML fragment, whitespace collapsed."""
    spaced = re.sub(r"</(p|li|h\d|tr|blockquote|pre)>|<br\s*/?>", " ", fragment)
    return _SPACE.sub(" ", html.unescape(nh3.clean(spaced, tags=set()))).strip()


def markdown_to_text(source: str) -> str:
    return html_to_text(markdown_to_html(source))


def char_width(char: str) -> int:
    """Display columns of one character: East Asian wide and fullwidth characters take two."""
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def display_width(text: str) -> int:
    return sum(char_width(c) for c in text)


def excerpt(text: str, width: int) -> str:
    """Cut `text` to at most `width` display columns without splitting a character or a URL.

    A URL that would be cut is left out whole rather than shown broken; an ellipsis marks the cut.
    """
    text = _SPACE.sub(" ", text).strip()
    if display_width(text) <= width:
        return text
    budget = width - char_width(ELLIPSIS)
    url_spans = [m.span() for m in _URL.finditer(text)]
    used = 0
    cut = 0
    for index, char in enumerate(text):
        used += char_width(char)
        if used > budget:
            break
        cut = index + 1
    for start, end in url_spans:
        if start < cut < end:
            cut = start
            break
    return text[:cut].rstrip(" ,，、:：;；") + ELLIPSIS


def local_minute(at: datetime) -> str:
    """`2025-01-22 18:00`: a time in the current time zone, as refusals and notices name it."""
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M")
