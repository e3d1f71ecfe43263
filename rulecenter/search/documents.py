"""Index documents made from the database, which stays the source of truth.

An announcement is one document while it is published. A rule is one document per version that has been
scheduled (its notice may lie ahead: the query hides it until `visible_at`), all under the key
`r:<rule id>`, so re-indexing a rule replaces every version at once — when a new version is scheduled, the
one before it learns when it is superseded.

The content is read through the announcements' and rules' selectors.
"""

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from django.utils import timezone

from rulecenter.announcements import selectors as announcement_selectors
from rulecenter.common.text import markdown_to_text
from rulecenter.rules import selectors as rule_selectors
from rulecenter.rules.clauses import parse_clauses
from rulecenter.rules.models import Rule, RuleCategory, RuleVersion

from . import segmenter
from .backends.tantivy import SOURCE_RULE, IndexDocument
from .prepare import AnnouncementRow, announcement_document, recency, rule_key

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from rulecenter.announcements.models import Announcement

# The fields of an `AnnouncementRow`, in its order.
_ANNOUNCEMENT_FIELDS = (
    "id", "title", "summary", "body", "body_html", "kind", "category_id", "published_at",
)  # fmt: skip


def _published() -> "QuerySet[Announcement]":
    return announcement_selectors.published_announcements().order_by("id")


def category_names() -> dict[int, tuple[str, str]]:
    """id -> (slug, name) of every announcement category: what `announcement_document` needs."""
    return {
        category.pk: (category.slug, category.name) for category in announcement_selectors.category_list()
    }


def announcement_documents(pks: Iterable[int]) -> dict[int, IndexDocument | None]:
    """The document of each announcement, or None for one that is gone or not published."""
    wanted = set(pks)
    rows = _published().filter(pk__in=wanted).values_list(*_ANNOUNCEMENT_FIELDS)
    found: dict[int, IndexDocument | None] = dict.fromkeys(wanted)
    categories = category_names()
    for row in rows:
        found[row[0]] = announcement_document(row, categories)
    return found


def announcement_rows(*, after: int, size: int) -> Iterator[list[AnnouncementRow]]:
    """Every published announcement with id > `after`, in id order, `size` rows at a time (for rebuilds)."""
    while True:
        rows = list(_published().filter(pk__gt=after).values_list(*_ANNOUNCEMENT_FIELDS)[:size])
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def announcement_count() -> int:
    return announcement_selectors.published_announcements().count()


# ------------------------------------------------------------------------------------------------- rules


def _category_chain(category_id: int, categories: dict[int, RuleCategory]) -> tuple[str, ...]:
    """A rule category's slug and its ancestors' (a rule under 禁限售 is also found under 市场管理)."""
    chain: list[str] = []
    seen: set[int] = set()
    current = categories.get(category_id)
    while current is not None and current.pk not in seen:
        seen.add(current.pk)
        chain.append(current.slug)
        current = categories.get(current.parent_id) if current.parent_id else None
    return tuple(chain)


def _clauses(text: str) -> list[list[str]]:
    found = []
    for clause in parse_clauses(text):
        body = markdown_to_text(clause.text) if clause.text else ""
        if clause.title or body:
            found.append([clause.anchor, clause.label, clause.title, body])
    return found


def rule_version_documents(
    rule: Rule, versions: list[RuleVersion], categories: dict[int, RuleCategory]
) -> list[IndexDocument]:
    """One document per scheduled version of `rule`; `versions` sorted by effective_at."""
    documents = []
    chain = _category_chain(rule.category_id, categories)
    category = categories.get(rule.category_id)
    now = timezone.now()
    for index, version in enumerate(versions):
        assert version.notice_at is not None
        assert version.effective_at is not None
        successor = versions[index + 1] if index + 1 < len(versions) else None
        superseded_at = successor.effective_at if successor else None
        clauses = _clauses(version.text)
        text = " ".join(" ".join(part for part in clause[1:] if part) for clause in clauses)
        if version.summary:
            text = f"{version.summary} {text}"
        documents.append(
            IndexDocument(
                key=rule_key(rule.pk),
                pk=version.pk,
                source=SOURCE_RULE,
                type=rule.kind,
                categories=chain,
                title=segmenter.index_text(rule.title),
                body=segmenter.index_text(text),
                date=version.effective_at,
                # In force or coming: as recent as today (refreshed daily by the worker); else when it ended.
                recency=recency(superseded_at if superseded_at and superseded_at <= now else now),
                rule_id=rule.pk,
                visible_at=version.notice_at,
                effective_at=version.effective_at,
                superseded_at=superseded_at,
                data={
                    "id": version.pk,
                    "rule": rule.pk,
                    "slug": rule.slug,
                    "t": rule.title,
                    "k": rule.kind,
                    "c": category.slug if category else "",
                    "cn": category.name if category else "",
                    "n": version.number,
                    "na": version.notice_at.isoformat(),
                    "e": version.effective_at.isoformat(),
                    "s": superseded_at.isoformat() if superseded_at else None,
                    "sum": version.summary,
                    "cl": clauses,
                },
            )
        )
    return documents


def rule_documents(pks: Iterable[int]) -> dict[int, list[IndexDocument]]:
    """Every rule's version documents; an empty list for a rule that is gone or has none scheduled."""
    wanted = set(pks)
    found: dict[int, list[IndexDocument]] = {pk: [] for pk in wanted}
    if not wanted:
        return found
    categories = {c.pk: c for c in rule_selectors.rule_categories()}
    for rule, versions in rule_selectors.rules_with_scheduled_versions(rule_ids=wanted):
        found[rule.pk] = rule_version_documents(rule, versions, categories)
    return found


def rule_pks() -> list[int]:
    return rule_selectors.rule_ids()
