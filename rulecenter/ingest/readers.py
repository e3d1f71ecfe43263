"""Listing pages of any common layout, as items: title, the item's own date, excerpt, link and meta (issue 16).

Three readers, one result (`ReadPage`):

- **the seed's layout** (`listing.parse`): `• title`, excerpt lines, the `共N条 当前p/P页` footer;
- **CSS selectors** (`SelectorSpec`, with `PRESETS` for common layouts): item, title, link, date, excerpt;
- **the generic reader**, for text or HTML with no preset. HTML becomes lines first — one per block, the
  page's `nav`/`header`/`footer`/`aside` dropped, a line that is one link keeping its address. Then each line
  is classed (a date alone, a meta line — `电商 / 作者 · 2025-04-02`, `发布时间：… | 来源：…` —, page furniture —
  menus, 首页, a theme toggle, the pager, 阅读更多, ©/ICP —, an excerpt, or a title candidate), a highlighted
  search word broken onto its own line is joined back into its title, and the repeated structure decides
  which candidates are titles: a title with its date (after it, or before it when the page puts dates first),
  meta and excerpt. A candidate with nothing of its own (no date, meta, excerpt or link) on a page whose items
  have them is furniture; one the reader cannot place is kept and reported as unsure, never silently guessed.

No database and no settings: `rulecenter read_listing` runs it on a file, and the corpus under
tests/listings/ measures it (docs/ingest.md).
"""

import csv
import datetime
import io
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from itertools import pairwise
from typing import Any
from urllib.parse import urljoin

import feedparser
from django.utils.translation import gettext as _
from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from .listing import FOOTER, TITLE_MAX_LENGTH, Footer, ListingError, ListingItem, ListingPage, parse

NOTHING_FOUND = "“{name}”里没有找到列表项：{why}"
WHY_EMPTY = "页面没有文字。"
WHY_NO_STRUCTURE = "没有找到重复出现的“标题 + 日期/摘要”结构；可以为这个频道配置 CSS 选择器。"
WHY_SELECTOR = "选择器“{selector}”在页面上没有匹配到任何元素。"
WHY_FEED_EMPTY = "这个 RSS/Atom 订阅源里没有带标题的条目。"
UNSURE_ALONE = "这一行既没有日期、来源，也没有摘要或链接"

# Dates as listing pages print them: 2025-04-02, 2025/4/2, 2025.04.02, 2025年4月2日.
_DATE = re.compile(r"(?<!\d)(20\d\d|19\d\d)\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?!\d)")
_DATE_ONLY = re.compile(
    r"^[\[【(（]?\s*(?:发布(?:时间|日期)?[:：]?\s*|更新(?:时间|日期)?[:：]?\s*|日期[:：]?\s*)?"
    r"(?:20\d\d|19\d\d)\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?(?:\s+\d{1,2}:\d\d(?::\d\d)?)?\s*[\])】）]?$"
)
_RELATIVE = re.compile(r"(?:\d+\s*(?:秒|分钟|小时|天|周|个月|月|年)前|刚刚|昨天|前天|今天)")
_META_WORDS = re.compile(
    r"(?:来源|作者|分类|栏目|标签|发布(?:时间|日期)?|更新(?:时间|日期)?)\s*[:：]|(?:^|\s)[·•]?\s*(?:发布|更新|发表|编辑)于|"
    r"(?:浏览|阅读)(?:量|数)?\s*[:：]?\s*[\d.,]+"
)
_META_MARK = re.compile(_META_WORDS.pattern + r"|\s[·|/｜]\s")
_BREADCRUMB = re.compile(r"^[^\s›»>]{1,30}(?:\s*[›»>]\s*[^\s›»>]{1,30}){1,6}$")
_META_LABEL = re.compile(r"^[·•]?\s*(?:来源|作者|分类|栏目|发布者)\s*[:：]")
_BULLET = re.compile(
    r"^(?:[•●▪◦·▶►▸■◆\-*]\s*|\d{1,3}\s*[.、)]\s*|[\[【]\s*(?:20|19)\d\d[-/.]\d{1,2}[-/.]\d{1,2}\s*[\]】]\s*)"
)
_BADGES = re.compile(  # 置顶, NEW … before or after a title; a bare 新/热/荐 only in brackets or apart
    r"^(?:\s*(?:[\[【](?:置顶|NEW|New|new|HOT|Hot|hot|热|荐|新|原创|转载|精华)[\]】]|置顶|原创|NEW|HOT|(?:热|荐|新)\s)\s*)+"
    r"|(?:\s*(?:[\[【](?:置顶|NEW|New|new|HOT|Hot|hot|热|荐|新)[\]】]|NEW|New|HOT|\s(?:热|荐|新|置顶)))+\s*$"
)
_TIME = re.compile(r"^\s*\d{1,2}:\d\d(?::\d\d)?")
_SEGMENT_SPLIT = re.compile(r"\s*(?:[·•|｜\t]|\s/\s|\s{2,}|[.．…·]{3,}|—{2,}|-{3,})\s*")
_END_PUNCT = re.compile(r"[。！？!?；;…]$|\.\.\.$|……$")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_SENTENCE_END = re.compile(r"[。；;，,、…]$|\.\.\.$")
_SPACE = re.compile(r"\s+")
_PAGER = re.compile(r"^(?:(?:上一页|下一页|首页|尾页|末页|前一页|后一页|\d{1,4}|…|\.\.\.|<|>|«|»|‹|›)\s*)+$")

FURNITURE = frozenset(
    [
        "快讯",
        "活动",
        "动态",
        "社区",
        "论坛",
        "视频",
        "直播",
        "问答",
        "招聘",
        "商城",
        "客服",
        "帮助",
        "全部",
        "加载更多",
        "点击加载更多",
        "首页",
        "主页",
        "资讯",
        "新闻",
        "专题",
        "登录",
        "注册",
        "退出",
        "搜索",
        "菜单",
        "导航",
        "更多",
        "更多>>",
        "更多>",
        "查看更多",
        "阅读更多",
        "阅读全文",
        "查看详情",
        "详情",
        "了解更多",
        "切换主题",
        "暗色模式",
        "亮色模式",
        "深色模式",
        "浅色模式",
        "🌙",
        "☀️",
        "返回顶部",
        "回到顶部",
        "分享",
        "收藏",
        "点赞",
        "评论",
        "关注",
        "订阅",
        "下载APP",
        "扫码下载",
        "相关搜索",
        "相关推荐",
        "热门文章",
        "热门标签",
        "标签",
        "最新文章",
        "推荐阅读",
        "友情链接",
        "关于我们",
        "联系我们",
        "隐私政策",
        "用户协议",
        "网站地图",
        "帮助中心",
        "置顶",
        "NEW",
        "热",
        "荐",
        "上一篇",
        "下一篇",
    ]
)
_FURNITURE_PATTERNS = re.compile(
    r"^(?:©|copyright|版权所有|.*ICP备|.*公网安备|找到约?\s*[\d,]+\s*条结果|共\s*[\d,]+\s*条结果|当前位置[:：]|您的位置[:：]|"
    r"位置[:：]|首页\s*[>›»/]|搜索结果|排序[:：]|按(?:时间|相关度)排序|(?:热门|相关)?标签[:：]|分享到[:：]|共\s*[\d,]+\s*(?:篇|个|项)|最后(?:发表|回复|更新)[:：]|回复\s*[\d,]+\s*/|版主[:：]|今日[:：]|IP属地[:：]|阅读\s*[\d.,]+万?\s)",
    re.IGNORECASE,
)

BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
        "td",
        "th",
    ]
)
SPACED_TAGS = frozenset({"span", "time", "em", "i", "b", "strong", "small", "label", "font", "sup"})
DROPPED_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "nav",
    "header",
    "footer",
    "aside",
    "select",
)


@dataclass(frozen=True, slots=True)
class ReadItem:
    title: str
    date: datetime.date | None
    excerpt: str = ""
    url: str | None = None
    meta: str = ""
    unsure: str = ""  # why the reader is not sure this is an item ("" when it is)

    def as_json(self) -> dict[str, object]:
        found: dict[str, object] = {
            "title": self.title,
            "date": self.date.isoformat() if self.date else None,
            "excerpt": self.excerpt,
            "url": self.url,
            "meta": self.meta,
        }
        if self.unsure:
            found["unsure"] = self.unsure
        return found


@dataclass(frozen=True, slots=True)
class ReadPage:
    name: str
    reader: str  # "seed", "selectors", "generic-text" or "generic-html"
    items: tuple[ReadItem, ...]
    footer: Footer | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "reader": self.reader,
            "items": [item.as_json() for item in self.items],
            "footer": (
                {"total": self.footer.total, "page": self.footer.page, "pages": self.footer.pages}
                if self.footer
                else None
            ),
        }


@dataclass(frozen=True, slots=True)
class SelectorSpec:
    """Where a listing's parts are, as CSS selectors; `title`, `link`, `date` and `excerpt` within an item."""

    item: str
    title: str
    link: str = "a[href]"
    date: str = ""
    excerpt: str = ""


PRESETS: dict[str, SelectorSpec] = {
    # <ul><li><a href>title</a><span class="date">2025-03-01</span></li>: most CMS "latest news" boxes.
    "list": SelectorSpec(item="li", title="a", date=".date, .time, time, span:last-child, em"),
    # <article class="card"><h2><a>title</a></h2><p class="meta">…</p><p>excerpt</p></article>
    "cards": SelectorSpec(item="article", title="h2, h3", date=".meta, time, .date", excerpt="p:not(.meta)"),
    # <table><tr><td><a>title</a></td><td>2025/03/05</td></tr></table>
    "table": SelectorSpec(item="tr", title="a", date="td:last-child"),
    # <dl><dt><a>title</a></dt><dd>2025-03-05 · 来源</dd></dl>
    "definition-list": SelectorSpec(item="dt", title="a", date="dt + dd"),
}


def selector_valid(selector: str) -> bool:
    """Whether the HTML parser reads `selector` as CSS (a channel's own selectors are checked when saved)."""
    try:
        LexborHTMLParser("<p></p>").css(selector)
    except SelectolaxError:
        return False
    return True


class NothingFound(ListingError):
    """A page the reader found no item on; str(error) says why."""


def parse_date(text: str) -> datetime.date | None:
    found = _DATE.search(text)
    if found is None:
        return None
    try:
        return datetime.date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
    except ValueError:
        return None


def _clean(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


# --- HTML to lines ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class Line:
    text: str
    href: str | None = None
    number: int = 0
    group: str = ""  # HTML: the blocks it sits in (`div.rule-box>ul>li`); items repeat one


@dataclass(slots=True)
class _Building:
    parts: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (text, href) of the line's links


def _inside_item(node: LexborNode) -> bool:
    parent = node.parent
    depth = 0
    while parent is not None and depth < 50:
        if parent.tag in ("article", "section", "li"):
            return True
        parent, depth = parent.parent, depth + 1
    return False


def _cleaned(html: str) -> LexborHTMLParser:
    """The page without what no reader reads: scripts, styles, and the page's own navigation, header, footer
    and asides (a card's own header or footer stays: it holds the card's date)."""
    tree = LexborHTMLParser(html)
    for tag in DROPPED_TAGS:
        for node in tree.css(tag):
            if tag in ("header", "footer") and _inside_item(node):
                continue
            node.decompose()
    return tree


def html_lines(html: str) -> list[Line]:
    """The visible text of a page, one line per block; a line that is (mostly) one link keeps its href."""
    tree = _cleaned(html)
    root = tree.body or tree.root
    lines: list[Line] = []
    current = _Building()
    path: list[str] = []

    def flush() -> None:
        text = _clean("".join(current.parts))
        if text:
            href = None
            linked = [(t, h) for t, h in current.links if _clean(t)]
            if linked:
                longest_text, longest_href = max(linked, key=lambda pair: len(_clean(pair[0])))
                if len(_clean(longest_text)) >= 0.5 * len(text):
                    href = longest_href
            lines.append(Line(text=text, href=href, number=len(lines) + 1, group=">".join(path[-3:])))
        current.parts.clear()
        current.links.clear()

    if root is None:
        return lines
    # An explicit stack, not recursion: a hostile page can nest ten thousand elements.
    stack: list[tuple[LexborNode, bool]] = [(root, False)]
    in_link = 0
    while stack:
        node, leaving = stack.pop()
        tag = node.tag or ""
        if leaving:
            if tag in BLOCK_TAGS:
                flush()
                if path:
                    path.pop()
            elif tag == "a":
                in_link -= 1
                current.parts.append(" ")
            elif tag in SPACED_TAGS and not in_link:
                current.parts.append(" ")  # <span>规则中心</span><span>2025-03-05</span>: two words, not one
            continue
        if tag == "time" and not in_link:
            stamp = parse_date(node.attributes.get("datetime") or "")
            if stamp is not None:  # the machine-readable date: the visible 3月5日 may leave out the year
                current.parts.append(f" {stamp.isoformat()} ")
                continue
        if tag == "-text":
            current.parts.append(node.text_content or "")
            continue
        if tag in BLOCK_TAGS:
            flush()
            classes = (node.attributes.get("class") or "").split()
            path.append(f"{tag}.{classes[0]}" if classes else tag)
        if tag == "a":
            in_link += 1
            href = node.attributes.get("href")
            if href:
                current.links.append((node.text(separator=""), href))
        stack.append((node, True))
        children = list(node.iter(include_text=True))
        stack.extend((child, False) for child in reversed(children))
    flush()
    return lines


def text_lines(text: str) -> list[Line]:
    return [
        Line(text=_clean(line), number=number)
        for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1)
        if _clean(line)
    ]


# --- classing lines ------------------------------------------------------------------------------------


def _is_furniture(text: str) -> bool:
    bare = text.strip("|｜·•>»›<«‹ ")
    if bare in FURNITURE or not bare:
        return True
    if _PAGER.match(bare) or _FURNITURE_PATTERNS.match(bare):
        return True
    if ("›" in bare or "»" in bare or " > " in bare) and _BREADCRUMB.match(bare):
        return True  # 首页 › 规则 › 公告, guizeku.example › 1688 › 规则公告
    # A line of menu entries: several short words and nothing else (首页 资讯 专题 登录).
    words = bare.split()
    if len(words) >= 3 and all(len(word) <= 4 for word in words) and not _DATE.search(bare):
        return True
    return (len(bare) <= 2 and not _CJK.search(bare)) or len(bare) <= 1


def _is_meta(text: str) -> bool:
    """`电商 / 作者 · 2025-04-02`, `发布时间：2025年3月5日 | 来源：淘宝规则`: a short line with a date and marks."""
    if len(text) > 80 or _END_PUNCT.search(text) or _SENTENCE_END.search(text):
        return False  # a sentence that names a date is an excerpt
    if _DATE.search(text) or _RELATIVE.search(text):
        return bool(_META_MARK.search(text))
    return len(text) <= 60 and bool(_META_LABEL.match(text))


@dataclass(frozen=True, slots=True)
class _Record:
    title: str
    date: datetime.date
    meta: str


def _standalone_dates(text: str) -> list[re.Match[str]]:
    """Dates that stand apart from the words around them — not `2025年4月1日起施行` inside a title."""
    found = []
    for match in _DATE.finditer(text):
        before = text[match.start() - 1] if match.start() else " "
        end = match.start() + len(match.group(0).rstrip())  # the pattern's `\s*日?` may take the space after
        rest = _TIME.sub("", text[end:])
        after = rest[0] if rest else " "
        if before in _APART_BEFORE and after in _APART_AFTER:
            found.append(match)
    return found


_OPEN_CLOSE = {"[": "]", "【": "】", "(": ")", "（": "）"}
_APART_BEFORE = frozenset(" \t·•|｜[【(（-—:：.．…") | frozenset("\u3000")
_APART_AFTER = frozenset(" \t·•|｜]】)）-—") | frozenset("\u3000")


def _one_line_record(text: str) -> _Record | None:
    """A title and its date on one line, in any order: `title 2025-01-15`, `title（2025-03-02）`,
    `[2025-03-02] title`, `来源 · 2025-03-05 · title`, `title ........ 2025-03-05`, `【公告】title<TAB>2025-03-05`.
    The title is the longest piece around the date; a short piece beside it (a source) is its meta."""
    found = _standalone_dates(text)
    if len(found) != 1 or len(text) > TITLE_MAX_LENGTH + 40 or _META_WORDS.search(text):
        return None
    date_match = found[0]
    stamp = parse_date(date_match.group(0))
    if stamp is None:
        return None
    before = text[: date_match.start()].rstrip()
    after = _TIME.sub("", text[date_match.end() :]).lstrip()
    if before and after and before[-1] in _OPEN_CLOSE and after[0] == _OPEN_CLOSE[before[-1]]:
        before, after = before[:-1], after[1:]  # the brackets around the date: (2025-03-02), [2025-03-02]
    pieces = [
        piece.strip()
        for side in (before, after)
        for piece in _SEGMENT_SPLIT.split(side.strip())
        if piece.strip(" -—:：")
    ]
    if not pieces:
        return None
    title = max(pieces, key=len)
    # A record's title is a real title's length: `2025-03-18 · 天猫规则` is a date and a source (meta).
    if len(title) < 8 or not _CJK.search(title) or _END_PUNCT.search(title) or _SENTENCE_END.search(title):
        return None
    others = [piece for piece in pieces if piece is not title]
    if any(len(piece) > 12 for piece in others):
        return None  # two long pieces: a sentence that names a date, not a record
    return _Record(title=_strip_title(title), date=stamp, meta=" ".join(others))


def _labelled_date(text: str) -> bool:
    """`规则中心 2025-03-05`: in HTML, an item's info block — a short label beside a date (not a link)."""
    if not _DATE.search(text) or _DATE_ONLY.match(text):
        return False
    rest = _RELATIVE.sub("", _DATE.sub("", text)).strip(" ·|｜/-—:：")
    return len(rest) <= 8 and "《" not in rest


def _is_excerpt(text: str) -> bool:
    return len(text) >= 50 or (len(text) >= 20 and bool(_END_PUNCT.search(text)))


def _strip_title(text: str) -> str:
    text = _BADGES.sub("", text).strip()
    return _BULLET.sub("", text, count=1).strip()


@dataclass(slots=True)
class _Item:
    title: str
    url: str | None = None
    date: datetime.date | None = None
    meta: list[str] = field(default_factory=list)
    excerpt: list[str] = field(default_factory=list)
    marker: str = ""  # how its line began: "number", "bullet", "bracket-date" or ""
    group: str = ""
    in_series: bool = False  # one of the titles that share the page's marker (kept even with nothing else)

    @property
    def backed(self) -> bool:
        """Has something of its own besides a title: a date, meta or an excerpt."""
        return bool(self.date or self.meta or self.excerpt)


_MARKERS = (
    ("number", re.compile(r"^\d{1,3}\s*[.、)]\s*")),
    ("bracket-date", re.compile(r"^[\[【]\s*(?:20|19)\d\d[-/.]\d{1,2}[-/.]\d{1,2}\s*[\]】]")),
    ("bullet", re.compile(r"^[•●▪◦·▶►▸■◆\-*]\s*")),
)


def _marker(text: str) -> str:
    bare = _BADGES.sub("", text).strip()
    return next((name for name, pattern in _MARKERS if pattern.match(bare)), "")


def _same_item(item: _Item, line: Line) -> bool:
    """In HTML, a date, meta or excerpt belongs to the title above only inside the same block (a card, a
    list item, a row): not a footer paragraph after the last list."""
    if not item.group or not line.group:
        return True
    shared = set(item.group.split(">")) & set(line.group.split(">"))
    return (
        line.group.startswith(item.group)
        or item.group.startswith(line.group)
        or line.group.rpartition(">")[0] == item.group.rpartition(">")[0]
        or any(block.partition(".")[0] in ("article", "section", "li", "tr") for block in shared)
    )


def _consistent(items: list[_Item]) -> list[_Item]:
    """The page's items repeat one shape: when most titles begin with one marker (1. / • / [date]), those
    without it are headings or notes; in HTML, a group of blocks whose titles mostly have a date, meta or
    excerpt keeps only those (its undated links are a box of shortcuts), and a group with none of them is
    dropped when another group has them (a sidebar of links)."""
    if len(items) >= 3:
        markers = Counter(item.marker for item in items if item.marker)
        if markers:
            marker, count = markers.most_common(1)[0]
            if count >= max(3, 0.4 * len(items)):
                items = [item for item in items if item.marker == marker]
                for item in items:
                    item.in_series = True
    groups: dict[str, list[_Item]] = {}
    for item in items:
        if item.group:
            groups.setdefault(item.group, []).append(item)
    if groups:
        backed_groups = {name for name, members in groups.items() if any(m.backed for m in members)}
        kept: list[_Item] = []
        for item in items:
            members = groups.get(item.group, [])
            if item.group and backed_groups and item.group not in backed_groups:
                continue
            if item.group and not item.backed and sum(m.backed for m in members) >= 0.6 * len(members):
                continue
            kept.append(item)
        items = kept
    return items


_WORD = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]{1,4}")


def _glue_stops(text: str) -> bool:
    """Whether a line ends (or is) something a highlighted word cannot continue: a sentence, a date …"""
    return bool(
        _END_PUNCT.search(text)
        or _SENTENCE_END.search(text)
        or _DATE_ONLY.match(text)
        or _is_meta(text)
        or _is_furniture(text)
        or _marker(text) == "bullet"
    )


def _glued(lines: list[Line]) -> list[Line]:
    """A search page copies each highlighted query word onto a line of its own, in titles and snippets alike
    (`关于《1688商家` / `发货` / `行为管理规范》…`): a short word standing alone three times or more is that word, and
    is glued to the text before it and after it."""
    counts = Counter(
        line.text for line in lines if _WORD.fullmatch(line.text) and not _BADGES.fullmatch(line.text)
    )
    words = {word for word, count in counts.items() if count >= 3}
    if not words:
        return lines
    out: list[Line] = []
    glue_next = False
    for line in lines:
        if line.text in words:
            if out and not _glue_stops(out[-1].text) and out[-1].href == line.href:
                last = out[-1]
                out[-1] = Line(
                    text=last.text + line.text, href=last.href, number=last.number, group=last.group
                )
            else:
                out.append(line)
            glue_next = True
            continue
        starts_apart = bool(
            _DATE_ONLY.match(line.text)
            or _is_meta(line.text)
            or _is_furniture(line.text)
            or _marker(line.text)
        )
        if glue_next and out and not starts_apart and not _BREADCRUMB.match(line.text):
            last = out[-1]
            out[-1] = Line(text=last.text + line.text, href=last.href, number=last.number, group=last.group)
        else:
            out.append(line)
        glue_next = False
    return out


def _joined(lines: list[Line]) -> list[Line]:
    """A highlighted search word copied onto its own line (`关于《1688商家` / `发货` / `行为管理规范》…`), joined back."""
    out: list[Line] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        text = line.text
        # An open 《 or （ closed on a following short line: one title broken by highlighting.
        lookahead = index + 1
        while (
            (text.count("《") > text.count("》") or text.count("（") > text.count("）"))
            and lookahead < len(lines)
            and lookahead <= index + 3
            and lines[lookahead].href == line.href
            and not _DATE_ONLY.match(lines[lookahead].text)
        ):
            text += lines[lookahead].text
            lookahead += 1
        out.append(Line(text=text, href=line.href, number=line.number, group=line.group))
        index = lookahead
    return out


# A search result's snippet that begins with the page's date: `2025年3月5日 · 淘宝网发布公告…`.
_LEADING_DATE = re.compile(r"^(" + _DATE.pattern + r")\s*[·—–-]\s")


def _items(kept: Sequence[tuple[str, Line]], *, dates_first: bool) -> list[_Item]:
    """Titles with what follows them (or, `dates_first`, the date line before them)."""
    items: list[_Item] = []
    pending_date: datetime.date | None = None
    for kind, line in kept:
        text = line.text
        if kind in ("title", "dated-title"):
            title = _strip_title(text)
            item = _Item(title=title, url=line.href, marker=_marker(text), group=line.group)
            record = _one_line_record(text) if kind == "dated-title" else None
            if record is not None:
                item.title, item.date = record.title, record.date
                if record.meta:
                    item.meta.append(record.meta)
            elif dates_first and pending_date is not None:
                item.date = pending_date
            pending_date = None
            items.append(item)
        elif kind == "date" and dates_first:
            pending_date = parse_date(text)
        elif not items or not _same_item(items[-1], line):
            continue
        elif kind == "date":
            if items[-1].date is None:
                items[-1].date = parse_date(text)
        elif kind == "meta":
            items[-1].meta.append(text.lstrip("•· ").strip())
            if items[-1].date is None:
                items[-1].date = parse_date(text)
        elif kind == "excerpt":
            items[-1].excerpt.append(text)
            leading = _LEADING_DATE.match(text)
            if items[-1].date is None and leading:
                items[-1].date = parse_date(leading.group(1))
    return items


def _adjacent(kept: Sequence[tuple[str, Line]], *, dates_first: bool) -> int:
    """How many dates alone on their line sit right before a title (`dates_first`) or right after one: on
    a tie in dated titles, the page's own order decides (an archive's `03-07` line, then its title)."""
    kinds = [kind for kind, _line in kept]
    titles = ("title", "dated-title")
    pairs = pairwise(kinds)
    if dates_first:
        return sum(1 for first, second in pairs if first == "date" and second in titles)
    return sum(1 for first, second in pairs if first in titles and second == "date")


def _dated(items: list[_Item]) -> int:
    """How many real-looking titles (with an excerpt or meta, or ten characters long) a reading dates."""
    return sum(1 for item in items if item.date and (item.excerpt or item.meta or len(item.title) >= 10))


_MONTH_HEADER = re.compile(r"^((?:20|19)\d\d)\s*年\s*(\d{1,2})\s*月$")
_YEAR_HEADER = re.compile(r"^((?:20|19)\d\d)\s*年?$")
_WEEKDAY = r"\s*(?:星期|周)[一二三四五六日天]"
_DAY_HEADER = re.compile(r"^(" + _DATE.pattern + r")" + _WEEKDAY + r"$")
_RELATIVE_DAY_HEADER = re.compile(r"^(?:今天|昨天|前天)(?:" + _WEEKDAY + r")?$")
_TIME_ALONE = re.compile(r"^\d{1,2}:\d\d(?::\d\d)?$")
_MONTH_DAY = re.compile(r"(?<![\d-])(\d{1,2})-(\d{1,2})(?![\d-])")


def _headers_given(lines: Sequence[Line]) -> list[Line]:
    """Group headers carry what the lines under them leave out, and go: under a year or month header (`2025`,
    `2025年3月`) a short line's yearless `03-11` takes that year; under a day header (`2025年03月06日 星期四`)
    a time alone on its line (`21:07`) takes that day. Under `今天 星期五` a time stays a time: no date."""
    out: list[Line] = []
    year: str | None = None
    day: datetime.date | None = None
    for line in lines:
        text = line.text
        header = _MONTH_HEADER.match(text) or _YEAR_HEADER.match(text)
        if header:
            year, day = header.group(1), None
            continue
        day_header = _DAY_HEADER.match(text)
        if day_header:
            day = parse_date(day_header.group(1))
            year = str(day.year) if day else year
            continue
        if _RELATIVE_DAY_HEADER.match(text):
            day = None
            continue
        if day and _TIME_ALONE.match(text):
            text = f"{day.isoformat()} {text}"
        elif year and len(text) <= 40 and not _DATE.search(text) and _MONTH_DAY.search(text):
            text = _MONTH_DAY.sub(rf"{year}-\1-\2", text, count=1)
        out.append(
            line
            if text == line.text
            else Line(text=text, href=line.href, number=line.number, group=line.group)
        )
    return out


def generic(lines: Sequence[Line], *, name: str, reader: str) -> ReadPage:
    """The items of a page with no preset: see the module's docstring."""
    lines = _headers_given(lines)
    footer: Footer | None = None
    kept: list[tuple[str, Line]] = []  # (class, line)
    furnished = [line for line in lines if FOOTER.search(line.text) or not _is_furniture(line.text)]
    for line in _joined(_glued(furnished)):
        text = line.text
        counts = FOOTER.search(text)
        if counts:
            total, page, pages = (int(group) for group in counts.groups())
            if 1 <= page <= pages:
                footer = Footer(total=total, page=page, pages=pages)
            continue
        if _is_furniture(text):
            continue
        if _DATE_ONLY.match(text):
            kept.append(("date", line))
        elif _one_line_record(text) is not None and not _META_LABEL.match(text):
            kept.append(("dated-title", line))
        elif _is_meta(text) or (not line.href and (line.group or len(text) <= 30) and _labelled_date(text)):
            kept.append(("meta", line))
        elif line.href and 4 <= len(text) <= TITLE_MAX_LENGTH and not _SENTENCE_END.search(text):
            kept.append(("title", line))
        elif (_SENTENCE_END.search(text) and not _marker(text)) or _is_excerpt(text):
            kept.append(("excerpt", line))
        elif 4 <= len(text) <= TITLE_MAX_LENGTH:
            kept.append(("title", line))
        else:
            kept.append(("other", line))
    if not kept:
        raise NothingFound(_(NOTHING_FOUND).format(name=name, why=_(WHY_EMPTY)))
    # A bare line repeated down the page is a label (a category cell, a byline, an author's bio), not a title.
    repeated = Counter(line.text for kind, line in kept if kind == "title" and line.href is None)
    kept = [
        (kind, line)
        for kind, line in kept
        if not (
            kind == "title"
            and line.href is None
            and (repeated[line.text] >= 3 or (len(line.text) <= 8 and repeated[line.text] >= 2))
        )
    ]
    titles = [line for kind, line in kept if kind in ("title", "dated-title")]
    linked = sum(1 for line in titles if line.href)
    if linked >= 3 and linked >= 0.4 * len(titles):
        # An HTML page whose titles are links: a bare short line (a category cell, a box's heading) is not one.
        kept = [(kind, line) for kind, line in kept if not (kind == "title" and line.href is None)]
    # Which way round are dates alone on their line: after their title (and its excerpt), or before it?
    # Both are tried; the one that dates more titles wins (after, when even).
    after = _items(kept, dates_first=False)
    before = _items(kept, dates_first=True)
    items = (
        before
        if (_dated(before), _adjacent(kept, dates_first=True))
        > (_dated(after), _adjacent(kept, dates_first=False))
        else after
    )
    items = _consistent(items)
    # A candidate with nothing of its own, on a page whose items mostly have something: furniture.
    substantial = sum(1 for item in items if item.backed)
    found: list[ReadItem] = []
    for item in items:
        if len(item.title) > TITLE_MAX_LENGTH or len(item.title) < 4:
            continue
        if not item.backed and not item.in_series:
            if substantial >= 3 or substantial >= max(2, len(items) // 2):
                continue  # a sidebar link, a heading: the page's items carry dates, meta or excerpts
            unsure = _(UNSURE_ALONE)
        else:
            unsure = ""
        found.append(
            ReadItem(
                title=item.title,
                date=item.date,
                excerpt="\n".join(item.excerpt),
                url=item.url,
                meta=" ".join(item.meta),
                unsure=unsure,
            )
        )
    if not found:
        raise NothingFound(_(NOTHING_FOUND).format(name=name, why=_(WHY_NO_STRUCTURE)))
    return ReadPage(name=name, reader=reader, items=tuple(found), footer=footer)


# --- the three readers -----------------------------------------------------------------------------------


def looks_like_html(text: str) -> bool:
    head = text[:2048].lower()
    return (
        "<html" in head or "<!doctype html" in head or bool(re.search(r"<(div|ul|li|a|p|table|body)\b", head))
    )


def read_seed(text: str, *, name: str) -> ReadPage:
    page = parse(text, name=name)
    return ReadPage(
        name=name,
        reader="seed",
        items=tuple(ReadItem(title=item.title, date=None, excerpt=item.excerpt) for item in page.items),
        footer=page.footer,
    )


def read_selectors(html: str, spec: SelectorSpec, *, name: str) -> ReadPage:
    tree = LexborHTMLParser(html)
    nodes = tree.css(spec.item)
    if not nodes:
        raise NothingFound(_(NOTHING_FOUND).format(name=name, why=_(WHY_SELECTOR).format(selector=spec.item)))
    items: list[ReadItem] = []
    for node in nodes:
        title_node = node.css_first(spec.title)
        if title_node is None:
            continue
        title = _strip_title(_clean(title_node.text(separator="")))
        if not 4 <= len(title) <= TITLE_MAX_LENGTH:
            continue
        link = (
            title_node
            if title_node.tag == "a"
            else title_node.css_first(spec.link) or node.css_first(spec.link)
        )
        date_node = node.css_first(spec.date) if spec.date else None
        date_text = _clean(date_node.text(separator=" ")) if date_node is not None else ""
        excerpt_node = node.css_first(spec.excerpt) if spec.excerpt else None
        items.append(
            ReadItem(
                title=title,
                date=parse_date(date_text),
                excerpt=_clean(excerpt_node.text(separator="")) if excerpt_node is not None else "",
                url=link.attributes.get("href") if link is not None else None,
                meta=date_text if date_text and not _DATE_ONLY.match(date_text) else "",
            )
        )
    if not items:
        raise NothingFound(_(NOTHING_FOUND).format(name=name, why=_(WHY_NO_STRUCTURE)))
    return ReadPage(name=name, reader="selectors", items=tuple(items))


def read_page(text: str, *, name: str, kind: str = "auto", spec: SelectorSpec | None = None) -> ReadPage:
    """A page's items: an RSS/Atom feed's entries; by `spec` when given; the seed's layout when it is one; a
    text table's rows; else the generic reader."""
    if spec is None and _FEED.search(text[:4096]):
        return read_feed(text, name=name)
    html = kind == "html" or (kind == "auto" and looks_like_html(text))
    if spec is not None and html:
        return read_selectors(text, spec, name=name)
    if not html:
        try:
            seed = read_seed(text, name=name)
        except ListingError:
            seed = None
        if seed is not None and _seed_shaped(text):
            return seed
        lines = text_lines(text)
        rows = markdown_records(text) or tab_table(text) or text_table(lines)
        if rows:
            return ReadPage(name=name, reader="generic-text", items=tuple(rows))
        return generic(lines, name=name, reader="generic-text")
    records = html_records(text)
    if records is not None:
        return ReadPage(name=name, reader="generic-html", items=tuple(records))
    return generic(html_lines(text), name=name, reader="generic-html")


# --- feeds: RSS and Atom, read by feedparser ------------------------------------------------------------

_FEED = re.compile(r"<(?:rss|feed|rdf:RDF)\b[^>]*>", re.IGNORECASE)
_XML_START = re.compile(r"<\?xml\b")


def _feed_date(entry: Any) -> datetime.date | None:
    """The entry's own date as its feed writes it (the day in the feed's own offset, not in UTC)."""
    for key in ("published", "updated", "created"):
        value = entry.get(key)
        if not value:
            continue
        try:
            return parsedate_to_datetime(value).date()
        except (TypeError, ValueError):
            pass
        try:
            return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            pass
        found = parse_date(value)
        if found is not None:
            return found
    return None


def read_feed(text: str, *, name: str) -> ReadPage:
    """An RSS or Atom feed — fetched, or copied from a browser's XML view with its preface — as items:
    each entry's title, link, date (pubDate / published / updated) and summary as plain text."""
    start = _XML_START.search(text) or _FEED.search(text)
    parsed = feedparser.parse(text[start.start() if start else 0 :])
    items = []
    for entry in parsed.entries:
        title = _clean(entry.get("title") or "")
        if not 1 <= len(title) <= TITLE_MAX_LENGTH:
            continue
        summary = entry.get("summary") or ""
        excerpt = _clean(LexborHTMLParser(summary).text(separator=" ")) if "<" in summary else _clean(summary)
        tags = [tag.get("term") for tag in entry.get("tags") or [] if tag.get("term")]
        items.append(
            ReadItem(
                title=title,
                date=_feed_date(entry),
                excerpt=excerpt,
                url=entry.get("link") or None,
                meta=" · ".join(tags),
            )
        )
    if not items:
        raise NothingFound(_(NOTHING_FOUND).format(name=name, why=_(WHY_FEED_EMPTY)))
    return ReadPage(name=name, reader="feed", items=tuple(items))


# --- text tables: a header line of column names, then one row per line ---------------------------------

_TITLE_COLUMN = re.compile(r"名称|标题|题目|文件|事项|title|name|subject", re.IGNORECASE)
_DATE_COLUMN = re.compile(r"日期|时间|date|time|published|posted|updated", re.IGNORECASE)
_NUMBER_COLUMN = re.compile(r"^(?:序号|编号|No\.?|#)$", re.IGNORECASE)
_EMPTY_CELL = frozenset({"—", "-", "——", "--", "/", "无", "N/A", "n/a"})


@dataclass(frozen=True, slots=True)
class _Columns:
    names: list[str]
    title: int
    dates: list[int]
    published: int  # the date column that names publication (the only date column, or 发布/published)


def _table_header(text: str) -> _Columns | None:
    names = text.split()
    if not 3 <= len(names) <= 10 or any(len(name) > 8 for name in names):
        return None
    return _cells_columns(names)


def _table_row(text: str, columns: _Columns) -> ReadItem | None:
    """A row read from both ends: the cells before the title column are the first words, those after it the
    last; the title is what is left between (titles have spaces; cells here do not)."""
    words = text.split()
    before, after = columns.title, len(columns.names) - columns.title - 1
    if len(words) < len(columns.names):
        return None
    cells = [*words[:before], " ".join(words[before : len(words) - after]), *words[len(words) - after :]]
    for index in columns.dates:
        if cells[index] not in _EMPTY_CELL and parse_date(cells[index]) is None:
            return None
    if any(
        _NUMBER_COLUMN.match(columns.names[index]) and not cells[index].isdigit() for index in range(before)
    ):
        return None
    title = cells[columns.title]
    if not 4 <= len(title) <= TITLE_MAX_LENGTH:
        return None
    meta = " · ".join(
        cell for index, cell in enumerate(cells) if index != columns.title and index not in columns.dates
        and not _NUMBER_COLUMN.match(columns.names[index]) and cell not in _EMPTY_CELL
    )  # fmt: skip
    published = cells[columns.published]
    return ReadItem(title=title, date=None if published in _EMPTY_CELL else parse_date(published), meta=meta)


def text_table(lines: Sequence[Line]) -> list[ReadItem]:
    """The rows of a table copied as text (a PDF's index, a spreadsheet): under a header line naming a title
    column and date columns (`序号 规则名称 类型 发布日期 生效日期`), each line that fits the columns is a row,
    its date the publication column's; a repeated header (a new page) goes on. At least three rows, or none."""
    rows: list[ReadItem] = []
    columns: _Columns | None = None
    for line in lines:
        header = _table_header(line.text)
        if header is not None:
            columns = header
            continue
        if columns is not None:
            row = _table_row(line.text, columns)
            if row is not None:
                rows.append(row)
    return rows if len(rows) >= 3 else []


def _cells_columns(cells: list[str]) -> _Columns | None:
    """A header row's columns: one title column and the date columns; with several dates, the one named as
    publication (发布日期 beside 生效日期), else none — which is the item's date would not be known."""
    names = [_clean(cell) for cell in cells]
    titles = [
        index for index, name in enumerate(names) if name and _TITLE_COLUMN.search(name) and len(name) <= 8
    ]
    dates = [
        index for index, name in enumerate(names) if name and _DATE_COLUMN.search(name) and len(name) <= 8
    ]
    named = [index for index in dates if _PUBLISHED_COLUMN.search(names[index])]
    if len(titles) != 1 or not dates or (len(dates) > 1 and len(named) != 1):
        return None
    return _Columns(names, titles[0], dates, named[0] if named else dates[0])


def tab_table(text: str) -> list[ReadItem]:
    """A spreadsheet copied as tab-separated text: under a header row naming a title column and date columns,
    each row with a title is an item, its date the publication column's (csv reads quoted cells that run
    over several lines). At least three rows, or none."""
    rows: list[ReadItem] = []
    columns: _Columns | None = None
    for cells in csv.reader(io.StringIO(text), delimiter="\t"):
        if len(cells) < 3:
            continue
        header = _cells_columns(cells)
        if header is not None:
            columns = header
            continue
        if columns is None or len(cells) <= max(columns.title, columns.published):
            continue
        title = _strip_title(_clean(cells[columns.title]))
        stamp = _clean(cells[columns.published])
        if not 4 <= len(title) <= TITLE_MAX_LENGTH or not _CJK.search(title):
            continue
        if stamp and stamp not in _EMPTY_CELL and parse_date(stamp) is None:
            continue
        rows.append(ReadItem(title=title, date=parse_date(stamp) if stamp else None))
    return rows if len(rows) >= 3 else []


_MD_LINK = re.compile(r"(?<!!)\[([^\]\n]{4,300})\]\((https?://[^)\s]+)\)")
_MD_LIST = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+")
_MD_BOLD = re.compile(r"\*\*([^*]{1,30})\*\*")


def markdown_records(text: str) -> list[ReadItem]:
    """A Markdown page (a README, a wiki): each list item or table row with a link to a page elsewhere is an
    item — the link's text its title, the row's publication column (a table headed 发布日期 …) or the line's
    date its date, a bold label its meta. Links to anchors and to other files of the page are its menu. At
    least three, or none."""
    if sum(1 for line in text.splitlines() if _MD_LINK.search(line)) < 3:
        return []
    items: list[ReadItem] = []
    header: _Columns | None = None
    for raw in text.splitlines():
        line = raw.strip()
        link = _MD_LINK.search(line)
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            if link is None:
                if not all(set(cell) <= set(":- ") for cell in cells):
                    header = _cells_columns(cells)
                continue
        else:
            header = None
            if link is None or not _MD_LIST.match(raw):
                continue
            cells = []
        title = _strip_title(_clean(link.group(1)))
        if len(title) < 6 or not _CJK.search(title) or _is_furniture(title):
            continue
        date = None
        if header is not None and len(cells) == len(header.names):
            date = parse_date(cells[header.published])
        elif not cells:
            rest = (line[: link.start()] + " " + line[link.end() :]).replace("`", " ")
            dates = _standalone_dates(f" {rest} ")
            date = parse_date(dates[0].group(0)) if dates else None
        label = _MD_BOLD.search(line[: link.start()])
        items.append(
            ReadItem(title=title, date=date, url=link.group(2), meta=label.group(1) if label else "")
        )
    return items if len(items) >= 3 else []


# --- HTML: the page's repeated records ------------------------------------------------------------------

_ENGLISH_DATE = re.compile(
    r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+(\d{1,2}),?\s+((?:20|19)\d\d)\b"
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_TITLE_HINT = re.compile(r"title|subject|xst|headline|tit\b|name", re.IGNORECASE)
_LINK_FURNITURE = re.compile(
    r"^(?:继续阅读|阅读全文|阅读更多|查看详情|查看全文|了解更多|更多|详情|全文|read more)", re.IGNORECASE
)
_DIGIT = re.compile(r"\d")
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_SKIPPED = frozenset({"-text", "br", "hr", "script", "style", "noscript", "template", "svg", "img", "input"})


_PUBLISHED_COLUMN = re.compile(
    r"(?:发布|发表|公布|公开)(?:日期|时间|日)?$|^(?:published|posted|created|创建)", re.IGNORECASE
)
_OTHER_DATE_COLUMN = re.compile(
    r"生效|施行|实施|截止|到期|更新|修改|编辑|成文|印发|签发|effective|updated|modified|deadline|due",
    re.IGNORECASE,
)


def _cell_date(cell: LexborNode) -> datetime.date | None:
    text = _clean(cell.text(separator=" "))
    stamp = cell.css_first("time[datetime]")
    found = parse_date(stamp.attributes.get("datetime") or "") if stamp is not None else None
    if found is None:
        dates = _standalone_dates(f" {text} ")
        found = parse_date(dates[0].group(0)) if dates else _english_date(text)
    return found


def _column_date(row: LexborNode) -> tuple[bool, datetime.date | None]:
    """A table row's date by its column: (True, the date in the column headed 发布/published — None when that
    cell is empty) when the table names one beside other date columns (生效, updated); (False, None) else."""
    table = row.parent
    while table is not None and table.tag != "table":
        table = table.parent
    if table is None:
        return False, None
    headers = [_clean(cell.text(separator=" ")) for cell in table.css("thead th")] or [
        _clean(cell.text(separator=" ")) for cell in (table.css_first("tr") or row).css("th")
    ]
    published = [index for index, name in enumerate(headers) if _PUBLISHED_COLUMN.search(name)]
    others = [index for index, name in enumerate(headers) if _OTHER_DATE_COLUMN.search(name)]
    if len(published) != 1 or not others:
        return False, None
    cells = [child for child in row.iter() if child.tag in ("td", "th")]
    if len(cells) != len(headers):
        return False, None
    return True, _cell_date(cells[published[0]])


def _english_date(text: str) -> datetime.date | None:
    english = _ENGLISH_DATE.search(text)
    if english:
        try:
            return datetime.date(int(english.group(3)), _MONTHS[english.group(1)], int(english.group(2)))
        except ValueError:
            return None
    return None


_NUMERIC_DATE = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})/((?:20|19)\d\d)(?![\d/])")
_DAY_FIRST_HINT = re.compile(r"日/月/年|DD/MM/YYYY|dd/mm/yyyy")


def numeric_order(text: str) -> str | None:
    """How a page writes `05/03/2025`: "dmy" or "mdy", when it says (a day over 12 in either place, or
    `日/月/年` written out); None when every such date could be either — then none of them is read."""
    found = _NUMERIC_DATE.findall(text)
    if any(int(first) > 12 for first, _second, _year in found) or _DAY_FIRST_HINT.search(text):
        return "dmy"
    if any(int(second) > 12 for _first, second, _year in found):
        return "mdy"
    return None


def _numeric_date(text: str, order: str | None) -> datetime.date | None:
    match = _NUMERIC_DATE.search(text)
    if match is None or order is None:
        return None
    first, second, year = (int(group) for group in match.groups())
    day, month = (first, second) if order == "dmy" else (second, first)
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def _record_date(node: LexborNode, title: str, order: str | None = None) -> datetime.date | None:
    """The record's own date: in a table that names a publication column beside other dates, that column's;
    else a `<time datetime>` first, else the first date standing apart in its text (outside the title); the
    author's date comes before a last reply's in every forum we know."""
    if node.tag == "tr":
        by_column, found = _column_date(node)
        if by_column:
            return found
    for stamp in node.css("time[datetime]"):
        found = parse_date(stamp.attributes.get("datetime") or "")
        if found is not None:
            return found
    text = _clean(node.text(separator=" ")).replace(title, " ", 1)
    dates = _standalone_dates(text)
    if dates:
        return parse_date(dates[0].group(0))
    return _english_date(text) or _numeric_date(text, order)


def _record(node: LexborNode, order: str | None = None) -> ReadItem | None:
    """One repeated block as an item: its title link (in a heading, or marked as a title, or the longest),
    the block's own date, and its longest paragraph as the excerpt."""
    links = []
    for link in node.css("a[href]"):
        text = _strip_title(_clean(link.text(separator="")))
        if (
            len(text) >= 6
            and _CJK.search(text)
            and not _LINK_FURNITURE.match(text)
            and not _is_furniture(text)
        ):
            links.append((link, text))
    if not links:
        return None

    def rank(pair: tuple[LexborNode, str]) -> tuple[int, int]:
        link, text = pair
        parent = link.parent
        in_heading = any(
            ancestor is not None and ancestor.tag in _HEADINGS
            for ancestor in (parent, parent.parent if parent else None)
        )
        classes = " ".join(
            (element.attributes.get("class") or "") for element in (link, parent) if element is not None
        )
        return (2 if in_heading else 1 if _TITLE_HINT.search(classes) else 0, len(text))

    link, title = max(links, key=rank)
    heading = next(
        (found for found in link.css("h1, h2, h3, h4, h5, h6") if len(_clean(found.text(separator=""))) >= 6),
        None,
    )
    if heading is not None:  # a link around the whole card (tag, heading, excerpt): the heading is the title
        title = _strip_title(_clean(heading.text(separator="")))
    date = None
    record = _one_line_record(title)
    if record is not None:
        title, date = record.title, record.date
    if date is None:
        date = _record_date(node, title, order)
    paragraphs = [_clean(p.text(separator="")) for p in node.css("p")]
    excerpt = max((p for p in paragraphs if title not in p and len(p) >= 20), key=len, default="")
    return ReadItem(title=title, date=date, excerpt=excerpt, url=link.attributes.get("href"))


def html_records(html: str) -> list[ReadItem] | None:
    """The page's items when it repeats one block per item — three or more siblings with one tag and class,
    each with a title link — preferring the runs whose blocks carry dates (a sidebar of bare links has none);
    None when there is no such run (the line reader takes over)."""
    tree = _cleaned(html)
    order = numeric_order(tree.body.text(separator=" ") if tree.body is not None else "")
    runs: list[list[ReadItem]] = []
    for parent in tree.css("body *"):
        children = [child for child in parent.iter() if child.tag not in _SKIPPED]
        if len(children) < 3:
            continue
        by_signature: dict[tuple[str, str], list[LexborNode]] = {}
        for child in children:
            # The first class without a number: `post-2011 post sticky` and `post-2187 post` are one kind.
            classes = [
                name for name in (child.attributes.get("class") or "").split() if not _DIGIT.search(name)
            ]
            by_signature.setdefault((child.tag or "", classes[0] if classes else ""), []).append(child)
        for members in by_signature.values():
            if len(members) < 3:
                continue
            found = [item for item in (_record(member, order) for member in members) if item is not None]
            if len(found) >= 3 and len(found) >= 0.5 * len(members):
                runs.append(found)
    dated = [run for run in runs if sum(1 for item in run if item.date) >= 0.5 * len(run)]
    if not dated:
        return None
    seen: set[tuple[str, str | None]] = set()
    items: list[ReadItem] = []
    for run in dated:
        for item in run:
            key = (item.title, item.url)
            if key not in seen:
                seen.add(key)
                items.append(item)
    return items


def _seed_shaped(text: str) -> bool:
    """The seed's own layout: bullet titles, no dates of their own, the seed's footer."""
    return FOOTER.search(text) is not None and not any(_is_meta(line.text) for line in text_lines(text))


def as_listing(page: ReadPage, *, base: str | None = None) -> ListingPage:
    """The page as the importer takes it (`listing_import`): each item's text starts with its own date as a
    dateline (`发布时间：2025-04-02`), so a yearless date in its title or excerpt (`4月8日生效`) takes its year
    from the item, as the extractor reads datelines; then its link, made absolute against `base` (the page's
    address), which becomes the announcement's source link. Items the reader is unsure of are left out."""
    items = []
    for number, item in enumerate(page.items, start=1):
        if item.unsure:
            continue
        lines = [f"发布时间：{item.date.isoformat()}"] if item.date else []
        link = urljoin(base, item.url) if base and item.url else ""
        if link.startswith(("http://", "https://")):
            lines.append(f"原文：{link}")
        lines += [line for line in (item.meta, item.excerpt) if line]
        items.append(
            ListingItem(title=item.title, excerpt="\n".join(lines), line=number, published=item.date)
        )
    return ListingPage(name=page.name, heading="", items=tuple(items), footer=page.footer)
