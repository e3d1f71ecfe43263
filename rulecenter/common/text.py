"""Text helpers: Markdown rendering with sanitising, CJK-aware excerpts, refusing control characters at
input and neutralising spreadsheet formulas in exports."""

import html
import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache

import nh3
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
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


INSTANT_OUT_OF_RANGE = "时刻“{value}”超出可以处理的范围（太早或太晚），请换一个更近的时刻。"


def instant_representable(at: datetime) -> bool:
    """Whether `at` is an instant both in UTC and in the site's time zone (0001-01-01T00:00+14:00 is not)."""
    try:
        at.astimezone(UTC)
        if timezone.is_aware(at):
            timezone.localtime(at)
    except OverflowError:
        return False
    return True


def local_minute(at: datetime) -> str:
    """`2025-01-22 18:00`: a time in the current time zone, as refusals and notices name it."""
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M")


CONTROL_CHARACTER = "含有不可见的控制字符 {codepoint}（第 {position} 个字符），请删除后再提交。"
# C0 but tab and line breaks, DEL, C1, lone surrogates and the non-characters XML refuses: a feed carrying
# one is malformed for every subscriber, and PostgreSQL cannot store a lone surrogate.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# A one-line field (a title) takes no line break of any kind: U+2028/2029 break JSON in scripts and feeds.
_CONTROL_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")


def control_characters_refuse(texts: Mapping[str, str], *, one_line: Iterable[str] = ()) -> None:
    """Raise a ValidationError naming each field of `texts` that holds a control character, and which one.

    Fields in `one_line` (titles) refuse line breaks too; the others keep tab, LF and CR.
    """
    single = set(one_line)
    errors: dict[str, ValidationError] = {}
    for field, text in texts.items():
        found = (_CONTROL_ONE_LINE if field in single else _CONTROL).search(text or "")
        if found:
            codepoint = f"U+{ord(found.group()):04X}"
            message = _(CONTROL_CHARACTER).format(codepoint=codepoint, position=found.start() + 1)
            errors[field] = ValidationError(message, code="control_character")
    if errors:
        raise ValidationError(errors)


# What a spreadsheet reads as the start of a formula (OWASP "CSV injection"), full-width forms included:
# some spreadsheets fold ＝ to = when a cell is typed in or imported.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def spreadsheet_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: one that would start a formula gets a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text
