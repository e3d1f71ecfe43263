"""Near-duplicate opinions: character shingles, MinHash signatures, LSH banding, then an exact Jaccard check.

Chinese has no spaces, so a text is cut into overlapping runs of `SHINGLE_CHARS` characters after dropping
punctuation, spaces and case. Two texts are near-duplicates when their shingle sets' Jaccard similarity is
at least the threshold (RULECENTER_CONSULTATION_DUPLICATE_SIMILARITY). MinHash + banding finds the candidate
pairs without comparing every pair; each candidate is then checked exactly, and the pairs that pass are
joined into groups (single linkage). Identical texts (after normalising) are grouped before any of that, so
a copy-paste campaign of ten thousand copies costs one signature.
"""

import hashlib
import random
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from typing import Final

SHINGLE_CHARS: Final = 3
BANDS: Final = 16
ROWS: Final = 4  # BANDS * ROWS hash functions; candidates from about 50% similarity upwards
MEDOID_SAMPLE: Final = 40
_PRIME: Final = (1 << 61) - 1
_rng = random.Random(20250116)  # fixed: the same texts always give the same groups
_PERMUTATIONS: Final = tuple(
    (_rng.randrange(1, _PRIME), _rng.randrange(0, _PRIME)) for _ in range(BANDS * ROWS)
)


def normalize(text: str) -> str:
    """Letters and digits only, full-width folded, lower case: what makes two copies "the same"."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(char for char in folded if char.isalnum())


def _hash(piece: str) -> int:
    return int.from_bytes(hashlib.blake2b(piece.encode(), digest_size=8).digest(), "big")


def shingles(text: str) -> frozenset[int]:
    normal = normalize(text)
    if len(normal) <= SHINGLE_CHARS:
        return frozenset({_hash(normal)}) if normal else frozenset()
    return frozenset(_hash(normal[i : i + SHINGLE_CHARS]) for i in range(len(normal) - SHINGLE_CHARS + 1))


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def signature(shingle_set: frozenset[int]) -> tuple[int, ...]:
    if not shingle_set:
        return (0,) * len(_PERMUTATIONS)
    return tuple(min((a * x + b) % _PRIME for x in shingle_set) for a, b in _PERMUTATIONS)


class _Groups:
    """Union-find over indexes."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def join(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)


def near_duplicate_groups(texts: Sequence[str], *, threshold: float) -> list[list[int]]:
    """Indexes of `texts` grouped by near-duplication, largest group first, each group in index order.

    Every text is in exactly one group; a text like no other is a group of one.
    """
    by_normal: dict[str, list[int]] = defaultdict(list)
    for index, text in enumerate(texts):
        by_normal[normalize(text)].append(index)
    distinct = list(by_normal)
    sets = [shingles(normal) for normal in distinct]
    groups = _Groups(len(distinct))
    buckets: dict[tuple[int, tuple[int, ...]], list[int]] = defaultdict(list)
    for position, shingle_set in enumerate(sets):
        sig = signature(shingle_set)
        for band in range(BANDS):
            buckets[(band, sig[band * ROWS : (band + 1) * ROWS])].append(position)
    checked: set[tuple[int, int]] = set()
    for members in buckets.values():
        # Against the bucket's first member and the neighbour before: linear in the bucket's size, and the
        # joins are transitive, so a campaign of near-copies still ends up in one group.
        for offset in range(1, len(members)):
            for other in {members[0], members[offset - 1]}:
                pair = (other, members[offset])
                if pair in checked:
                    continue
                checked.add(pair)
                if jaccard(sets[pair[0]], sets[pair[1]]) >= threshold:
                    groups.join(*pair)
    merged: dict[int, list[int]] = defaultdict(list)
    for position, normal in enumerate(distinct):
        merged[groups.find(position)].extend(by_normal[normal])
    result = [sorted(indexes) for indexes in merged.values()]
    return sorted(result, key=lambda group: (-len(group), group[0]))


def representative(texts: Sequence[str], group: Sequence[int]) -> int:
    """The member of `group` most like the others (the medoid of a sample), earliest on a tie."""
    if len(group) <= 2:
        return group[0]
    counts: dict[str, int] = defaultdict(int)
    first: dict[str, int] = {}
    for index in group:
        normal = normalize(texts[index])
        counts[normal] += 1
        first.setdefault(normal, index)
    distinct = sorted(first, key=lambda normal: first[normal])[:MEDOID_SAMPLE]
    sets = {normal: shingles(normal) for normal in distinct}

    def closeness(normal: str) -> float:
        return sum(counts[other] * jaccard(sets[normal], sets[other]) for other in distinct)

    best = max(distinct, key=lambda normal: (closeness(normal), -first[normal]))
    return first[best]
