"""Saved searches as notification topics: `/search/`'s query and filters, told of the changes they find.

A topic's value is the query alone (`search:发货`) or, with filters, `/search/`'s own query string with the
filters a change can be judged by — `search:?q=发货&kind=rule&type=rule&category=market` (`value`, `read`).
A change is found, as `/search/` finds a document, when its title or summary has every word of the query and
each quoted phrase as written (`query.text_query`), it is of the kind (announcement or rule) and type asked,
and it is in the category asked or one below it. The date filters and "in force" are not carried: a
subscription is about the changes to come, which no past window bounds.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from rulecenter.announcements import selectors as announcement_selectors
from rulecenter.announcements.models import Announcement
from rulecenter.rules import selectors as rule_selectors
from rulecenter.rules.models import Rule

from . import segmenter
from .backends.tantivy import SOURCE_ANNOUNCEMENT, SOURCE_RULE
from .inputs import FilterInvalid, build_filters
from .query import atoms, parse

MAX_LENGTH = 193  # a topic is at most 200 characters: "search:" and this
QUERY_MAX_LENGTH = 73  # the words of a saved search, as when it had no filters
FILTERS = ("kind", "type", "category")
QUERY_EMPTY = "保存的搜索需要至少一个检索词或筛选条件。"
QUERY_TOO_LONG = "保存的搜索最长 {limit} 个字符。"
FILTER_UNKNOWN = (
    "保存的搜索只能带这些条件：q（检索词）、kind（公告或规则）、type（细分类型）、category（栏目或分类）。"
)
SAVED_SEARCH = "搜索：{words}"
SAVED_SEARCH_FILTERED = "搜索：{words}（{filters}）"
ANY_WORDS = "任意内容"

# The events each kind of /search/ result reports: a consultation's result is an announcement.
EVENT_SOURCES = {"consultation.result_published": SOURCE_ANNOUNCEMENT}


@dataclass(frozen=True, slots=True)
class SavedSearch:
    q: str = ""
    kind: str = ""
    type: str = ""
    category: str = ""

    @property
    def filtered(self) -> bool:
        return bool(self.kind or self.type or self.category)


def _escape(text: str) -> str:
    """What a query string must not carry as written (its separators, `+` read as a space, `%`)."""
    return "".join(quote(char, safe="") if char in "%&=+#" else char for char in text)


def value(q: str, *, kind: str = "", type: str = "", category: str = "") -> str:
    """The topic value of a saved search: its words alone when it has no filters, else a query string."""
    q = q.strip()
    if not (kind or type or category) and not q.startswith("?"):
        return q
    pairs = (("q", q), ("kind", kind), ("type", type), ("category", category))
    return "?" + "&".join(f"{key}={_escape(text)}" for key, text in pairs if text)


def read(text: str) -> SavedSearch:
    """A topic value as a saved search; ValueError if it carries anything but `q` and `FILTERS`, once each."""
    if not text.startswith("?"):
        return SavedSearch(q=text.strip())
    fields = parse_qs(text[1:], keep_blank_values=True, max_num_fields=len(FILTERS) + 1)
    if any(key not in ("q", *FILTERS) or len(values) > 1 for key, values in fields.items()):
        raise ValueError(text)
    found = {key: values[0].strip() for key, values in fields.items()}
    return SavedSearch(**found)


def check(text: str) -> str | None:
    """Why a saved search cannot be subscribed to, or None."""
    if len(text) > MAX_LENGTH:
        return _(QUERY_TOO_LONG).format(limit=MAX_LENGTH)
    try:
        saved = read(text)
    except ValueError:
        return _(FILTER_UNKNOWN)
    if len(saved.q) > QUERY_MAX_LENGTH:
        return _(QUERY_TOO_LONG).format(limit=QUERY_MAX_LENGTH)
    if (saved.q or not saved.filtered) and parse(saved.q).empty:
        return _(QUERY_EMPTY)
    try:
        build_filters(kind=saved.kind, type=saved.type, category=saved.category)
    except FilterInvalid as error:
        return error.message
    return None


def _contains(tokens: list[str], phrase: tuple[str, ...]) -> bool:
    width = len(phrase)
    return any(tuple(tokens[start : start + width]) == phrase for start in range(len(tokens) - width + 1))


def _source(event_type: str) -> str | None:
    if event_type in EVENT_SOURCES:
        return EVENT_SOURCES[event_type]
    prefix = event_type.partition(".")[0]
    return prefix if prefix in (SOURCE_ANNOUNCEMENT, SOURCE_RULE) else None


def _in_category(category: str, data: Mapping[str, Any]) -> bool:
    """An announcement's section, or a rule's category or one of its ancestors (as /search/ files them)."""
    chain = data.get("categories")
    if isinstance(chain, list):
        return category in chain
    return data.get("category") == category


def matches(text: str, event_type: str, data: Mapping[str, Any]) -> bool:
    """Whether an event (its type and data) is a change the saved search `text` finds."""
    try:
        saved = read(text)
    except ValueError:
        return False
    if saved.kind and _source(event_type) != saved.kind:
        return False
    if saved.type and data.get("kind") != saved.type:
        return False
    if saved.category and not _in_category(saved.category, data):
        return False
    parsed = parse(saved.q)
    if parsed.empty:
        return saved.filtered and not saved.q
    tokens = segmenter.tokens(f"{data.get('title', '')}\n{data.get('summary', '')}")
    present = set(tokens)
    if not all(atom in present for word in parsed.words for atom in atoms(word)):
        return False
    return all(_contains(tokens, phrase) for phrase in parsed.phrases)


def describe(text: str) -> str:
    """A saved search in words, in the active language: 搜索：发货（规则 · 市场管理）."""
    try:
        saved = read(text)
    except ValueError:
        return text
    words = saved.q or _(ANY_WORDS)
    if not saved.filtered:
        return _(SAVED_SEARCH).format(words=words)
    kinds = {
        SOURCE_ANNOUNCEMENT: pgettext("search filter", "公告"),
        SOURCE_RULE: pgettext("search filter", "规则"),
    }
    types = {**dict(Announcement.Kind.choices), **dict(Rule.Kind.choices)}
    category = saved.category and (
        announcement_selectors.category_by_slug(saved.category)
        or rule_selectors.rule_category_by_slug(saved.category)
    )
    shown = [
        str(kinds.get(saved.kind, saved.kind)),
        str(types.get(saved.type, saved.type)),
        category.name if category else saved.category,
    ]
    return _(SAVED_SEARCH_FILTERED).format(words=words, filters=" · ".join(part for part in shown if part))
