"""Highlighted snippets: the stretch of a text where the query's words cluster, words in `<mark>`.

Everything but the `<mark>` tags is escaped, so a document's own `<script>` shows as text. What matches is
defined by one regular expression per query, run on the original text — a Latin letter or digit also matches
its upper case and full-width forms, as the index folded them — so offsets need no mapping back.

Only the page's hits are highlighted, but that is twenty titles and twenty texts a search, most of what a
search costs beyond tantivy's own work (docs/search.md, "What a search costs"). So: a query without quoted
phrases (the usual case) is matched with `str.find`, which finds what the regular expression would without
compiling it (a new query each time) and walks a text several times faster; escaping is looked for with
`in`; a page's titles are marked in one pass; and the window search stops as soon as no later window can
rank higher.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from markupsafe import Markup, escape

from rulecenter.common.text import ELLIPSIS

SNIPPET_CHARS = 110
LEAD_CHARS = 18  # context shown before the first word of the window
_MARKED = r"<mark>\g<0></mark>"
_JOIN = "\ua64a"  # Ꙋ, a rare letter: what mark_all_of joins texts with


def _char_class(char: str) -> str:
    if char.isascii() and char.isalnum():
        variants = {char.lower(), char.upper()}
        variants |= {chr(ord(v) + 0xFEE0) for v in list(variants)}
        return "[" + "".join(sorted(variants)) + "]"
    return re.escape(char)


def _term_pattern(term: str) -> str:
    # A phrase's words (space-separated) may have punctuation or spaces between them in the text.
    return r"[\W_]*".join("".join(_char_class(char) for char in word) for word in term.split())


# What _char_class lets a Latin letter or digit match, as one character each way: upper case and the
# full-width forms to the lower-case ASCII letter or the digit. Folding keeps every offset.
_FOLD = {
    **{code: chr(code + 32) for code in range(ord("A"), ord("Z") + 1)},
    **{code: chr(code - 0xFEE0) for code in range(ord("０"), ord("９") + 1)},
    **{code: chr(code - 0xFEE0 + 32) for code in range(ord("Ａ"), ord("Ｚ") + 1)},
    **{code: chr(code - 0xFEE0) for code in range(ord("ａ"), ord("ｚ") + 1)},
}


@dataclass(frozen=True, slots=True)
class _Terms:
    """What to mark, worked out once per query."""

    terms: tuple[str, ...]  # longest first: a match is the leftmost, then the longest there
    # When no term is a phrase (and each is in lower case), each matches exactly its own characters, a Latin
    # letter or digit in any of its forms: str.find on the text (folded by _FOLD when a term holds Latin
    # letters or digits) finds what the regular expression would. Compiling that expression costs more
    # than highlighting a whole page (the `re` module compiles in Python), and every new query needs one.
    literal: bool
    fold: bool
    joinable: bool  # no term holds _JOIN (mark_all_of)

    @property
    def pattern(self) -> re.Pattern[str]:
        return _regex(self.terms)


@lru_cache(maxsize=512)
def _regex(terms: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(_term_pattern(term) for term in terms))


@lru_cache(maxsize=512)
def _compiled(terms: tuple[str, ...]) -> _Terms | None:
    usable = tuple(
        sorted({t for t in terms if t and not (len(t) == 1 and t.isascii())}, key=len, reverse=True)
    )
    if not usable:
        return None
    literal = all(
        term.lower() == term and not any(char.isspace() or ord(char) in _FOLD for char in term)
        for term in usable
    )
    fold = any(char.isascii() and char.isalnum() for term in usable for char in term)
    joinable = _JOIN.isalnum() and not any(_JOIN in term for term in usable)
    return _Terms(usable, literal, fold, joinable)


def _literal_spans(text: str, terms: tuple[str, ...]) -> list[tuple[int, int]]:
    """What the regular expression finds when every term is a literal: at each place the longest term
    there, then on from its end."""
    found: list[tuple[int, int]] = []
    for term in terms:
        size = len(term)
        at = text.find(term)
        while at >= 0:
            found.append((at, -size))
            at = text.find(term, at + 1)
    if len(found) > 1:
        found.sort()  # by place, the longest term first
    spans: list[tuple[int, int]] = []
    cursor = 0
    for at, negative_size in found:
        if at >= cursor:
            cursor = at - negative_size
            spans.append((at, cursor))
    return spans


def _spans(text: str, compiled: _Terms) -> list[tuple[int, int]]:
    if compiled.literal:
        return _literal_spans(text.translate(_FOLD) if compiled.fold else text, compiled.terms)
    return [m.span() for m in compiled.pattern.finditer(text)]


def matches(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    compiled = _compiled(tuple(terms))
    return [] if compiled is None else _spans(text, compiled)


def _rank(found: Sequence[str]) -> tuple[int, int]:
    # Longer distinct matches first (虚假发货 says more than 发货), then how many there are.
    return sum(len(word) for word in set(found)), len(found)


def score(text: str, terms: Sequence[str]) -> tuple[int, int]:
    """How well a passage answers the query: (length of the distinct matches, number of matches)."""
    compiled = _compiled(tuple(terms))
    if compiled is None:
        return 0, 0
    return _rank([text[start:end].lower() for start, end in _spans(text, compiled)])


def _clean(text: str) -> bool:
    """Nothing to escape: five scans by `in` cost less than one by a regular expression."""
    return not ("<" in text or "&" in text or ">" in text or '"' in text or "'" in text)


def _markup(html: str) -> Markup:
    # Markup(html) first asks the value for __html__; a str built here is already safe.
    return str.__new__(Markup, html)


def _render(text: str, spans: list[tuple[int, int]], start: int, end: int) -> Markup:
    # Most texts have nothing to escape: then the pieces are used as they are.
    clean = _clean(text[start:end])
    out: list[str] = [ELLIPSIS] if start > 0 else []
    cursor = start
    for span_start, span_end in spans:
        if span_end <= start:
            continue
        if span_start >= end:
            break  # spans are in order: the rest lie past the window
        if span_start < start:
            span_start = start
        if span_end > end:
            span_end = end
        if span_start < cursor:
            continue
        if clean:
            out += (text[cursor:span_start], "<mark>", text[span_start:span_end], "</mark>")
        else:
            out += (escape(text[cursor:span_start]), "<mark>", escape(text[span_start:span_end]), "</mark>")
        cursor = span_end
    out.append(text[cursor:end] if clean else escape(text[cursor:end]))
    if end < len(text):
        out.append(ELLIPSIS)
    return _markup("".join(out))  # every piece of text above is escaped


def mark_all(text: str, terms: Sequence[str]) -> Markup:
    """The whole text (a title), escaped, with every match marked."""
    compiled = _compiled(tuple(terms))
    if compiled is not None and compiled.literal:
        spans = _spans(text, compiled)
        if spans:
            return _render(text, spans, 0, len(text))
    if compiled is None or compiled.literal or compiled.pattern.search(text) is None:
        return _markup(text) if _clean(text) else escape(text)
    if _clean(text):
        # What _render makes of a text with nothing to escape, in one pass of the regex engine (no
        # pattern matches the empty text: every term has a character).
        return _markup(compiled.pattern.sub(_MARKED, text))
    return _render(text, _spans(text, compiled), 0, len(text))


def mark_all_of(texts: list[str], terms: Sequence[str]) -> list[Markup]:
    """`mark_all` of each text (a page's titles): in one pass over them all when none needs escaping.

    The texts are joined by a letter no match can hold or cross — a word character (so the `[\\W_]*` between
    a phrase's words stops at it), upper case (the terms are lower case) — so marking the joined text and
    splitting it again is marking each.
    """
    compiled = _compiled(tuple(terms))
    joined = _JOIN.join(texts)
    if (
        compiled is None
        or not compiled.joinable
        or not _clean(joined)
        or joined.count(_JOIN) != len(texts) - 1
    ):
        return [mark_all(text, terms) for text in texts]
    if compiled.literal:
        marked = str(_render(joined, _spans(joined, compiled), 0, len(joined)))
    else:
        marked = compiled.pattern.sub(_MARKED, joined)
    return [_markup(text) for text in marked.split(_JOIN)]


def snippet(text: str, terms: Sequence[str], *, width: int = SNIPPET_CHARS) -> Markup:
    """About `width` characters of `text` around the densest cluster of matches; the start if none.

    The window starting a little before each match in turn is ranked by the total length of the distinct
    words it shows, then by how many matches; one pass over the matches (two pointers), ending once the
    window holds the last match (a later window shows a subset of it, so it cannot rank higher).
    """
    if "  " in text or "\n" in text:
        text = " ".join(text.split())
    length = len(text)
    if length <= width:
        return mark_all(text, terms)
    compiled = _compiled(tuple(terms))
    spans = [] if compiled is None else _spans(text, compiled)
    if compiled is None or not spans:
        return _render(text, spans, 0, width)
    # The words shown, as the ranking compares them (ＳＫＵ and SKU are two): a match of a literal term
    # with no Latin letter or digit is that term, already in lower case.
    if compiled.literal and not compiled.fold:
        found = [text[s:e] for s, e in spans]
    else:
        found = [text[s:e].lower() for s, e in spans]
    count = len(spans)
    shown: dict[str, int] = {}
    distinct = 0  # the total length of the distinct words in `shown`
    best_distinct, best_matches, best_start, end = -1, -1, 0, 0
    for index in range(count):
        start = spans[index][0] - LEAD_CHARS
        if start < 0:
            start = 0
        limit = start + width
        while end < count and (end <= index or spans[end][1] <= limit):
            word = found[end]
            seen = shown.get(word, 0)
            if not seen:
                distinct += len(word)
            shown[word] = seen + 1
            end += 1
        if distinct > best_distinct or (distinct == best_distinct and end - index > best_matches):
            best_distinct, best_matches, best_start = distinct, end - index, start
        if end == count:
            break
        word = found[index]
        seen = shown[word]
        if seen == 1:
            del shown[word]
            distinct -= len(word)
        else:
            shown[word] = seen - 1
    start = max(0, min(best_start, length - width))
    return _render(text, spans, start, min(length, start + width))
