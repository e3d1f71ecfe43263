"""Counting votes into shares that a reader can add up: whole percentages that always sum to 100."""

from collections.abc import Mapping
from dataclasses import dataclass, field


def largest_remainder(counts: Mapping[str, int], *, points: int = 100) -> dict[str, int]:
    """Share `points` among the keys in proportion to `counts` (Hamilton's method).

    Each key first gets the whole part of its exact share; the points left over go to the largest
    remainders, ties to the larger count and then to the earlier key. The result sums to `points`
    exactly (or is all zeros when nothing was counted), unlike rounding each share on its own
    (33/33/33 = 99, or 50.5/49.5 → 51/50 = 101).
    """
    total = sum(counts.values())
    if total == 0:
        return dict.fromkeys(counts, 0)
    whole = {key: count * points // total for key, count in counts.items()}
    left = points - sum(whole.values())
    order = list(counts)
    ranked = sorted(order, key=lambda key: (-(counts[key] * points % total), -counts[key], order.index(key)))
    for key in ranked[:left]:
        whole[key] += 1
    return whole


@dataclass(frozen=True, slots=True)
class Tally:
    """Votes per option, in the options' order; `shares` are whole percentages summing to 100."""

    counts: dict[str, int]
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def shares(self) -> dict[str, int]:
        return largest_remainder(self.counts)

    def rows(self) -> list[tuple[str, str, int, int]]:
        """(key, label, count, share) per option, for pages and reports."""
        shares = self.shares
        return [(key, self.labels.get(key, key), count, shares[key]) for key, count in self.counts.items()]
