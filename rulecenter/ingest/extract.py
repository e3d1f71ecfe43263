"""Facts from one announcement's text: its kind, 公示/生效 dates, consultation window, rule names and links.

Pure functions over a string; no database, no settings. The importer, the admin's preview and
`rulecenter extract` all call `extract()`; an editor's draft can call it to suggest dates.

How it reads a text (docs/ingest.md has the long version):

1. Links come from the raw text (`ruleId`, `cId`, `taskId` from the query or the `#/…?` fragment);
   then URLs are blanked so their digits never look like dates.
2. The text is normalised: NFKC (full-width digits and punctuation to ASCII), a small table of
   traditional characters to simplified ones (於→于, 規則→规则, 實施→实施, 徵集→征集 …), Chinese
   numeral dates to digits (二〇二五年二月十日 → 2025年2月10日). 《…》 names are taken out first and
   blanked, so a name such as 《…七天无理由退货规范》 never acts as a cue.
3. Every date is found (2025年2月10日, 2025-02-10, 2025/2/10, 2025.02.10, 2月10日, 10日 as the end of a
   range), with an optional time after it. A date without a year gets one only when the text fixes it:
   the nearest dated sibling (crossing a new year when December is followed by January) or a year
   written in the same sentence or the title; otherwise it stays unknown.
4. Each date or range takes a role from the cue words around it in its clause — the nearest wins:
   公示/公告 (notice), 生效/实施/施行/执行 (effective), 意见征集/征求意见/投票/众议 (consultation), or a
   distractor (申诉, 自查, 报名, 活动, 过渡期, 揽收, 订单 …) that gives it no role. Datelines (a line that
   is only a date, or `发布时间：…`) only anchor years and relative phrases (即日起, 即时生效).
5. The kind comes from the title's words first, then from the facts found.
"""

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit


class Kind(StrEnum):
    RULE_CHANGE_NOTICE = "rule_change_notice"
    CONSULTATION = "consultation"
    CONSULTATION_RESULT = "consultation_result"
    AGREEMENT_CHANGE = "agreement_change"
    GUIDE = "guide"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    rule_id: int | None = None
    category_id: int | None = None
    task_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "rule_id": self.rule_id,
            "category_id": self.category_id,
            "task_id": self.task_id,
        }


@dataclass(frozen=True, slots=True)
class Facts:
    kind: Kind
    notice_date: date | None = None
    effective_date: date | None = None
    comment_start: date | None = None
    comment_end: date | None = None
    rule_names: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The shape `rulecenter extract` prints: dates as YYYY-MM-DD or null."""

        def iso(value: date | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "kind": self.kind.value,
            "notice_date": iso(self.notice_date),
            "effective_date": iso(self.effective_date),
            "comment_start": iso(self.comment_start),
            "comment_end": iso(self.comment_end),
            "rule_names": list(self.rule_names),
            "links": [link.as_json() for link in self.links],
        }


# Bump when a change to this module can change what it reads in a stored text: imports then re-read it.
EXTRACTOR_VERSION = 1
FIELDS = ("kind", "notice_date", "effective_date", "comment_start", "comment_end", "rule_names", "links")

# --- Normalisation ---------------------------------------------------------------------------------

# Traditional characters that occur in rule notices' cue words and names, and their simplified forms.
# One character to one character, so positions in the simplified text are positions in the original.
_TRADITIONAL = (
    "於于週周規规則则協协議议實实徵征見见時时間间開开發发佈布變变際际價价單单國国務务關关為为與与們们"
    "會会員员擬拟訂订調调讀读專专題题業业滿满歸归還还換换訴诉復复檢检說说頒颁續续統统啟启動动戶户賬账"
    "號号計计劃划費费網网電电權权證证報报據据舉举點点參参贊赞終终屆届適适廢废義义節节範范圍围應应當当"
    "須须經经營营銷销買买賣卖門门問问類类違违書书頁页鏈链詳详區区華华傳传體体驗验執执線线聯联繫系係系"
    "紀纪錄录後后稱称辦办條条約约標标準准細细臺台貨货處处罰罚個个內内將将進进過过從从無无寶宝貴贵親亲"
    "愛爱歡欢誠诚謝谢請请數数購购蝦虾隱隐認认碼码選选擇择級级優优產产雙双歲岁曆历嚴严懲惩護护維维設设"
    "備备貼贴錯错誤误導导態态況况舊旧現现廣广團团億亿萬万兩两閱阅覽览載载試试償偿賠赔額额狀状顯显總总"
    "遞递車车運运輸输郵邮幣币銀银險险監监漸渐併并餘余衝冲蓋盖鬥斗週周聽听讓让這这裡里麼么對对沒没"
)
_SIMPLIFY = str.maketrans({_TRADITIONAL[i]: _TRADITIONAL[i + 1] for i in range(0, len(_TRADITIONAL), 2)})
_HAS_TRADITIONAL = re.compile(f"[{_TRADITIONAL[0::2]}]")

_CN_DIGITS = {"〇": 0, "零": 0, "○": 0, "O": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_CN_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_CN_YEAR = "[〇零○一二三四五六七八九]"
_CN_SMALL = "[一二两三四五六七八九十]"
# Spaces, not \s: a date never spans lines, and line numbers must survive the rewrite.
_CN_DATE = re.compile(
    rf"(?:({_CN_YEAR}{{4}}) *+年 *+)?({_CN_SMALL}{{1,3}}) *+月 *+({_CN_SMALL}{{1,3}}) *+([日号])"
)
_CN_YEAR_ONLY = re.compile(rf"({_CN_YEAR}{{4}}) *+年")
_HAS_CN_NUMERAL = re.compile(f"{_CN_YEAR}|十")


def _cn_small(text: str) -> int | None:
    """一 … 九十九 as an int (月 and 日 numbers), None for anything else."""
    if "十" not in text:
        return _CN_DIGITS.get(text) if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return None
    value = (_CN_DIGITS.get(tens, -100) if tens else 1) * 10 + (_CN_DIGITS.get(ones, -100) if ones else 0)
    return value if value > 0 else None


def _cn_year(text: str) -> str:
    return "".join(str(_CN_DIGITS[c]) for c in text)


def _cn_date_to_digits(match: re.Match[str]) -> str:
    year, month, day, suffix = match.groups()
    month_number, day_number = _cn_small(month), _cn_small(day)
    if month_number is None or day_number is None:
        return match.group(0)
    prefix = f"{_cn_year(year)}年" if year else ""
    return f"{prefix}{month_number}月{day_number}{suffix}"


# NFKC's own mapping of full-width ASCII (，：（）０-９Ａ-Ｚ) and the ideographic space: applied first, it
# leaves most Chinese texts already normalised, and the quick check then skips the full normalisation.
_FULL_WIDTH = str.maketrans(
    {chr(code): chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)} | {"\u3000": " "}
)


def _nfkc(text: str) -> str:
    text = text.translate(_FULL_WIDTH)
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def _to_simplified(text: str) -> str:
    return text.translate(_SIMPLIFY) if _HAS_TRADITIONAL.search(text) else text


def simplify(text: str) -> str:
    """NFKC plus the traditional-to-simplified table: the form cue words are matched in."""
    return _to_simplified(_nfkc(text))


def _numerals_to_digits(text: str) -> str:
    if not _HAS_CN_NUMERAL.search(text):
        return text
    text = _CN_DATE.sub(_cn_date_to_digits, text)
    return _CN_YEAR_ONLY.sub(lambda m: f"{_cn_year(m.group(1))}年", text)


# --- Links -----------------------------------------------------------------------------------------

_URL = re.compile(r"https?://[!-~]+")
_URL_TRAILING = ".,;:!)]}>'\""
_LINK_KEYS = {"ruleid": "rule_id", "cid": "category_id", "taskid": "task_id"}


def _link(url: str) -> Link:
    parts = urlsplit(url)
    found: dict[str, int | None] = {}
    fragment_query = parts.fragment.partition("?")[2]
    # The query first: its ids are what the channel's server reads; the fragment's are the SPA's copy.
    for query in (parts.query, fragment_query):
        for key, value in parse_qsl(query, keep_blank_values=True):
            name = _LINK_KEYS.get(key.lower())
            if name and name not in found:
                found[name] = int(value) if value.isascii() and value.isdigit() else None
    return Link(url=url, **found)


def find_links(text: str) -> tuple[Link, ...]:
    """Every http(s) URL once, in order, with the rule channel's ruleId, cId and taskId when present."""
    links: dict[str, Link] = {}
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_URL_TRAILING)
        if url not in links and len(url) > len("https://"):
            links[url] = _link(url)
    return tuple(links.values())


def _blank(text: str, pattern: re.Pattern[str], fill: str = " ") -> str:
    return pattern.sub(lambda m: fill * len(m.group(0)), text)


# --- Rule names ------------------------------------------------------------------------------------

_NAME = re.compile(r"[《〈]([^《》〈〉\n]{1,100})[》〉]")
RULE_SUFFIXES = (
    "规则", "规范", "协议", "细则", "办法", "标准", "规定", "条例", "须知", "公约", "守则", "准则", "制度",
    "条款", "政策", "规程", "总则", "通则",
)  # fmt: skip
# A draft marker names the same rule: 《X（征求意见稿）》 is X.
_DRAFT_MARKER = re.compile(r"\s*[(（](?:征求意见稿|草案|送审稿|讨论稿|修订稿|修订草案|征求意见版)[)）]\s*$")
_TRAILING_NOTE = re.compile(r"\s*[(（][^()（）]*[)）]\s*$")
_NAME_PARTS = re.compile(r"[-—–－]+")
# Laws and state regulations are cited, not changed, by a platform (decision recorded in docs/ingest.md).
_STATE_PREFIXES = ("中华人民共和国", "国务院", "最高人民法院", "最高人民检察院", "全国人民代表大会")
_STATE_MARKERS = ("国家标准", "行业标准", "监督管理办法", "实施条例")


@lru_cache(maxsize=4096)
def is_rule_name(name: str) -> bool:
    """Whether a 《》 name is a platform rule or agreement (not a law, a notice's title or a book)."""
    simple = _TRAILING_NOTE.sub("", _DRAFT_MARKER.sub("", simplify(name))).strip()
    if not simple or simple.startswith(_STATE_PREFIXES) or any(m in simple for m in _STATE_MARKERS):
        return False
    if simple.endswith("法") and not simple.endswith("办法"):
        return False
    parts = _NAME_PARTS.split(simple)
    # 《禁售商品规则-其他国家或地区禁售商品》: a rule's name with a sub-title after the dash.
    return simple.endswith(RULE_SUFFIXES) or any(part.endswith(RULE_SUFFIXES) for part in parts[:-1])


def find_rule_names(text: str) -> tuple[str, ...]:
    """The 《》 names in `text` that are rules or agreements, once each, in order, NFKC-normalised."""
    names: dict[str, None] = {}
    for match in _NAME.finditer(_nfkc(text)):
        name = _DRAFT_MARKER.sub("", match.group(1)).strip()
        if is_rule_name(name):
            names.setdefault(name)
    return tuple(names)


# --- Dates -----------------------------------------------------------------------------------------

_TIME = r"(?:\s*+(?:\d{1,2}\s*+:\s*+\d{2}(?:\s*+:\s*+\d{2})?|\d{1,2}\s*+[点时](?:\s*+\d{1,2}\s*+分)?整?|零点)(?:\s*+\(含\))?)?"
_DATE = re.compile(
    r"(?<!\d)(?=\d)(?:"
    r"(?P<y>(?:19|20)\d{2})\s*+年\s*+(?P<m>\d{1,2})\s*+月\s*+(?P<d>\d{1,2})\s*+[日号]?"
    r"|(?P<ny>(?:19|20)\d{2})(?P<sep>[-/.])(?P<nm>\d{1,2})(?P=sep)(?P<nd>\d{1,2})(?![\d.])"
    r"|(?P<ym_y>(?:19|20)\d{2})\s*+年\s*+(?P<ym_m>\d{1,2})\s*+月(?!\s*+\d)"
    r"|(?P<yo>(?:19|20)\d{2})\s*+年(?!\s*+\d)"
    r"|(?P<mm>\d{1,2})\s*+月\s*+(?P<md>\d{1,2})\s*+[日号]"
    rf"){_TIME}"
)
_DAY_ONLY_END = re.compile(rf"\s*+(?:至|到|-|~|—|–)\s*+(\d{{1,2}})\s*+[日号](?!\s*+\d){_TIME}")
# Possessive runs of spaces (`\s*+`): the token after each is never a space, so giving spaces back never
# helps a match, and without that backtracking `\s* 起? \s*` is linear, not quadratic, in a run of spaces.
_RANGE_JOIN = re.compile(r"\s*+(?:起|开始)?\s*+(?:至|到|-|~|—|–|——)\s*+$")
_SENTENCE_END = re.compile(r"[。！？!?;；\n]")
_CLAUSE_END = re.compile(r"[,，、]")
_DATELINE_LABEL = re.compile(r"^(?:发布时间|发布日期|发文日期|更新时间|日期|时间|发布于)?\s*+:?\s*+$")
_DATELINE_TAIL = re.compile(r"^(?:$|来源|发布|作者|\||丨|编辑)")


@dataclass(slots=True)
class _Mention:
    start: int
    end: int
    month: int | None
    day: int | None
    year: int | None
    explicit: bool  # the year is written in the date itself
    anchor_only: bool = False  # a year or year-month: fixes years, takes no role
    dateline: bool = False

    def resolved(self) -> date | None:
        if self.year is None or self.month is None or self.day is None:
            return None
        try:
            return date(self.year, self.month, self.day)
        except ValueError:
            return None


def _mentions(text: str) -> list[_Mention]:
    found: list[_Mention] = []
    for match in _DATE.finditer(text):
        groups = match.groupdict()
        if groups["y"]:
            mention = _Mention(
                match.start(), match.end(), int(groups["m"]), int(groups["d"]), int(groups["y"]), True
            )
        elif groups["ny"]:
            mention = _Mention(
                match.start(), match.end(), int(groups["nm"]), int(groups["nd"]), int(groups["ny"]), True
            )
        elif groups["ym_y"]:
            mention = _Mention(
                match.start(), match.end(), int(groups["ym_m"]), None, int(groups["ym_y"]), True
            )
            mention.anchor_only = True
        elif groups["yo"]:
            mention = _Mention(match.start(), match.end(), None, None, int(groups["yo"]), True)
            mention.anchor_only = True
        else:
            mention = _Mention(match.start(), match.end(), int(groups["mm"]), int(groups["md"]), None, False)
        found.append(mention)
        if not mention.anchor_only:
            # 2025年1月16日至23日: the end of the range repeats only the day.
            tail = _DAY_ONLY_END.match(text, mention.end)
            if tail:
                end = _Mention(
                    tail.start(1), tail.end(), mention.month, int(tail.group(1)), mention.year, False
                )
                end.explicit = mention.explicit
                found.append(end)
    return found


def _crosses_new_year(earlier_month: int, later_month: int) -> bool:
    return earlier_month >= 10 and later_month <= 3


def _fill_years(mentions: list[_Mention], text: str, title_end: int) -> None:
    """Give yearless dates the year the text itself fixes, or leave them unknown."""
    # (position, year, month) of every date written with its year, and of every year alone, in text order:
    # each yearless date finds its neighbours by bisection, so thousands of dates cost n log n, not n².
    dated = sorted(
        (m.start, m.year, m.month)
        for m in mentions
        if m.explicit and not m.anchor_only and m.year is not None and m.month is not None
    )
    dated_starts = [position for position, _year, _month in dated]
    years = sorted((m.start, m.year) for m in mentions if m.anchor_only and m.year is not None)
    year_starts = [position for position, _year in years]
    for mention in mentions:
        if mention.year is None and mention.month is not None:
            mention.year = _year_for(
                mention, mention.month, dated, dated_starts, years, year_starts, text, title_end
            )


def _year_for(
    mention: _Mention,
    month: int,
    dated: list[tuple[int, int, int]],
    dated_starts: list[int],
    years: list[tuple[int, int]],
    year_starts: list[int],
    text: str,
    title_end: int,
) -> int | None:
    before = bisect_left(dated_starts, mention.start)
    if before:
        _position, year, dated_month = dated[before - 1]
        return year + (1 if _crosses_new_year(dated_month, month) else 0)
    after = bisect_right(dated_starts, mention.start)
    if after < len(dated):
        _position, year, dated_month = dated[after]
        return year - (1 if _crosses_new_year(month, dated_month) else 0)
    if years and years[0][0] < title_end:
        return years[0][1]  # a year in the title, the first year of the text: it comes first in text order
    start, end = _sentence_bounds(text, mention.start)
    index = bisect_left(year_starts, start)
    if index < len(years) and years[index][0] < end:
        return years[index][1]
    return None


@lru_cache(maxsize=4)
def _sentence_ends(text: str) -> list[int]:
    return [match.start() for match in _SENTENCE_END.finditer(text)]


def _sentence_bounds(text: str, position: int) -> tuple[int, int]:
    """[start, end) of the sentence holding `position`; sentences end at 。！？；, ! ? ; and newlines."""
    ends = _sentence_ends(text)
    index = bisect_right(ends, position - 1)
    start = ends[index - 1] + 1 if index else 0
    return start, ends[index] if index < len(ends) else len(text)


def _mark_datelines(mentions: list[_Mention], text: str) -> None:
    """A line that is just a date (a signature), or `发布时间：…`, or a header `date 来源：…`.

    Only a line's first date can be one: a later date has the earlier one's digits before it, which no
    label allows. Reading each line once keeps a line of thousands of dates linear.
    """
    line_start, scanned, line_has_date = 0, 0, False
    for mention in mentions:
        newline = text.rfind("\n", scanned, mention.start)
        scanned = max(scanned, mention.start)
        if newline >= 0:
            line_start, line_has_date = newline + 1, False
        if line_has_date:
            continue
        line_has_date = True
        if not mention.explicit or mention.anchor_only:
            continue
        line_end = text.find("\n", mention.end)
        line_end = len(text) if line_end < 0 else line_end
        head = text[line_start : mention.start].strip()
        tail = text[mention.end : line_end].strip()
        if _DATELINE_LABEL.match(head) and _DATELINE_TAIL.match(tail):
            mention.dateline = True


# --- Roles -----------------------------------------------------------------------------------------


class _Role(StrEnum):
    NOTICE = "notice"
    EFFECTIVE = "effective"
    COMMENT = "comment"
    NONE = "none"  # a distractor: appeal, self-check, registration, transition period …


_CUES: tuple[tuple[str, _Role], ...] = (
    # Longer words first where one contains another.
    ("公示警告", _Role.NONE),
    ("意见征集", _Role.COMMENT),
    ("征集意见", _Role.COMMENT),
    ("征求意见", _Role.COMMENT),
    ("公开征求", _Role.COMMENT),
    ("征求了意见", _Role.COMMENT),
    ("征集", _Role.COMMENT),
    ("投票", _Role.COMMENT),
    ("众议", _Role.COMMENT),
    ("征询", _Role.COMMENT),
    ("评议", _Role.COMMENT),
    ("意见反馈", _Role.COMMENT),
    ("公示", _Role.NOTICE),
    ("公告", _Role.NOTICE),
    ("生效", _Role.EFFECTIVE),
    ("实施", _Role.EFFECTIVE),
    ("施行", _Role.EFFECTIVE),
    ("执行", _Role.EFFECTIVE),
    ("启用", _Role.EFFECTIVE),
    *(
        (word, _Role.NONE)
        for word in (
            "申诉", "异议", "复核", "自查", "自纠", "整改", "报名", "活动", "大促", "促销", "停运", "暂停",
            "放假", "假期", "揽收", "退货", "退款", "售后", "过渡期", "缓冲期", "抽检", "订单", "考核",
            "统计", "结算", "清退", "开展", "被处理", "培训", "直播", "截至", "期间内",
        )
    ),
)  # fmt: skip
# A cue followed by 后/前 (新规生效后，…) dates something else relative to it: no role.
_CUE = re.compile("(" + "|".join(re.escape(word) for word, _ in _CUES) + ")(后|前)?")
_CUE_ROLE = dict(_CUES)


def _cue_role(match: re.Match[str]) -> _Role:
    return _Role.NONE if match.group(2) else _CUE_ROLE[match.group(1)]


_PUBLISHED = re.compile(r"^\s*+(?:正式)?(?:发布|颁布|印发)")
_DEADLINE = re.compile(r"^\s*+(?:之前|前|为止|止|截止)")
_DEADLINE_LABEL = re.compile(r"截止|截至|结束")
_DEADLINE_TOPIC = re.compile(r"意见|投票|建议|反馈")
_UNTIL_FROM_TODAY = "即日起"  # … 至 <date>: a range from the publication date
_STARTS_FROM = re.compile(r"^\s*+(?:起|开始)\s*+$")
_IMMEDIATE = re.compile(
    r"(?:即日起|即时|立即|即刻|(?:发布|公布|公告|印发)之日起)\s*+(?:正式)?(?:生效|实施|施行|执行)"
)
_DAYS_AFTER_NOTICE = re.compile(
    r"公示(?:之日|期满之日)?起?\s*+满?\s*+(\d{1,3}|[一二两三四五六七八九十]{1,3})\s*+[日天](?:后)?\s*+(?:正式)?(?:生效|实施|施行)"
)
_ON_NOTICE = re.compile(r"(?:自|从)?公示之日起\s*+(?:正式)?(?:生效|实施|施行)")


def _first_cue(text: str) -> tuple[int, _Role] | None:
    match = _CUE.search(text)
    return (match.start(), _cue_role(match)) if match else None


def _last_cue(text: str) -> tuple[int, _Role] | None:
    last = None
    for match in _CUE.finditer(text):
        last = (len(text) - match.end(), _cue_role(match))
    return last


def _clause_before(text: str, start: int, floor: int) -> str:
    clause_start = max((m.end() for m in _CLAUSE_END.finditer(text, floor, start)), default=floor)
    return text[clause_start:start]


def _clause_after(text: str, end: int, ceiling: int) -> str:
    match = _CLAUSE_END.search(text, end, ceiling)
    return text[end : match.start() if match else ceiling]


def _nearest(before: tuple[int, _Role] | None, after: tuple[int, _Role] | None) -> _Role | None:
    if before and after:
        return before[1] if before[0] < after[0] else after[1]
    found = before or after
    return found[1] if found else None


class _CueIndex:
    """Every cue of a text once, so the nearest cue in a sentence is a bisection, not a rescan per date.

    No cue word holds a digit, a sentence end or a character a date ends with, so a match of the whole text
    never crosses a date's or a sentence's edge: the cues found in [a, b) are the ones a search of
    text[a:b] finds.
    """

    def __init__(self, text: str) -> None:
        matches = list(_CUE.finditer(text))
        self.starts = [match.start() for match in matches]
        self.ends = [match.end() for match in matches]
        self.roles = [_cue_role(match) for match in matches]

    def last(self, floor: int, position: int) -> tuple[int, _Role] | None:
        """The last cue in [floor, position), as (distance from its end to position, role)."""
        index = bisect_right(self.ends, position) - 1
        if index < 0 or self.starts[index] < floor:
            return None
        return position - self.ends[index], self.roles[index]

    def first(self, position: int, ceiling: int) -> tuple[int, _Role] | None:
        """The first cue in [position, ceiling), as (distance from position to its start, role)."""
        index = bisect_left(self.starts, position)
        if index >= len(self.starts) or self.ends[index] > ceiling:
            return None
        return self.starts[index] - position, self.roles[index]


def _sentence_role(text: str, cues: _CueIndex, start: int, end: int) -> _Role | None:
    """The role of the cue nearest to [start, end) anywhere in its sentence."""
    sentence_start, sentence_end = _sentence_bounds(text, start)
    return _nearest(cues.last(sentence_start, start), cues.first(end, sentence_end))


def _until_from_today(text: str, floor: int, position: int) -> bool:
    """Whether `即日起 至 ` ends at `position` (spaces allowed around 至) within [floor, position).

    Read backwards from the date, so each date looks only at the spaces just before it.
    """
    index = position
    while index > floor and text[index - 1].isspace():
        index -= 1
    if index <= floor or text[index - 1] not in "至到":
        return False
    index -= 1
    while index > floor and text[index - 1].isspace():
        index -= 1
    return index - len(_UNTIL_FROM_TODAY) >= floor and text.startswith(
        _UNTIL_FROM_TODAY, index - len(_UNTIL_FROM_TODAY)
    )


@dataclass(slots=True)
class _Item:
    """A single date or a range, with the text around it in its sentence."""

    first: _Mention | None  # None: 即日起 (the publication date)
    last: _Mention
    role: _Role | None = None
    deadline: bool = False  # a consultation's closing date alone (请于…前提交意见, 截止时间：…)
    opening: bool = False  # a consultation's opening date alone (征集自…起)
    notes: list[str] = field(default_factory=list)

    @property
    def start(self) -> int:
        return self.first.start if self.first else self.last.start

    @property
    def is_range(self) -> bool:
        return self.first is not self.last


def _items(text: str, mentions: list[_Mention]) -> list[_Item]:
    usable = [m for m in mentions if not m.anchor_only and not m.dateline]
    items: list[_Item] = []
    index = 0
    while index < len(usable):
        mention = usable[index]
        following = usable[index + 1] if index + 1 < len(usable) else None
        same_sentence = following is not None and not _SENTENCE_END.search(text, mention.end, following.start)
        if following and same_sentence and _RANGE_JOIN.match(text[mention.end : following.start]):
            items.append(_Item(first=mention, last=following))
            index += 2
            continue
        sentence_start, _ = _sentence_bounds(text, mention.start)
        if _until_from_today(text, sentence_start, mention.start):
            items.append(_Item(first=None, last=mention))
        else:
            items.append(_Item(first=mention, last=mention))
        index += 1
    return items


def _sentence_has_topic(text: str, start: int, end: int, seen: dict[int, bool]) -> bool:
    if start not in seen:
        seen[start] = _DEADLINE_TOPIC.search(text, start, end) is not None
    return seen[start]


def _assign_roles(text: str, items: list[_Item]) -> None:
    cues = _CueIndex(text)
    topics: dict[int, bool] = {}  # sentence start -> whether the sentence speaks of opinions or votes
    for position, item in enumerate(items):
        sentence_start, sentence_end = _sentence_bounds(text, item.start)
        previous_end = items[position - 1].last.end if position else 0
        next_start = items[position + 1].start if position + 1 < len(items) else len(text)
        floor = max(sentence_start, previous_end)
        ceiling = min(sentence_end, next_start)
        before_text = _clause_before(text, item.start, floor)
        after_text = _clause_after(text, item.last.end, ceiling)
        if not item.is_range and _PUBLISHED.match(after_text):
            item.role = _Role.NOTICE
            item.notes.append("published")
            continue
        role = _nearest(_last_cue(before_text), _first_cue(after_text))
        if role is _Role.COMMENT and not item.is_range:
            # One date in a consultation's sentence bounds the window on one side, or says nothing.
            if _DEADLINE.match(after_text) or _DEADLINE_LABEL.search(before_text):
                item.deadline = True
            elif _STARTS_FROM.match(after_text):
                item.opening = True
            else:
                role = None
        elif (
            role is None
            and not item.is_range
            and _DEADLINE.match(after_text)
            and _sentence_has_topic(text, sentence_start, sentence_end, topics)
        ):
            role, item.deadline = _Role.COMMENT, True
        if role is None and (item.is_range or _STARTS_FROM.match(after_text)):
            role = _sentence_role(text, cues, item.start, item.last.end)
            if not item.is_range and role is not _Role.EFFECTIVE:
                role = None
        item.role = role


# --- Kind ------------------------------------------------------------------------------------------

_TITLE_SKIP = re.compile(
    r"^(?:发布时间|发布日期|来源|日期|时间|作者)|^(?:19|20)\d{2}\s*+[-/.年]\s*+\d{1,2}\s*+[-/.月]\s*+\d{1,2}"
)
_RESULT = re.compile(r"(?:意见征集|征求意见|征集|众议|投票|评议)\S{0,4}结果|结果反馈|结果公示|结果公告")
_CONSULT = re.compile(r"意见征集|征求意见|公开征集|征集意见|众议|投票|征询|评议|意见反馈")
_GUIDE = re.compile(r"指南|指引|解读|问答|答疑|攻略|常见问题|科普|案例|课堂|学堂|小贴士|必读")
_TOPIC = re.compile(r"专题")
_AGREEMENT = re.compile(r"协议|隐私政策|隐私权政策|服务条款|用户条款")
_CHANGE = re.compile(r"公示|变更|更新|修订|修改|调整|升级|发布公告|发布通知|颁布|废止|上线公告|施行")
_RULE_WORD = re.compile("|".join(RULE_SUFFIXES) + r"|《》")
_RULE_TITLE = re.compile(rf"(?:{'|'.join(RULE_SUFFIXES)})(?:\s*+[-—–]\s*+\S++)?$")


def _title_index(lines: list[str]) -> int | None:
    """The first line that is neither blank nor a dateline/source line: the title."""
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped and not _TITLE_SKIP.match(stripped):
            return index
    return None


def _kind(title: str, facts: dict[str, date | None], immediate: bool) -> Kind:
    names_blank = _NAME.sub("《》", title)  # 《…征求意见稿》 does not make a consultation
    if _RESULT.search(names_blank):
        return Kind.CONSULTATION_RESULT
    if _CONSULT.search(names_blank):
        return Kind.CONSULTATION
    if _GUIDE.search(names_blank):
        return Kind.GUIDE
    if _TOPIC.search(names_blank):
        return Kind.OTHER
    changing = _CHANGE.search(names_blank)
    if changing and _AGREEMENT.search(title):
        return Kind.AGREEMENT_CHANGE
    if changing and _RULE_WORD.search(names_blank):
        return Kind.RULE_CHANGE_NOTICE
    if facts["notice_date"] or facts["effective_date"] or immediate:
        return Kind.AGREEMENT_CHANGE if _AGREEMENT.search(title) else Kind.RULE_CHANGE_NOTICE
    if facts["comment_start"] or facts["comment_end"]:
        return Kind.CONSULTATION
    if _RULE_TITLE.search(names_blank.strip("《》 ")):
        return Kind.GUIDE  # a rule's own page (e.g. 违禁信息发布行为处理规则—虚拟类): what the rule says
    return Kind.OTHER


# --- The extractor ---------------------------------------------------------------------------------


def _small_number(text: str) -> int | None:
    return int(text) if text.isdigit() else _cn_small(text)


def _prepare(text: str) -> str:
    """The text dates and cues are read in: simplified, URLs and 《》 names blanked, numerals as digits."""
    return _numerals_to_digits(_NAME.sub("《》", text))


def extract(text: str, *, title: str | None = None) -> Facts:
    """The facts of one announcement. `title` defaults to the text's first line that is not a dateline."""
    links = find_links(text) if "http" in text else ()
    normal = _nfkc(_blank(text, _URL) if links else text)
    title_normal = _nfkc(title) if title is not None else None
    rule_names = find_rule_names(normal if title_normal is None else f"{title_normal}\n{normal}")
    simple = _to_simplified(normal)
    if title_normal is not None:
        title_text = _to_simplified(title_normal).strip()
        head = _prepare(title_text)
        body = f"{head}\n{_prepare(simple)}"
        title_end = len(head) + 1
    else:
        lines = simple.split("\n")
        title_index = _title_index(lines)
        title_text = lines[title_index].strip()[:100] if title_index is not None else ""
        body = _prepare(simple)
        prepared = body.split("\n")
        title_end = sum(len(line) + 1 for line in prepared[: (title_index or 0) + 1])

    mentions = _mentions(body)
    _fill_years(mentions, body, title_end)
    _mark_datelines(mentions, body)
    published = next((d for m in mentions if m.dateline and (d := m.resolved())), None)
    items = _items(body, mentions)
    _assign_roles(body, items)

    found: dict[str, date | None] = dict.fromkeys(
        ("notice_date", "effective_date", "comment_start", "comment_end")
    )
    for item in items:
        first = item.first.resolved() if item.first else published
        last = item.last.resolved()
        if item.role is _Role.NOTICE and found["notice_date"] is None:
            found["notice_date"] = first
        elif item.role is _Role.EFFECTIVE and found["effective_date"] is None:
            found["effective_date"] = first
        elif item.role is _Role.COMMENT and found["comment_end"] is None and found["comment_start"] is None:
            if item.deadline:
                found["comment_end"] = last
            elif item.opening:
                found["comment_start"] = first
            else:
                found["comment_start"], found["comment_end"] = first, last
    immediate = _IMMEDIATE.search(body) is not None
    if found["effective_date"] is None:
        if days := _DAYS_AFTER_NOTICE.search(body):
            count = _small_number(days.group(1))
            if found["notice_date"] and count is not None:
                found["effective_date"] = found["notice_date"] + timedelta(days=count)
        elif _ON_NOTICE.search(body):
            found["effective_date"] = found["notice_date"]
        elif immediate:
            found["effective_date"] = found["notice_date"] or published
    if found["notice_date"] and any("published" in i.notes for i in items) and not found["effective_date"]:
        found["notice_date"] = None  # "于…发布" is a notice only when the text also says when it takes effect

    return Facts(
        kind=_kind(title_text, found, immediate),
        notice_date=found["notice_date"],
        effective_date=found["effective_date"],
        comment_start=found["comment_start"],
        comment_end=found["comment_end"],
        rule_names=rule_names,
        links=links,
    )


def iter_fields(facts: Facts) -> Iterator[tuple[str, Any]]:
    """(field, JSON value) pairs in the order of FIELDS, for comparisons and reports."""
    payload = facts.as_json()
    for name in FIELDS:
        yield name, payload[name]
