"""What changed between two versions of a rule, clause by clause and then character by character.

Clauses are aligned by anchor (see `clauses.parse_clauses`); a clause whose anchor disappeared while the same
wording appeared under a new anchor is `moved`. Inside a clause the diff is per character, because Chinese
has no spaces to split words on.
"""

import html
import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Final, Literal, NamedTuple

from django.utils.translation import gettext, gettext_noop
from markupsafe import Markup

from .clauses import Clause, ClauseKind, parse_clauses

ClauseStatus = Literal["added", "removed", "changed", "unchanged", "moved"]
OpKind = Literal["equal", "insert", "delete"]

# An unchanged run this short between two changes is shown as part of the change ("48小时" → "24小时" reads
# as 48 → 24, not as 2 inserted, 4 kept, 8 deleted). It is folded only when it is no longer than the
# changes on both sides, so "10%" → "30%" still shows the single changed digit.
FOLD_EQUAL_MAX_CHARS: Final = 2
# SequenceMatcher is quadratic: past this many characters of changed text, diff sentence by sentence first
# and by character only inside the changed sentences.
CHAR_DIFF_MAX_CHARS: Final = 4000
_SENTENCE_END = re.compile(r"(?<=[。；！？!?;\n])")


# What each status is called on the diff and consultation pages: one map, not a copy per template.
CLAUSE_STATUS_LABELS: Final[dict[ClauseStatus, str]] = {
    "added": gettext_noop("新增"),
    "removed": gettext_noop("删除"),
    "changed": gettext_noop("修改"),
    "moved": gettext_noop("移动"),
    "unchanged": gettext_noop("未变"),
}


class DiffOp(NamedTuple):
    op: OpKind
    text: str


@dataclass(frozen=True, slots=True)
class ClauseDiff:
    """One clause of the compared versions: the old and the new clause (one may be None) and the edits."""

    status: ClauseStatus
    old: Clause | None
    new: Clause | None
    ops: tuple[DiffOp, ...]

    @property
    def status_label(self) -> str:
        return gettext(CLAUSE_STATUS_LABELS[self.status])

    @property
    def clause(self) -> Clause:
        """The new clause, or the old one when it was removed."""
        clause = self.new or self.old
        assert clause is not None
        return clause

    @property
    def anchor(self) -> str:
        return self.clause.anchor

    @property
    def old_anchor(self) -> str | None:
        return self.old.anchor if self.old else None

    @property
    def label(self) -> str:
        return self.clause.label

    @property
    def title(self) -> str:
        return self.clause.title

    @property
    def level(self) -> int:
        return self.clause.level

    @property
    def kind(self) -> ClauseKind:
        return self.clause.kind

    @property
    def old_text(self) -> str:
        return self.old.content if self.old else ""

    @property
    def new_text(self) -> str:
        return self.new.content if self.new else ""


@dataclass(frozen=True, slots=True)
class VersionDiff:
    """Every clause of both versions in the new version's order, removed clauses where they used to be."""

    clauses: tuple[ClauseDiff, ...]

    def _count(self, status: ClauseStatus) -> int:
        return sum(1 for clause in self.clauses if clause.status == status)

    @property
    def added(self) -> int:
        return self._count("added")

    @property
    def removed(self) -> int:
        return self._count("removed")

    @property
    def changed(self) -> int:
        return self._count("changed")

    @property
    def unchanged(self) -> int:
        return self._count("unchanged")

    @property
    def moved(self) -> int:
        return self._count("moved")

    @property
    def has_changes(self) -> bool:
        return any(clause.status != "unchanged" for clause in self.clauses)

    @property
    def changes(self) -> tuple[ClauseDiff, ...]:
        """Only the clauses that are not unchanged."""
        return tuple(clause for clause in self.clauses if clause.status != "unchanged")


@dataclass(frozen=True, slots=True)
class _Change:
    deleted: str
    inserted: str


def _segments(ops: list[DiffOp]) -> list[str | _Change]:
    """Alternating runs: a str for unchanged text, a _Change for adjacent deletions and insertions."""
    segments: list[str | _Change] = []
    for op, text in ops:
        if not text:
            continue
        last = segments[-1] if segments else None
        if op == "equal":
            if isinstance(last, str):
                segments[-1] = last + text
            else:
                segments.append(text)
            continue
        change = _Change(text, "") if op == "delete" else _Change("", text)
        if isinstance(last, _Change):
            segments[-1] = _Change(last.deleted + change.deleted, last.inserted + change.inserted)
        else:
            segments.append(change)
    return segments


def _fold_short_equalities(segments: list[str | _Change]) -> list[str | _Change]:
    folded: list[str | _Change] = []
    for segment in segments:
        if isinstance(segment, _Change) and len(folded) >= 2:
            between, before = folded[-1], folded[-2]
            if (
                isinstance(between, str)
                and isinstance(before, _Change)
                and len(between) <= FOLD_EQUAL_MAX_CHARS
                and len(between) <= max(len(before.deleted), len(before.inserted))
                and len(between) <= max(len(segment.deleted), len(segment.inserted))
            ):
                del folded[-2:]
                segment = _Change(
                    before.deleted + between + segment.deleted, before.inserted + between + segment.inserted
                )
        folded.append(segment)
    return folded


def _common_affix_lengths(old: str, new: str) -> tuple[int, int]:
    limit = min(len(old), len(new))
    prefix = 0
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    return prefix, suffix


def _sentences(text: str) -> list[str]:
    return [sentence for sentence in _SENTENCE_END.split(text) if sentence]


def _edits(old: str, new: str, *, sentences_first: bool) -> list[DiffOp]:
    prefix, suffix = _common_affix_lengths(old, new)
    old_middle, new_middle = old[prefix : len(old) - suffix], new[prefix : len(new) - suffix]
    ops = [DiffOp("equal", old[:prefix])]
    if len(old_middle) + len(new_middle) <= CHAR_DIFF_MAX_CHARS:
        for tag, i1, i2, j1, j2 in SequenceMatcher(
            None, old_middle, new_middle, autojunk=False
        ).get_opcodes():
            if tag == "equal":
                ops.append(DiffOp("equal", old_middle[i1:i2]))
            else:
                ops += [DiffOp("delete", old_middle[i1:i2]), DiffOp("insert", new_middle[j1:j2])]
    elif sentences_first:
        old_sentences, new_sentences = _sentences(old_middle), _sentences(new_middle)
        matcher = SequenceMatcher(None, old_sentences, new_sentences, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            old_part, new_part = "".join(old_sentences[i1:i2]), "".join(new_sentences[j1:j2])
            if tag == "equal":
                ops.append(DiffOp("equal", old_part))
            else:
                ops += _edits(old_part, new_part, sentences_first=False)
    else:
        # A long stretch rewritten throughout: shown as replaced rather than diffed in quadratic time.
        ops += [DiffOp("delete", old_middle), DiffOp("insert", new_middle)]
    ops.append(DiffOp("equal", old[len(old) - suffix :]))
    return ops


def char_diff(old: str, new: str) -> list[DiffOp]:
    """Character-level edits turning `old` into `new`; adjacent edits of one kind merged, deletions first."""
    if old == new:
        return [DiffOp("equal", old)] if old else []
    ops: list[DiffOp] = []
    for segment in _fold_short_equalities(_segments(_edits(old, new, sentences_first=True))):
        if isinstance(segment, str):
            ops.append(DiffOp("equal", segment))
            continue
        if segment.deleted:
            ops.append(DiffOp("delete", segment.deleted))
        if segment.inserted:
            ops.append(DiffOp("insert", segment.inserted))
    return ops


def _clause_diff(old: Clause | None, new: Clause | None, *, moved: bool = False) -> ClauseDiff:
    if old is None:
        assert new is not None
        ops = (DiffOp("insert", new.content),) if new.content else ()
        return ClauseDiff("added", None, new, ops)
    if new is None:
        ops = (DiffOp("delete", old.content),) if old.content else ()
        return ClauseDiff("removed", old, None, ops)
    status: ClauseStatus = "moved" if moved else "unchanged" if old.content == new.content else "changed"
    return ClauseDiff(status, old, new, tuple(char_diff(old.content, new.content)))


def diff_versions(old_text: str, new_text: str) -> VersionDiff:
    """Compare two rule texts clause by clause."""
    old_clauses, new_clauses = parse_clauses(old_text), parse_clauses(new_text)
    old_index = {clause.anchor: i for i, clause in enumerate(old_clauses)}
    new_to_old: dict[int, int] = {
        j: old_index[clause.anchor] for j, clause in enumerate(new_clauses) if clause.anchor in old_index
    }

    # Same wording, anchor gone from the old text, new anchor in the new one: moved, not removed + added.
    appeared: dict[str, list[int]] = {}
    for j, clause in enumerate(new_clauses):
        if j not in new_to_old and clause.content:
            appeared.setdefault(clause.content, []).append(j)
    moved: set[int] = set()
    matched_old = set(new_to_old.values())
    for i, clause in enumerate(old_clauses):
        if i not in matched_old and appeared.get(clause.content):
            j = appeared[clause.content].pop(0)
            new_to_old[j] = i
            moved.add(j)
    old_to_new = {i: j for j, i in new_to_old.items()}

    # A removed clause follows the new position of the nearest kept clause before it in the old text.
    removed_after: dict[int, list[int]] = {}
    last_new = -1
    for i in range(len(old_clauses)):
        if i in old_to_new:
            last_new = old_to_new[i]
        else:
            removed_after.setdefault(last_new, []).append(i)

    diffs = [_clause_diff(old_clauses[i], None) for i in removed_after.get(-1, [])]
    for j, clause in enumerate(new_clauses):
        old = old_clauses[new_to_old[j]] if j in new_to_old else None
        diffs.append(_clause_diff(old, clause, moved=j in moved))
        diffs.extend(_clause_diff(old_clauses[i], None) for i in removed_after.get(j, []))
    return VersionDiff(tuple(diffs))


def _ops_html(ops: tuple[DiffOp, ...], *, show: frozenset[OpKind]) -> Markup:
    parts: list[str] = []
    for op, text in ops:
        if op not in show:
            continue
        escaped = html.escape(text)
        if op == "insert":
            parts.append(f'<ins class="diff-ins">{escaped}</ins>')
        elif op == "delete":
            parts.append(f'<del class="diff-del">{escaped}</del>')
        else:
            parts.append(escaped)
    return Markup("".join(parts))  # noqa: S704 - every piece of text is escaped above


def inline_html(clause_diff: ClauseDiff) -> Markup:
    """The clause with deletions in <del class="diff-del"> and insertions in <ins class="diff-ins">.

    Line breaks are kept as newlines: show it with `white-space: pre-wrap`.
    """
    return _ops_html(clause_diff.ops, show=frozenset({"equal", "insert", "delete"}))


def side_by_side_html(clause_diff: ClauseDiff) -> tuple[Markup, Markup]:
    """The old side (deletions marked) and the new side (insertions marked)."""
    return (
        _ops_html(clause_diff.ops, show=frozenset({"equal", "delete"})),
        _ops_html(clause_diff.ops, show=frozenset({"equal", "insert"})),
    )
