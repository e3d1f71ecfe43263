"""The clause structure of a rule text: chapters, articles, sections and numbered items, each with an anchor.

A rule version's text is Markdown written the way Chinese rules are: `第一章 总则` (often a `##` heading),
articles `第十二条` / `第1条` (plain, bold or a heading), sections `一、`, sub-sections `（一）`, items `1.` `1、`
`（1）` and circled points `①`. `parse_clauses` turns it into a flat, ordered list of `Clause`, each with an
anchor derived from its numbering (`article-12`, `article-3-item-2`, `section-1-sub-3`), so a link to a clause
and the alignment of two versions survive edits elsewhere in the text.
"""

import re
from dataclasses import dataclass, field
from typing import Final, Literal

ClauseKind = Literal["preamble", "chapter", "part", "article", "section", "sub", "item", "point"]

# Chapters (章) and parts (节) group articles; they are headings, not clauses with their own wording.
HEADING_KINDS: Final = frozenset({"chapter", "part"})

_CN_DIGITS: Final = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
_CN_UNITS: Final = {"十": 10, "百": 100, "千": 1000, "万": 10_000}
_CN = "零〇一二两三四五六七八九十百千万"


def chinese_numeral_to_int(numeral: str) -> int:
    """The value of a Chinese (一百零五, 二十一, 两) or Arabic (12, full-width １２) numeral.

    Digit-by-digit forms without units (一〇, 二〇二五) are read positionally. Raises ValueError on anything else.
    """
    numeral = numeral.strip()
    if not numeral:
        raise ValueError("empty numeral")
    if numeral.isdigit():
        return int(numeral)
    if any(char not in _CN_DIGITS and char not in _CN_UNITS for char in numeral):
        raise ValueError(f"not a numeral: {numeral!r}")
    if all(char in _CN_DIGITS for char in numeral):
        return int("".join(str(_CN_DIGITS[char]) for char in numeral))
    total = 0
    pending = 0
    for char in numeral:
        if char in _CN_DIGITS:
            pending = _CN_DIGITS[char]
        elif _CN_UNITS[char] == 10_000:
            total = (total + pending) * 10_000
            pending = 0
        else:
            # 十二: a unit with no digit before it counts once.
            total += (pending or 1) * _CN_UNITS[char]
            pending = 0
    return total + pending


@dataclass(frozen=True, slots=True)
class Clause:
    """One numbered unit (or a preamble paragraph) of a rule text.

    `text` is the unit's own Markdown without its number label: the lines up to the next numbered unit, line
    breaks kept. Sub-items are clauses of their own, so an article's `text` does not repeat its items.
    `level` is 0 for chapters and parts, 1 for a top-level article or section, one more for each enclosing
    article, section or item.
    """

    anchor: str
    label: str
    title: str
    text: str
    level: int
    kind: ClauseKind
    number: int | None = None

    @property
    def content(self) -> str:
        """Title and text together: what a reader compares between two versions."""
        return "\n".join(part for part in (self.title, self.text) if part)


def clause_anchor_html_id(anchor: str) -> str:
    """The HTML id (and `#fragment`) for a clause, prefixed so it cannot collide with the page's own ids."""
    return f"clause-{anchor}"


@dataclass(frozen=True, slots=True)
class _Numbering:
    kind: ClauseKind
    rank: int  # a unit closes every open unit of the same or a higher rank
    word: str  # the anchor word
    pattern: re.Pattern[str]


_NUM = rf"[{_CN}\d]+"
_NUMBERINGS: Final = (
    _Numbering("chapter", 0, "chapter", re.compile(rf"第\s*({_NUM})\s*章")),
    _Numbering("part", 1, "part", re.compile(rf"第\s*({_NUM})\s*节")),
    _Numbering("article", 2, "article", re.compile(rf"第\s*({_NUM})\s*条")),
    _Numbering("section", 3, "section", re.compile(rf"([{_CN}]+)\s*[、．.]")),
    _Numbering("sub", 4, "sub", re.compile(rf"[（(]\s*([{_CN}]+)\s*[）)]")),
    # "1." but not "1.5倍".
    _Numbering("item", 5, "item", re.compile(r"(\d{1,3})\s*(?:[、．]|\.(?!\d))")),
    _Numbering("item", 6, "item", re.compile(r"(?:[（(]\s*(\d{1,3})\s*[）)]|(\d{1,3})[)）])")),
    _Numbering("point", 7, "point", re.compile("([\u2460-\u2473])")),
)
# Articles are numbered through the whole text and chapters are top level; other units restart inside
# their container, so their anchors carry the container's anchor.
_GLOBAL_KINDS: Final = frozenset({"chapter", "article"})

_HEADING_MARK = re.compile(r"#{1,6}\s+")
_BULLET = re.compile(r"[-*+]\s+")
_BOLD_HEAD = re.compile(r"(\*\*|__)(.+?)\1(.*)")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
_LEADING_SEPARATOR = re.compile(r"^[\s:：]+")
_FENCE = re.compile(r"(```|~~~)")
_TITLE_MAX_CHARS = 40
_SENTENCE_END = ("。", "；", ";", "：", ":", "！", "!", "？", "?", "，", ",")


@dataclass(frozen=True, slots=True)
class _Head:
    numbering: _Numbering
    label: str
    number: int
    title: str
    text: str


@dataclass
class _Open:
    kind: ClauseKind
    rank: int
    anchor: str
    label: str
    number: int | None
    title: str
    level: int
    lines: list[str] = field(default_factory=list)

    def close(self) -> Clause:
        return Clause(
            anchor=self.anchor,
            label=self.label,
            title=self.title,
            text=_join_lines(self.lines),
            level=self.level,
            kind=self.kind,
            number=self.number,
        )


def _join_lines(lines: list[str]) -> str:
    text = "\n".join(lines).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", text)


def _strip_emphasis(text: str) -> str:
    return _EMPHASIS.sub(r"\2", text).strip()


def _looks_like_title(text: str) -> bool:
    return 0 < len(text) <= _TITLE_MAX_CHARS and not text.endswith(_SENTENCE_END)


def _numbering_match(head: str) -> tuple[_Numbering, re.Match[str], int] | None:
    for numbering in _NUMBERINGS:
        match = numbering.pattern.match(head)
        if match is None:
            continue
        digits = next(group for group in match.groups() if group)
        if numbering.kind == "point":
            return numbering, match, ord(digits) - 0x2460 + 1
        try:
            return numbering, match, chinese_numeral_to_int(digits)
        except ValueError:
            return None
    return None


def _read_head(content: str, *, is_heading: bool) -> _Head | None:
    """The numbering at the start of one line's content (heading marks already removed), if any."""
    bold = _BOLD_HEAD.fullmatch(content)
    head, tail = (bold.group(2).strip(), bold.group(3).strip()) if bold else (content, "")
    found = _numbering_match(head)
    if found is None:
        return None
    numbering, match, number = found
    rest = _LEADING_SEPARATOR.sub("", head[match.end() :]).strip()
    tail = _LEADING_SEPARATOR.sub("", tail)
    label = re.sub(r"\s+", "", match.group(0))
    if is_heading or numbering.kind in HEADING_KINDS:
        title, text = _strip_emphasis(f"{rest} {tail}"), ""
    elif bold and _looks_like_title(rest):
        # **第三条【发货时限】** 卖家应当……: the bold words after the number name the article.
        title, text = _strip_emphasis(rest), tail
    else:
        title, text = "", rest + tail
    return _Head(numbering=numbering, label=label, number=number, title=title, text=text)


def _heading_content(line: str) -> str | None:
    """`## 第一章 总则 ##` → `第一章 总则`: a stripped line's ATX heading text, or None.

    Read by hand, not by `#{1,6}\\s+(.*?)(?:\\s+#+)?\\s*`: that lazy group tries the closing marks at every
    position of a run of spaces, quadratic in the run.
    """
    mark = _HEADING_MARK.match(line)
    if mark is None:
        return None
    content = line[mark.end() :].rstrip()
    hashes = len(content) - len(content.rstrip("#"))
    if hashes and hashes < len(content) and content[-hashes - 1].isspace():
        content = content[:-hashes].rstrip()  # the optional closing marks, after a space
    return content


def _unique(base: str, taken: set[str], next_suffix: dict[str, int]) -> str:
    """`base`, else `base-2`, `base-3` … the first not taken; `next_suffix` remembers where each base got to,
    so ten thousand clauses with one number cost n, not n², look-ups."""
    anchor, suffix = base, next_suffix.get(base, 2)
    if suffix > 2:
        anchor = f"{base}-{suffix}"
    while anchor in taken:
        anchor, suffix = f"{base}-{suffix}", suffix + 1
    next_suffix[base] = suffix
    taken.add(anchor)
    return anchor


def parse_clauses(text: str) -> list[Clause]:
    """The clauses of a Markdown rule text, in reading order.

    Paragraphs before the first numbered unit become `preamble-1`, `preamble-2`, …; unnumbered lines after
    it belong to the unit they follow. Anchors are unique: sloppy duplicate numbering gets `-2`, `-3`.
    """
    clauses: list[Clause] = []
    taken: set[str] = set()
    next_suffix: dict[str, int] = {}
    stack: list[_Open] = []  # the open numbered units, outermost first
    current: _Open | None = None
    preamble_count = 0
    in_fence = False

    def start_preamble(title: str = "") -> _Open:
        nonlocal preamble_count
        preamble_count += 1
        anchor = _unique(f"preamble-{preamble_count}", taken, next_suffix)
        return _Open("preamble", -1, anchor, "", None, title, 1)

    def flush() -> None:
        nonlocal current
        if current is not None and (
            current.kind != "preamble" or current.title or _join_lines(current.lines)
        ):
            clauses.append(current.close())
        current = None

    for raw_line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw_line.rstrip()
        stripped = line.strip()
        in_preamble = not stack

        if in_fence or _FENCE.match(stripped):
            if _FENCE.match(stripped):
                in_fence = not in_fence
            if current is None:
                current = start_preamble()
            current.lines.append(line)
            continue

        if not stripped:
            if in_preamble:
                flush()  # a blank line ends a preamble paragraph
            elif current is not None:
                current.lines.append("")
            continue

        heading = _heading_content(stripped)
        content = heading if heading is not None else stripped
        head = _read_head(content, is_heading=heading is not None)
        if head is None and _BULLET.match(content):
            head = _read_head(_BULLET.sub("", content, count=1), is_heading=heading is not None)

        if head is None:
            if in_preamble and heading is not None:
                flush()
                current = start_preamble(title=_strip_emphasis(content))
                flush()
            else:
                if current is None:
                    current = start_preamble()
                current.lines.append(stripped)
            continue

        flush()
        numbering = head.numbering
        while stack and stack[-1].rank >= numbering.rank:
            stack.pop()
        base = f"{numbering.word}-{head.number}"
        if numbering.kind not in _GLOBAL_KINDS and stack:
            base = f"{stack[-1].anchor}-{base}"
        if numbering.kind in HEADING_KINDS:
            level = 0
        else:
            level = 1 + sum(1 for unit in stack if unit.kind not in HEADING_KINDS)
        current = _Open(
            kind=numbering.kind,
            rank=numbering.rank,
            anchor=_unique(base, taken, next_suffix),
            label=head.label,
            number=head.number,
            title=head.title,
            level=level,
            lines=[head.text] if head.text else [],
        )
        stack.append(current)

    flush()
    return clauses
