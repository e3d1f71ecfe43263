"""Highlighted snippets: the stretch of a text where the query's words cluster, words in `<mark>`.

Everything but the `<mark>` tags is escaped, so a document's own `<script>` shows as text. Matching runs on
the original text with one regular expression per query — a Latin letter or digit also matches its upper
case and full-width forms, as the index folded them — so offsets need no mapping back.
"""

import re
from collections.abc import Sequence
from functools import lru_cache

from markupsafe import Markup, escape

from rulecenter.common.text import ELLIPSIS

SNIPPET_CHARS = 110
_SPECIAL = re.compile(r"[&<>\"']")
LEAD_CHARS = 18  # context shown before the first word of the window


def _char_class(char: str) -> str:
    if char.isascii() and char.isalnum():
        variants = {char.lower(), char.upper()}
        variants |= {chr(ord(v) + 0xFEE0) for v in list(variants)}
        return "[" + "".join(sorted(variants)) + "]"
    return re.escape(char)


@lru_cache(maxsize=512)
def _pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    usable = sorted({t for t in terms if t and not (len(t) == 1 and t.isascii())}, key=len, reverse=True)
    if not usable:
        return None
    return re.compile("|".join(_term_pattern(term) for term in usable))


def _term_pattern(term: str) -> str:
    # A phrase's words (space-separated) may have punctuation or spaces between them in the text.
    return r"[\W_]*".join("".join(_char_class(char) for char in word) for word in term.split())


def matches(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    pattern = _pattern(tuple(terms))
    return [] if pattern is None else [m.span() for m in pattern.finditer(text)]


def _rank(found: Sequence[str]) -> tuple[int, int]:
    # Longer distinct matches first (虚假发货 says more than 发货), then how many there are.
    return sum(len(word) for word in set(found)), len(found)


def score(text: str, terms: Sequence[str]) -> tuple[int, int]:
    """How well a passage answers the query: (length of the distinct matches, number of matches)."""
    pattern = _pattern(tuple(terms))
    if pattern is None:
        return 0, 0
    return _rank([m.group(0).lower() for m in pattern.finditer(text)])


def _render(text: str, spans: list[tuple[int, int]], start: int, end: int) -> Markup:
    # Most texts have nothing to escape: then the pieces are used as they are.
    clean = _SPECIAL.search(text, start, end) is None
    out: list[str] = [ELLIPSIS] if start > 0 else []
    cursor = start
    for span_start, span_end in spans:
        span_start, span_end = max(span_start, start), min(span_end, end)
        if span_end <= span_start or span_start < cursor:
            continue
        if clean:
            out += (text[cursor:span_start], "<mark>", text[span_start:span_end], "</mark>")
        else:
            out += (escape(text[cursor:span_start]), "<mark>", escape(text[span_start:span_end]), "</mark>")
        cursor = span_end
    out.append(text[cursor:end] if clean else escape(text[cursor:end]))
    if end < len(text):
        out.append(ELLIPSIS)
    return Markup("".join(out))  # noqa: S704 - every piece of text above is escaped


def mark_all(text: str, terms: Sequence[str]) -> Markup:
    """The whole text (a title), escaped, with every match marked."""
    return _render(text, matches(text, terms), 0, len(text))


def snippet(text: str, terms: Sequence[str], *, width: int = SNIPPET_CHARS) -> Markup:
    """About `width` characters of `text` around the densest cluster of matches; the start if none.

    The window starting a little before each match in turn is ranked by the total length of the distinct
    words it shows, then by how many matches; one pass over the matches (two pointers).
    """
    if "  " in text or "\n" in text:
        text = " ".join(text.split())
    spans = matches(text, terms)
    if len(text) <= width or not spans:
        return _render(text, spans, 0, min(len(text), width))
    found = [text[s:e].lower() for s, e in spans]
    shown: dict[str, int] = {}
    best, best_start, end = (-1, -1), 0, 0
    for index, (anchor, _end) in enumerate(spans):
        start = max(0, anchor - LEAD_CHARS)
        while end < len(spans) and (end <= index or spans[end][1] <= start + width):
            shown[found[end]] = shown.get(found[end], 0) + 1
            end += 1
        rank = (sum(map(len, shown)), end - index)
        if rank > best:
            best, best_start = rank, start
        if shown[found[index]] == 1:
            del shown[found[index]]
        else:
            shown[found[index]] -= 1
    start = max(0, min(best_start, len(text) - width))
    return _render(text, spans, start, min(len(text), start + width))
