"""What a person typed, as tantivy queries built directly — never through tantivy's query-language parser.

Words are cut by the segmenter and all must match, in the title or the body (the title weighs more: it is
indexed twice).
Text in quotes ("…", “…”, 「…」) must match as a phrase. The parser's syntax (`* ^ : ( ) - + AND OR NOT
NEAR`) means nothing here: punctuation separates words and the operators are ignored, so no input can
make the engine fail or show its error text.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import tantivy

from . import segmenter
from .backends.tantivy import epoch

MAX_WORDS = 16
_QUOTES = str.maketrans(dict.fromkeys("“”„‟＂「」『』", '"'))
_PHRASE = re.compile(r'"([^"]*)"')
_OPERATOR = re.compile(r"(?<!\S)(?:AND|OR|NOT|NEAR)(?!\S)")


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    text: str  # the query as it will be shown back, invisible characters removed
    words: tuple[str, ...]
    phrases: tuple[tuple[str, ...], ...]
    highlights: tuple[str, ...]  # what to mark in titles and snippets

    @property
    def empty(self) -> bool:
        return not self.words and not self.phrases


# Popular queries come back again and again; a parsed query is immutable and costs segmenting to make.
@lru_cache(maxsize=1024)
def parse(raw: str) -> ParsedQuery:
    text = " ".join(segmenter.clean(raw).split())
    quoted = text.translate(_QUOTES)
    phrases: list[tuple[str, ...]] = []
    highlights: list[str] = []
    for match in _PHRASE.finditer(quoted):
        tokens = tuple(segmenter.tokens(match.group(1)))
        if tokens:
            phrases.append(tokens)
            # Marked as one stretch: its words with anything but letters between them (snippets.py).
            highlights.append(" ".join(segmenter.words(match.group(1))))
    rest = _OPERATOR.sub(" ", _PHRASE.sub(" ", quoted))
    words = segmenter.words(rest)[:MAX_WORDS]
    for word in words:
        highlights += [word, *segmenter.word_parts(word)]
    return ParsedQuery(
        text=text,
        words=tuple(words),
        phrases=tuple(dict.fromkeys(phrases)),
        highlights=tuple(dict.fromkeys(h for h in highlights if h)),
    )


def atoms(word: str) -> list[str]:
    """The index terms a query word requires: its shorter dictionary words when they cover it, else itself.

    A text the segmenter cut 管理 / 规范 in its context still answers 管理规范, and one where it kept 管理规范
    whole has 管理 and 规范 too (documents are cut in search mode).
    """
    return segmenter.word_parts(word) or [word]


def _term(schema: tantivy.Schema, token: str) -> tantivy.Query:
    return tantivy.Query.term_query(schema, "text", token)


def phrase_query(schema: tantivy.Schema, tokens: tuple[str, ...]) -> tantivy.Query:
    if len(tokens) == 1:
        return _term(schema, tokens[0])
    return tantivy.Query.phrase_query(schema, "text", list(tokens))


def terms(parsed: ParsedQuery) -> list[str]:
    """Every index term the query requires (its words' atoms and its phrases' tokens), each once."""
    found = [atom for word in parsed.words for atom in atoms(word)]
    found += [token for tokens in parsed.phrases for token in tokens]
    return list(dict.fromkeys(found))


def text_query(schema: tantivy.Schema, parsed: ParsedQuery) -> tantivy.Query:
    """Every word's terms and every phrase, all required: one flat intersection, tantivy's fastest walk."""
    required = dict.fromkeys(atom for word in parsed.words for atom in atoms(word))
    clauses = [(tantivy.Occur.Must, _term(schema, term)) for term in required]
    clauses += [(tantivy.Occur.Must, phrase_query(schema, tokens)) for tokens in parsed.phrases]
    return tantivy.Query.boolean_query(clauses)


@dataclass(frozen=True, slots=True)
class Filters:
    """Narrowing that does not change the ranking: what kind of item, which category, when, in force."""

    source: str | None = None  # announcement | rule
    type: str | None = None  # an announcement's or a rule's kind
    category: str | None = None  # a category slug (a rule category includes its subcategories)
    date_from: datetime | None = None
    date_to: datetime | None = None
    in_force: bool = False  # only rule versions in force now


def _filter(query: tantivy.Query) -> tuple[tantivy.Occur, tantivy.Query]:
    return tantivy.Occur.Must, tantivy.Query.const_score_query(query, 0.0)


def _before(schema: tantivy.Schema, field: str, at: datetime, *, inclusive: bool = True) -> tantivy.Query:
    return tantivy.Query.range_query(
        schema, field, tantivy.FieldType.Integer, upper_bound=epoch(at), include_upper=inclusive
    )


def _after(schema: tantivy.Schema, field: str, at: datetime) -> tantivy.Query:
    return tantivy.Query.range_query(
        schema, field, tantivy.FieldType.Integer, lower_bound=epoch(at), include_lower=False
    )


def filtered(
    schema: tantivy.Schema, text: tantivy.Query, filters: Filters, *, source: str, now: datetime
) -> tantivy.Query:
    """`text` narrowed to one source (announcements or rule versions) and the filters, visible at `now`."""
    clauses: list[tuple[tantivy.Occur, tantivy.Query]] = [(tantivy.Occur.Must, text)]
    if source == "rule":
        clauses.append(_filter(tantivy.Query.term_query(schema, "source", "rule")))
        # A version is public from its notice; drafts are never indexed.
        clauses.append((tantivy.Occur.MustNot, _after(schema, "visible_at", now)))
        if filters.in_force:
            clauses.append(_filter(_before(schema, "effective_at", now)))
            clauses.append((tantivy.Occur.MustNot, _before(schema, "superseded_at", now)))
    else:
        # Excluding the few rule documents is cheaper than intersecting with every announcement.
        clauses.append((tantivy.Occur.MustNot, tantivy.Query.term_query(schema, "source", "rule")))
    if filters.type:
        clauses.append(_filter(tantivy.Query.term_query(schema, "type", filters.type)))
    if filters.category:
        clauses.append(_filter(tantivy.Query.term_query(schema, "category", filters.category)))
    if filters.date_from or filters.date_to:
        clauses.append(
            _filter(
                tantivy.Query.range_query(
                    schema,
                    "date",
                    tantivy.FieldType.Integer,
                    lower_bound=epoch(filters.date_from) if filters.date_from else None,
                    upper_bound=epoch(filters.date_to) if filters.date_to else None,
                    include_upper=filters.date_to is None,
                )
            )
        )
    return tantivy.Query.boolean_query(clauses)
