"""Subscription topics whose meaning another app knows.

A notification topic is `kind:value`. `all`, `category:`, `rule:` and `consultation:` name content that
notifications looks up through the floors below it; `search:<query>` is a saved search, which only the
search app can read — and search and notifications stand side by side on one floor, neither importing the
other. So search registers the kind here when it starts (`register`), and notifications asks through
`kind()`: is this value valid (`check`: the refusal in the active language, or None), does this event
concern it (`matches`, given the event's type and data: its title, summary, kind and category), and what
is it in words (`describe`, in the active language).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class TopicKind:
    check: Callable[[str], str | None]
    matches: Callable[[str, str, Mapping[str, Any]], bool]
    describe: Callable[[str], str]


_kinds: dict[str, TopicKind] = {}


def register(
    name: str,
    *,
    check: Callable[[str], str | None],
    matches: Callable[[str, str, Mapping[str, Any]], bool],
    describe: Callable[[str], str],
) -> None:
    _kinds[name] = TopicKind(check, matches, describe)


def kind(name: str) -> TopicKind | None:
    return _kinds.get(name)
