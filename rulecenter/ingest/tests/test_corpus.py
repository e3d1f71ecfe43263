"""The extraction corpus, field by field (issue 6: at least 40 varied texts, accuracy per field).

`pytest -s -k accuracy_report` prints the table docs/ingest.md shows; so does
`python -m rulecenter.ingest.tests.accuracy`.
"""

from datetime import date

import pytest

from rulecenter.announcements.demo import seed_items
from rulecenter.ingest.extract import FIELDS, extract

from . import accuracy

CASES = [case for set_name in accuracy.SETS for case in accuracy.load(set_name)]


def test_the_corpus_has_at_least_40_texts_of_every_kind() -> None:
    assert len(CASES) >= 40
    kinds = {case.expected["kind"] for case in CASES}
    assert kinds == {
        "rule_change_notice", "consultation", "consultation_result", "agreement_change", "guide", "other",
    }  # fmt: skip


def test_the_seed_pages_texts_are_in_the_corpus() -> None:
    """Each of the seed's 12 items (title + excerpt) is a corpus text."""
    texts = {case.text.strip() for case in CASES}
    for item in seed_items():
        assert f"{item.title}\n{item.excerpt}" in texts, item.title


def test_the_seeds_dates_are_extracted_exactly() -> None:
    """Issue 6's 'done when': the first item's 公示/生效 and the two consultation results' windows."""
    items = seed_items()
    first = extract(items[0].excerpt, title=items[0].title)
    assert (first.notice_date, first.effective_date) == (date(2025, 2, 10), date(2025, 2, 18))
    second = extract(items[1].excerpt, title=items[1].title)
    assert (second.comment_start, second.comment_end) == (date(2025, 1, 16), date(2025, 1, 23))
    fourth = extract(items[3].excerpt, title=items[3].title)
    assert (fourth.comment_start, fourth.comment_end) == (date(2025, 1, 15), date(2025, 1, 22))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_corpus_text(case: accuracy.Case) -> None:
    """Every field of every corpus text is what a careful reader would write down."""
    wrong = accuracy.misses(case)
    assert not wrong, "\n".join(
        f"{name}: expected {exp!r}, got {got!r}" for name, (exp, got) in wrong.items()
    )


def test_accuracy_report(capsys: pytest.CaptureFixture[str]) -> None:
    """Per-field accuracy over each set; printed with -s."""
    table = accuracy.table()
    with capsys.disabled():
        print("\n" + table)
    for field_name in FIELDS:
        assert f"| {field_name} |" in table
