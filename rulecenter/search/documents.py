"""Index documents made from the database, which stays the source of truth.

An announcement is one document while it is published. A rule is one document per version that has been
scheduled (its notice may lie ahead: the query hides it until `visible_at`), all under the key
`r:<rule id>`, so re-indexing a rule replaces every version at once — when a new version is scheduled, the
one before it learns when it is superseded.
"""

from collections.abc import Iterable, Iterator

from django.db.models import Q
from django.utils import timezone

from rulecenter.announcements.models import Announcement, Category
from rulecenter.common.text import markdown_to_text
from rulecenter.rules.clauses import parse_clauses
from rulecenter.rules.models import Rule, RuleCategory, RuleVersion

from . import segmenter
from .backends.tantivy import SOURCE_RULE, IndexDocument
from .prepare import (
    AnnouncementRow,
    announcement_batch,
    announcement_document,
    announcement_key,
    recency,
    rule_key,
)

__all__ = ["announcement_batch", "announcement_key", "rule_key"]

_ANNOUNCEMENT_FIELDS = (
    "id", "title", "summary", "body", "body_html", "kind", "category_id", "published_at",
)  # fmt: skip


def _category_names() -> dict[int, tuple[str, str]]:
    return {pk: (slug, name) for pk, slug, name in Category.objects.values_list("id", "slug", "name")}


def announcement_documents(pks: Iterable[int]) -> dict[int, IndexDocument | None]:
    """The document of each announcement, or None for one that is gone or not published."""
    wanted = set(pks)
    rows = (
        Announcement.objects.filter(pk__in=wanted, status=Announcement.Status.PUBLISHED)
        .order_by("id")
        .values_list(*_ANNOUNCEMENT_FIELDS)
    )
    found: dict[int, IndexDocument | None] = dict.fromkeys(wanted)
    categories = _category_names()
    for row in rows:
        found[row[0]] = announcement_document(row, categories)
    return found


def announcement_rows(*, after: int, size: int) -> Iterator[list[AnnouncementRow]]:
    """Every published announcement with id > `after`, in id order, `size` rows at a time (for rebuilds)."""
    while True:
        rows = list(
            Announcement.objects.filter(status=Announcement.Status.PUBLISHED, pk__gt=after)
            .order_by("id")
            .values_list(*_ANNOUNCEMENT_FIELDS)[:size]
        )
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def category_names() -> dict[int, tuple[str, str]]:
    """id -> (slug, name) of every announcement category: what `announcement_document` needs."""
    return _category_names()


def announcement_max_pk() -> int:
    last = Announcement.objects.order_by("-id").values_list("id", flat=True).first()
    return last or 0


def announcement_count() -> int:
    return Announcement.objects.filter(status=Announcement.Status.PUBLISHED).count()


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
    categories = {c.pk: c for c in RuleCategory.objects.all()}
    versions: dict[int, list[RuleVersion]] = {}
    scheduled = Q(notice_at__isnull=False, effective_at__isnull=False)
    for version in RuleVersion.objects.filter(scheduled, rule_id__in=wanted).order_by(
        "rule_id", "effective_at"
    ):
        versions.setdefault(version.rule_id, []).append(version)
    for rule in Rule.objects.filter(pk__in=wanted):
        found[rule.pk] = rule_version_documents(rule, versions.get(rule.pk, []), categories)
    return found


def rule_pks(*, after: int = 0) -> list[int]:
    return list(Rule.objects.filter(pk__gt=after).order_by("id").values_list("id", flat=True))


def rule_pks_in_categories(category_pks: Iterable[int]) -> list[int]:
    return list(Rule.objects.filter(category_id__in=list(category_pks)).values_list("id", flat=True))
