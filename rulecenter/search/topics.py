"""Saved searches as notification topics (`search:<query>`): told of a change whose title or summary has
every word and phrase of the query, as `/search/` requires them of a document (`query.text_query`)."""

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _

from . import segmenter
from .query import atoms, parse

MAX_LENGTH = 73  # a topic is at most 80 characters: "search:" and the query
QUERY_EMPTY = "保存的搜索需要至少一个检索词。"
QUERY_TOO_LONG = "保存的搜索最长 {limit} 个字符。"


def check(value: str) -> str | None:
    """Why a saved search cannot be subscribed to, or None."""
    if len(value) > MAX_LENGTH:
        return _(QUERY_TOO_LONG).format(limit=MAX_LENGTH)
    if parse(value).empty:
        return _(QUERY_EMPTY)
    return None


def _contains(tokens: list[str], phrase: tuple[str, ...]) -> bool:
    width = len(phrase)
    return any(tuple(tokens[start : start + width]) == phrase for start in range(len(tokens) - width + 1))


def matches(value: str, data: Mapping[str, Any]) -> bool:
    """Whether an event (its data) concerns the saved search `value`."""
    parsed = parse(value)
    if parsed.empty:
        return False
    tokens = segmenter.tokens(f"{data.get('title', '')}\n{data.get('summary', '')}")
    present = set(tokens)
    if not all(atom in present for word in parsed.words for atom in atoms(word)):
        return False
    return all(_contains(tokens, phrase) for phrase in parsed.phrases)
