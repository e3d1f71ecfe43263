"""Searching: ranked, grouped, highlighted results from this node's index.

Ranking is tantivy's BM25 (title weighted above body) multiplied by a mild recency factor. Announcements
and rule versions are searched separately and merged by score; the versions of one rule collapse into one
result that shows the version in force (or, if only another version matches, that one with its status),
so ten versions of a rule do not push everything else off the page. The total counts results after
grouping: matching announcements plus matching rules.
"""

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from operator import itemgetter, mul
from typing import Any

import tantivy
from django.conf import settings
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from markupsafe import Markup

from rulecenter.announcements.models import Announcement
from rulecenter.common.pagination import PageNotFound as PageNotFound
from rulecenter.common.pagination import Pager, pager_for
from rulecenter.common.urls import path_template, reverse_fast
from rulecenter.rules import selectors as rule_selectors
from rulecenter.rules.models import Rule, RuleVersion

from . import snippets, suggest
from .backends import tantivy as engine
from .backends.tantivy import SOURCE_ANNOUNCEMENT, SOURCE_RULE
from .errors import INDEX_MISSING
from .errors import SearchUnavailable as SearchUnavailable  # where the page, the API and tests catch it
from .query import Filters, ParsedQuery, filtered, parse, terms, text_query
from .segmenter import clean as clean

QUERY_TOO_LONG = "搜索词太长了：最多 {limit} 个字，现在有 {length} 个。请缩短后再试。"

# A query's hits deeper than this are counted first and fetched only for a page that exists.
ONE_PASS_HITS = 12_000
# Rule versions are few (thousands, not millions): all matching ones are read to group them by rule.
RULE_HITS_CAP = 5_000
# The fast field whose value scales each score (prepare.recency). tantivy ranks by BM25 alone, which lets it
# walk a query's postings at full speed; the best RERANK_FACTOR × as many hits as a page needs (at least
# RERANK_MIN) are then re-ranked with recency. The factor is mild, so what it would lift from further down
# is not missed in practice.
RECENCY = "recency"
RERANK_FACTOR = 2
RERANK_MIN = 50


class QueryInvalid(ValueError):
    """A query the engine is not asked to run; the message says why, in the user's language."""


# Not frozen: a frozen dataclass's __init__ sets each of its 19 fields through object.__setattr__, which cost
# more than the rest of building a hit; nothing changes a hit once made.
@dataclass(slots=True)
class SearchHit:
    kind: str  # announcement | rule
    type: str
    type_label: str
    title: str
    title_html: Markup
    url: str
    snippet: Markup
    date: datetime
    category: str
    category_name: str
    score: float
    version: int | None = None
    status: str | None = None
    status_label: str = ""
    clause: str = ""  # the clause label a rule hit links to (第三条 …)
    versions_matched: int = 0
    current_url: str | None = None  # the version in force, when the hit shows another version
    history_url: str | None = None


@dataclass(frozen=True, slots=True)
class SearchResults:
    query: ParsedQuery
    hits: tuple[SearchHit, ...]
    total: int
    pager: Pager
    suggestion: str | None
    took_ms: float


# What a place on the page holds.
_ANNOUNCEMENT, _RULE = 0, 1


@dataclass(slots=True)
class _RuleGroup:
    rule_id: int
    score: float
    address: tantivy.DocAddress
    in_force: bool
    matched: int


def check_query(raw: str) -> str:
    """The query with invisible characters removed and spaces collapsed; QueryInvalid if it is too long."""
    text = " ".join(clean(raw).split())
    limit = settings.RULECENTER_SEARCH_MAX_QUERY_CHARS
    if len(text) > limit:
        raise QueryInvalid(_(QUERY_TOO_LONG).format(limit=limit, length=len(text)))
    return text


def rule_category_choices() -> list[tuple[str, str]]:
    """(slug, name) of every rule category, in the library's order, for the category filter."""
    return [(category.slug, category.name) for category in rule_selectors.rule_categories()]


def _searcher() -> tuple[tantivy.Searcher, tantivy.Schema]:
    # Reads only: the newest commit of this node's index (the page and the API let the follower catch up
    # first, `indexer.catch_up_for_search`).
    try:
        index, schema, _generation = engine.reader.get()
    except engine.IndexMissing:
        raise SearchUnavailable(_(INDEX_MISSING)) from None
    return index.searcher(), schema


def _page_number(raw_page: str | None) -> int:
    if raw_page is not None and raw_page.isascii() and raw_page.isdigit() and len(raw_page) < 9:
        return max(1, int(raw_page))
    return 1


_JSON = json.JSONDecoder()


def _stored(searcher: tantivy.Searcher, addresses: Sequence[tantivy.DocAddress]) -> list[dict[str, Any]]:
    """The stored JSON (`data`) of the page's hits: everything a result shows, with no database read.

    Decoded as one array: one call into the decoder for the page instead of one per hit.
    """
    if not addresses:
        return []
    raws = [searcher.doc(address).get_first("data") or b"{}" for address in addresses]
    found: list[dict[str, Any]] = _JSON.raw_decode((b"[" + b",".join(raws) + b"]").decode())[0]
    return found


def _rerank_window(needed: int) -> int:
    """How many BM25 hits are re-ranked with recency to fill the first `needed` places."""
    return max(RERANK_MIN, RERANK_FACTOR * needed)


def _reranked(
    searcher: tantivy.Searcher, hits: Sequence[tuple[float, tantivy.DocAddress]]
) -> list[tuple[float, tantivy.DocAddress]]:
    """BM25 scores times each document's recency factor, best first (documents.recency)."""
    addresses = list(map(itemgetter(1), hits))
    factors = searcher.fast_field_values(RECENCY, addresses)
    if None in factors or 0.0 in factors:  # a factor missing (never written): as 1.0
        factors = [float(factor or 1.0) for factor in factors]
    # Builtins all the way (no Python-level loop); the sort is stable: equal scores keep tantivy's order.
    scores = map(mul, map(itemgetter(0), hits), factors)
    return sorted(zip(scores, addresses, strict=True), key=itemgetter(0), reverse=True)


def _hit_count(result: tantivy.SearchResult) -> int:
    # tantivy-py's stubs omit `count`, set when searching with count=True.
    return int(getattr(result, "count", 0) or 0)


def _in_force(effective: int | None, superseded: int | None, now: int) -> bool:
    return effective is not None and effective <= now and (superseded is None or superseded > now)


def _rule_groups(
    searcher: tantivy.Searcher, hits: Sequence[tuple[float, tantivy.DocAddress]], now: datetime
) -> list[_RuleGroup]:
    addresses = [address for _score, address in hits]
    rule_ids = searcher.fast_field_values("rule_id", addresses)
    effective = searcher.fast_field_values("effective_at", addresses)
    superseded = searcher.fast_field_values("superseded_at", addresses)
    instant = engine.epoch(now)
    groups: dict[int, _RuleGroup] = {}
    for (score, address), rule_id, effective_at, superseded_at in zip(
        hits, rule_ids, effective, superseded, strict=True
    ):
        in_force = _in_force(
            int(effective_at) if effective_at is not None else None,
            int(superseded_at) if superseded_at is not None else None,
            instant,
        )
        key = int(rule_id or 0)
        group = groups.get(key)
        if group is None:
            groups[key] = _RuleGroup(key, score, address, in_force, 1)
            continue
        group.matched += 1
        group.score = max(group.score, score)
        if in_force and not group.in_force:
            group.address, group.in_force = address, True
    return list(groups.values())


@dataclass(frozen=True, slots=True)
class _Page:
    """What every hit of one page is rendered with, looked up once per search."""

    terms: tuple[str, ...]
    now: datetime
    language: str | None
    announcement_url: str  # an announcement's address, `{0}` standing for its id

    @classmethod
    def current(cls, terms: tuple[str, ...], now: datetime) -> "_Page":
        return cls(terms, now, get_language(), path_template("announcements:detail", 1))

    def url(self, name: str, *args: object) -> str:
        return reverse_fast(name, *args)

    def label(self, kind: str) -> str:
        return _label(kind, self.language)


@lru_cache(maxsize=256)
def _label(kind: str, language: str | None) -> str:
    for choices in (Announcement.Kind, Rule.Kind):
        if kind in choices.values:
            return str(choices(kind).label)
    return kind


def _title(data: dict[str, Any], kind: int) -> str:
    return data["t"] if kind == _ANNOUNCEMENT else f"《{data['t']}》"


def _announcement_hit(data: dict[str, Any], score: float, page: _Page, title_html: Markup) -> SearchHit:
    kind = data.get("k", "")
    return SearchHit(
        kind=SOURCE_ANNOUNCEMENT,
        type=kind,
        type_label=page.label(kind),
        title=data["t"],
        title_html=title_html,
        url=page.announcement_url.format(data["id"]),
        snippet=snippets.snippet(data.get("x", ""), page.terms),
        date=datetime.fromisoformat(data["d"]),
        category=data.get("c", ""),
        category_name=data.get("cn", ""),
        score=score,
    )


def _best_clause(clauses: list[list[str]], terms: Sequence[str]) -> list[str] | None:
    best: tuple[int, int] = (0, 0)
    chosen = None
    for clause in clauses:
        rank = snippets.score(" ".join(clause[1:]), terms)
        if rank > best:
            best, chosen = rank, clause
    return chosen


def _rule_hit(data: dict[str, Any], group: _RuleGroup, page: _Page, title_html: Markup) -> SearchHit:
    terms, now = page.terms, page.now
    effective_at = datetime.fromisoformat(data["e"])
    superseded_at = datetime.fromisoformat(data["s"]) if data.get("s") else None
    if effective_at > now:
        status = RuleVersion.Status.NOTICED
    elif superseded_at is not None and superseded_at <= now:
        status = RuleVersion.Status.SUPERSEDED
    else:
        status = RuleVersion.Status.IN_FORCE
    clause = _best_clause(data.get("cl", []), terms)
    anchor = f"#{clause[0]}" if clause else ""
    if status == RuleVersion.Status.IN_FORCE:
        url = page.url("rules:detail", data["slug"]) + anchor
        current_url = None
    else:
        url = page.url("rules:version", data["slug"], data["n"]) + anchor
        current_url = page.url("rules:detail", data["slug"])
    source = " ".join(part for part in clause[2:] if part) if clause else (data.get("sum") or "")
    kind = data.get("k", "")
    return SearchHit(
        kind=SOURCE_RULE,
        type=kind,
        type_label=page.label(kind),
        title=_title(data, _RULE),
        title_html=title_html,
        url=url,
        snippet=snippets.snippet(source, terms),
        date=effective_at,
        category=data.get("c", ""),
        category_name=data.get("cn", ""),
        score=group.score,
        version=int(data["n"]),
        status=str(status),
        status_label=str(status.label),
        clause=clause[1] if clause else "",
        versions_matched=group.matched,
        current_url=current_url,
        history_url=page.url("rules:history", data["slug"]),
    )


def _page_hits(
    searcher: tantivy.Searcher, on_page: list[tuple[float, int, Any]], page: _Page
) -> list[SearchHit]:
    """The page's hits, read from the index and highlighted; nothing is done for a hit not shown.

    `on_page` holds (score, _ANNOUNCEMENT, address) and (score, _RULE, _RuleGroup) places.
    """
    datas = _stored(searcher, [item.address if kind == _RULE else item for _score, kind, item in on_page])
    titles = snippets.mark_all_of(
        [_title(data, kind) for data, (_score, kind, _item) in zip(datas, on_page, strict=True)], page.terms
    )
    return [
        _announcement_hit(data, score, page, title_html)
        if kind == _ANNOUNCEMENT
        else _rule_hit(data, item, page, title_html)
        for data, title_html, (score, kind, item) in zip(datas, titles, on_page, strict=True)
    ]


def _sources(filters: Filters) -> tuple[bool, bool]:
    announcements = filters.source in (None, SOURCE_ANNOUNCEMENT) and not filters.in_force
    rules = filters.source in (None, SOURCE_RULE)
    return announcements, rules


def _finds_something(
    searcher: tantivy.Searcher, schema: tantivy.Schema, parsed: ParsedQuery, filters: Filters
) -> bool:
    # A term no document has rules the query out without running it (most candidates end here).
    if parsed.empty or any(searcher.doc_freq("text", term) == 0 for term in terms(parsed)):
        return False
    now = timezone.now()
    text = text_query(schema, parsed)
    announcements, rules = _sources(filters)
    for source, wanted in ((SOURCE_ANNOUNCEMENT, announcements), (SOURCE_RULE, rules)):
        if wanted:
            query = filtered(schema, text, filters, source=source, now=now)
            if searcher.search(query, 1, count=False).hits:
                return True
    return False


def search(*, q: str, filters: Filters, raw_page: str | None, size: int) -> SearchResults:
    """One page of results for `q`; raises QueryInvalid, SearchUnavailable or PageNotFound (a 404)."""
    started = time.perf_counter()
    parsed = parse(check_query(q))
    window = settings.RULECENTER_PAGER_WINDOW
    if parsed.empty:
        pager = pager_for(raw_page=raw_page, total=0, size=size, window=window)
        return SearchResults(parsed, (), 0, pager, None, (time.perf_counter() - started) * 1000)
    searcher, schema = _searcher()
    now = timezone.now()
    text = text_query(schema, parsed)
    want_announcements, want_rules = _sources(filters)

    groups: list[_RuleGroup] = []
    if want_rules and searcher.doc_freq("source", SOURCE_RULE):
        rule_query = filtered(schema, text, filters, source=SOURCE_RULE, now=now)
        rule_hits = _reranked(searcher, searcher.search(rule_query, RULE_HITS_CAP, count=False).hits)
        groups = _rule_groups(searcher, rule_hits, now) if rule_hits else []

    number = _page_number(raw_page)
    announcement_hits: list[tuple[float, tantivy.DocAddress]] = []
    announcement_total = 0
    if want_announcements:
        announcement_query = filtered(schema, text, filters, source=SOURCE_ANNOUNCEMENT, now=now)
        wanted = _rerank_window(number * size)
        first = wanted if wanted <= ONE_PASS_HITS else size
        result = searcher.search(announcement_query, first, count=True)
        announcement_total = _hit_count(result)
        announcement_hits = list(result.hits)
        if first < wanted and number * size - size < announcement_total + len(groups):
            announcement_hits = list(searcher.search(announcement_query, wanted, count=False).hits)
        announcement_hits = _reranked(searcher, announcement_hits)

    total = announcement_total + len(groups)
    pager = pager_for(raw_page=raw_page, total=total, size=size, window=window)
    shown = slice(pager.offset, pager.offset + size)
    if groups:
        merged: list[tuple[float, int, Any]] = [
            (s, _ANNOUNCEMENT, address) for s, address in announcement_hits
        ]
        merged += [(group.score, _RULE, group) for group in groups]
        merged.sort(key=itemgetter(0), reverse=True)  # stable: announcements first at equal scores
        on_page = merged[shown]
    else:  # already in order
        on_page = [(s, _ANNOUNCEMENT, address) for s, address in announcement_hits[shown]]
    hits = _page_hits(searcher, on_page, _Page.current(parsed.highlights, now))

    suggestion = None
    if total == 0:
        suggestion = suggest.suggestion(
            parsed.text, lambda candidate: _finds_something(searcher, schema, parse(candidate), filters)
        )
    return SearchResults(
        parsed, tuple(hits), total, pager, suggestion, (time.perf_counter() - started) * 1000
    )


@dataclass(frozen=True, slots=True)
class IndexLag:
    behind: int  # outbox rows this node has not applied yet
    must_rebuild: bool  # rows it had not applied were pruned: only a rebuild catches up


def index_lag() -> IndexLag:
    """How far this node's search index is behind the outbox (readiness and metrics), in one query."""
    from .indexer.follow import lag

    state = lag()
    return IndexLag(behind=max(0, state.newest - state.position), must_rebuild=state.must_rebuild)
