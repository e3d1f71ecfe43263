"""What the rule pages and the API show of versions, rendered once: a noticed version's text never changes,
so its clauses, its diffs and its downloads are cached (`FROZEN_CACHE_SECONDS`) as soon as it is noticed.

Its own module so that the API and the pages share it without the API importing the pages' views.
"""

from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from rulecenter.common.text import markdown_to_html

from .clauses import parse_clauses
from .diff import VersionDiff, diff_versions, inline_html, side_by_side_html
from .models import RuleVersion


def clauses_html(version: RuleVersion) -> list[dict[str, str]]:
    """The version's clauses rendered to HTML, cached: a noticed version's text never changes."""
    key = f"rules:clauses:{version.pk}:{version.updated_at.timestamp()}"
    rendered: list[dict[str, str]] | None = cache.get(key)
    if rendered is None:
        rendered = [
            {
                "anchor": c.anchor,
                "label": c.label,
                "title": c.title,
                "html": markdown_to_html(c.text),
                "level": str(c.level),
            }
            for c in parse_clauses(version.text)
        ]
        cache.set(key, rendered, timeout=24 * 3600)
    return rendered


FROZEN_CACHE_SECONDS = 24 * 3600


def _frozen_key(*versions: RuleVersion) -> str | None:
    """A cache key for what is derived from these versions' texts alone, or None while one is not noticed.

    A noticed version is public record and never edited (corrections are new versions); `updated_at` is in
    the key all the same, so not even a repair by hand in the database can serve a stale page.
    """
    now = timezone.now()
    if not all(version.is_noticed_at(now) for version in versions):
        return None
    return ":".join(f"{version.pk}@{version.updated_at.timestamp()}" for version in versions)


def versions_diff(old: RuleVersion, new: RuleVersion) -> tuple[VersionDiff, list[dict[str, Any]]]:
    """Two versions compared, with each clause's inline and side-by-side HTML: cached once both are noticed."""
    key = _frozen_key(old, new)
    cached: tuple[VersionDiff, list[dict[str, Any]]] | None = cache.get(f"rules:diff:{key}") if key else None
    if cached is not None:
        return cached
    result = diff_versions(old.text, new.text)
    rows = [
        {"diff": clause, "inline": inline_html(clause), "sides": side_by_side_html(clause)}
        for clause in result.clauses
    ]
    if key:
        cache.set(f"rules:diff:{key}", (result, rows), timeout=FROZEN_CACHE_SECONDS)
    return result, rows


def frozen_cached[T](name: str, version: RuleVersion, compute: Callable[[], T]) -> T:
    key = _frozen_key(version)
    if key is None:
        return compute()
    value: T | None = cache.get(f"rules:{name}:{key}")
    if value is None:
        value = compute()
        cache.set(f"rules:{name}:{key}", value, timeout=FROZEN_CACHE_SECONDS)
    return value
