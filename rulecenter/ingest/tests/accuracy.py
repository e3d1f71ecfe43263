"""The extraction corpus: load it, score the extractor field by field, print the table.

Each file of corpus/<set>/ is a header of `field: JSON value` lines, a `---` line, then the announcement's
text (its first line is the title). Fields left out of the header are expected to be null (dates) or
empty (rule_names, links); `source:` says where a text comes from.

    python -m rulecenter.ingest.tests.accuracy          # both sets, per-field accuracy
    python -m rulecenter.ingest.tests.accuracy --misses # and every wrong field
"""

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rulecenter.ingest.extract import FIELDS, extract, iter_fields

CORPUS = Path(__file__).parent / "corpus"
SETS = ("dev", "holdout", "blind")
DEFAULTS: dict[str, Any] = {
    "notice_date": None,
    "effective_date": None,
    "comment_start": None,
    "comment_end": None,
    "rule_names": [],
    "links": [],
}


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    expected: dict[str, Any]


def load(set_name: str) -> list[Case]:
    cases = []
    for path in sorted((CORPUS / set_name).glob("*.txt")):
        header, separator, text = path.read_text(encoding="utf-8").partition("\n---\n")
        assert separator, f"{path.name}: no '---' line between the header and the text"
        expected = dict(DEFAULTS)
        for line in header.splitlines():
            key, _, value = line.partition(":")
            if key != "source":
                expected[key.strip()] = json.loads(value)
        assert set(expected) == set(FIELDS), f"{path.name}: fields {sorted(set(expected) ^ set(FIELDS))}"
        cases.append(Case(name=f"{set_name}/{path.stem}", text=text, expected=expected))
    return cases


def misses(case: Case) -> dict[str, tuple[Any, Any]]:
    """field -> (expected, got) for each field the extractor got wrong."""
    got = dict(iter_fields(extract(case.text)))
    return {name: (case.expected[name], got[name]) for name in FIELDS if case.expected[name] != got[name]}


def accuracy(cases: list[Case]) -> dict[str, float]:
    """Share of texts each field is right for, plus `all` (every field right)."""
    wrong = [misses(case) for case in cases]
    scores = {name: sum(name not in w for w in wrong) / len(cases) for name in FIELDS}
    scores["all"] = sum(not w for w in wrong) / len(cases)
    return scores


def table() -> str:
    """The Markdown table docs/ingest.md shows."""
    loaded = {name: load(name) for name in SETS}
    rows = [
        "| field | " + " | ".join(f"{name} ({len(cases)} texts)" for name, cases in loaded.items()) + " |"
    ]
    rows.append("|---|" + "---:|" * len(loaded))
    scores = {name: accuracy(cases) for name, cases in loaded.items()}
    for field_name in (*FIELDS, "all"):
        cells = []
        for name, cases in loaded.items():
            right = round(scores[name][field_name] * len(cases))
            cells.append(f"{scores[name][field_name]:.1%} ({right}/{len(cases)})")
        rows.append(f"| {field_name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--misses", action="store_true", help="list every wrong field")
    args = parser.parse_args()
    print(table())
    if args.misses:
        for set_name in SETS:
            for case in load(set_name):
                for name, (expected, got) in misses(case).items():
                    print(f"{case.name}: {name}: expected {expected!r}, got {got!r}")


if __name__ == "__main__":
    main()
