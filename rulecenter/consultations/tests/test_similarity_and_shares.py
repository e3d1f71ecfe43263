"""The pure parts: near-duplicate grouping and shares that add up to exactly 100%."""

import random

import pytest

from rulecenter.consultations.similarity import near_duplicate_groups, normalize, representative
from rulecenter.consultations.tally import Tally, largest_remainder

LETTER = "欺诈发货的定义不够清楚，“与订单约定明显不符”具体怎么认定？希望平台给出明确的判定标准和典型示例。"


def test_normalising_drops_punctuation_space_and_width() -> None:
    assert normalize("  ＡＢＣ，延迟 发货！") == normalize("abc延迟发货")


def test_a_copy_paste_campaign_is_one_group_and_different_opinions_stay_apart() -> None:
    texts = [
        LETTER,
        "我认为" + LETTER,
        LETTER + "望采纳。",
        LETTER.replace("，", ","),
        "赔付金额太高了。",
        LETTER,
    ]
    groups = near_duplicate_groups(texts, threshold=0.6)
    assert groups == [[0, 1, 2, 3, 5], [4]]
    assert representative(texts, groups[0]) == 0


def test_grouping_is_deterministic_and_threshold_bound() -> None:
    rng = random.Random(1)
    texts = [LETTER[: rng.randrange(20, len(LETTER))] for _ in range(30)]
    assert near_duplicate_groups(texts, threshold=0.6) == near_duplicate_groups(texts, threshold=0.6)
    everything_alone = near_duplicate_groups(["甲乙丙丁戊", "己庚辛壬癸", "子丑寅卯辰"], threshold=0.6)
    assert sorted(len(group) for group in everything_alone) == [1, 1, 1]


def test_ten_thousand_copies_cost_one_signature() -> None:
    groups = near_duplicate_groups([LETTER] * 10_000 + ["无"], threshold=0.6)
    assert [len(group) for group in groups] == [10_000, 1]


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"support": 1, "reevaluate": 1, "abstain": 1}, {"support": 34, "reevaluate": 33, "abstain": 33}),
        ({"support": 62, "reevaluate": 38}, {"support": 62, "reevaluate": 38}),
        ({"support": 2, "reevaluate": 1}, {"support": 67, "reevaluate": 33}),
        ({"support": 0, "reevaluate": 0}, {"support": 0, "reevaluate": 0}),
        ({"support": 7, "reevaluate": 0}, {"support": 100, "reevaluate": 0}),
    ],
)
def test_largest_remainder_shares(counts: dict[str, int], expected: dict[str, int]) -> None:
    assert largest_remainder(counts) == expected


def test_shares_always_sum_to_100() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        counts = {f"o{i}": rng.randrange(0, 1000) for i in range(rng.randrange(2, 8))}
        shares = Tally(counts=counts).shares
        assert sum(shares.values()) == (100 if sum(counts.values()) else 0)
        for key, count in counts.items():
            exact = 100 * count / max(1, sum(counts.values()))
            assert abs(shares[key] - exact) < 1
