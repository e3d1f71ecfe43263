"""What changed between two versions of a rule, clause by clause and then character by character.

Clauses are aligned by anchor (see `clauses.parse_clauses`); a clause whose anchor disappeared while the same
wording appeared under a new anchor is `moved`. Inside a clause the diff is per character, because Chinese
has no spaces to split words on.
"""

import html
import re
from collections import Counter, deque
from collections.abc import Sequence
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
# What one comparison of two versions may spend in SequenceMatcher, counted as the pairs of equal elements
# (characters or sentences) it could visit: about a fifth of a second of the worst text. Ordinary edits
# spend a few thousand; a hostile text (thousands of identical sentences, one letter repeated) runs out,
# and the rest of its changes are shown as whole replacements.
DIFF_MATCH_BUDGET: Final = 1_000_000
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


class _Budget:
    """What is left of DIFF_MATCH_BUDGET for one comparison."""

    def __init__(self, pairs: int = DIFF_MATCH_BUDGET) -> None:
        self.pairs = pairs

    def spend(self, old: Sequence[str], new: Sequence[str]) -> bool:
        """Whether SequenceMatcher may compare these (and take it off the budget)."""
        counts = Counter(new)
        cost = sum(counts[element] for element in old)  # the pairs of equal elements
        if cost > self.pairs:
            return False
        self.pairs -= cost
        return True


class _Change:
    """Adjacent deletions and insertions, kept as pieces and joined once: merging never recopies."""

    __slots__ = ("deleted", "deleted_chars", "inserted", "inserted_chars")

    def __init__(self) -> None:
        self.deleted: list[str] = []
        self.inserted: list[str] = []
        self.deleted_chars = 0
        self.inserted_chars = 0

    def add(self, op: OpKind, text: str) -> None:
        if op == "delete":
            self.deleted.append(text)
            self.deleted_chars += len(text)
        else:
            self.inserted.append(text)
            self.inserted_chars += len(text)

    @property
    def size(self) -> int:
        return max(self.deleted_chars, self.inserted_chars)


def _segments(ops: list[DiffOp]) -> list[list[str] | _Change]:
    """Alternating runs: pieces of unchanged text, a _Change for adjacent deletions and insertions."""
    segments: list[list[str] | _Change] = []
    for op, text in ops:
        if not text:
            continue
        last = segments[-1] if segments else None
        if op == "equal":
            if isinstance(last, list):
                last.append(text)
            else:
                segments.append([text])
            continue
        if not isinstance(last, _Change):
            last = _Change()
            segments.append(last)
        last.add(op, text)
    return segments


def _fold_short_equalities(segments: list[list[str] | _Change]) -> list[str | _Change]:
    folded: list[str | _Change] = []
    for item in segments:
        segment = "".join(item) if isinstance(item, list) else item
        if isinstance(segment, _Change) and len(folded) >= 2:
            between, before = folded[-1], folded[-2]
            if (
                isinstance(between, str)
                and isinstance(before, _Change)
                and len(between) <= FOLD_EQUAL_MAX_CHARS
                and len(between) <= before.size
                and len(between) <= segment.size
            ):
                del folded[-2:]
                before.add("delete", between)
                before.add("insert", between)
                for text in segment.deleted:
                    before.add("delete", text)
                for text in segment.inserted:
                    before.add("insert", text)
                segment = before
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


def _edits(old: str, new: str, *, sentences_first: bool, budget: _Budget) -> list[DiffOp]:
    prefix, suffix = _common_affix_lengths(old, new)
    old_middle, new_middle = old[prefix : len(old) - suffix], new[prefix : len(new) - suffix]
    ops = [DiffOp("equal", old[:prefix])]
    old_sentences: list[str] = []
    new_sentences: list[str] = []
    if len(old_middle) + len(new_middle) > CHAR_DIFF_MAX_CHARS and sentences_first:
        old_sentences, new_sentences = _sentences(old_middle), _sentences(new_middle)
    if len(old_middle) + len(new_middle) <= CHAR_DIFF_MAX_CHARS and budget.spend(old_middle, new_middle):
        for tag, i1, i2, j1, j2 in SequenceMatcher(
            None, old_middle, new_middle, autojunk=False
        ).get_opcodes():
            if tag == "equal":
                ops.append(DiffOp("equal", old_middle[i1:i2]))
            else:
                ops += [DiffOp("delete", old_middle[i1:i2]), DiffOp("insert", new_middle[j1:j2])]
    elif old_sentences and new_sentences and budget.spend(old_sentences, new_sentences):
        matcher = SequenceMatcher(None, old_sentences, new_sentences, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            old_part, new_part = "".join(old_sentences[i1:i2]), "".join(new_sentences[j1:j2])
            if tag == "equal":
                ops.append(DiffOp("equal", old_part))
            else:
                ops += _edits(old_part, new_part, sentences_first=False, budget=budget)
    else:
        # A long stretch rewritten throughout: shown as replaced rather than diffed in quadratic time.
        ops += [DiffOp("delete", old_middle), DiffOp("insert", new_middle)]
    ops.append(DiffOp("equal", old[len(old) - suffix :]))
    return ops


def char_diff(old: str, new: str, *, budget: _Budget | None = None) -> list[DiffOp]:
    """Character-level edits turning `old` into `new`; adjacent edits of one kind merged, deletions first.

    Bounded: past `budget` (DIFF_MATCH_BUDGET unless a comparison shares one) a change is a whole replacement.
    """
    if old == new:
        return [DiffOp("equal", old)] if old else []
    edits = _edits(old, new, sentences_first=True, budget=budget or _Budget())
    ops: list[DiffOp] = []
    for segment in _fold_short_equalities(_segments(edits)):
        if isinstance(segment, str):
            ops.append(DiffOp("equal", segment))
            continue
        if segment.deleted_chars:
            ops.append(DiffOp("delete", "".join(segment.deleted)))
        if segment.inserted_chars:
            ops.append(DiffOp("insert", "".join(segment.inserted)))
    return ops


def _clause_diff(
    old: Clause | None, new: Clause | None, *, budget: _Budget, moved: bool = False
) -> ClauseDiff:
    if old is None:
        assert new is not None
        ops = (DiffOp("insert", new.content),) if new.content else ()
        return ClauseDiff("added", None, new, ops)
    if new is None:
        ops = (DiffOp("delete", old.content),) if old.content else ()
        return ClauseDiff("removed", old, None, ops)
    status: ClauseStatus = "moved" if moved else "unchanged" if old.content == new.content else "changed"
    return ClauseDiff(status, old, new, tuple(char_diff(old.content, new.content, budget=budget)))


def diff_versions(old_text: str, new_text: str) -> VersionDiff:
    """Compare two rule texts clause by clause."""
    old_clauses, new_clauses = parse_clauses(old_text), parse_clauses(new_text)
    old_index = {clause.anchor: i for i, clause in enumerate(old_clauses)}
    new_to_old: dict[int, int] = {
        j: old_index[clause.anchor] for j, clause in enumerate(new_clauses) if clause.anchor in old_index
    }

    # Same wording, anchor gone from the old text, new anchor in the new one: moved, not removed + added.
    appeared: dict[str, deque[int]] = {}
    for j, clause in enumerate(new_clauses):
        if j not in new_to_old and clause.content:
            appeared.setdefault(clause.content, deque()).append(j)
    moved: set[int] = set()
    matched_old = set(new_to_old.values())
    for i, clause in enumerate(old_clauses):
        if i not in matched_old and appeared.get(clause.content):
            j = appeared[clause.content].popleft()
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

    budget = _Budget()  # shared by every clause: a text of many hostile clauses is bounded as a whole
    diffs = [_clause_diff(old_clauses[i], None, budget=budget) for i in removed_after.get(-1, [])]
    for j, clause in enumerate(new_clauses):
        old = old_clauses[new_to_old[j]] if j in new_to_old else None
        diffs.append(_clause_diff(old, clause, budget=budget, moved=j in moved))
        diffs.extend(_clause_diff(old_clauses[i], None, budget=budget) for i in removed_after.get(j, []))
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
