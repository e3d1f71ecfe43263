"""Score the listing readers on the corpus under tests/listings/ (issue 16): precision and recall of items,
and of their titles and dates, per set.

An item found counts as the gold item it matches by title (whitespace collapsed, a badge or bullet aside);
a found item matching none is a false positive, a gold item matched by none a miss. Titles: exact among
matched items. Dates: exact among matched items whose gold has a date, and a date found where gold has
none is wrong too.

    .venv/bin/python -m rulecenter.ingest.tests.listing_score            # dev and holdout, per page
"""

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "listings"
_SPACE = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _key(text: str) -> str:
    return re.sub(r"[\s《》“”\"'（）()【】\[\]]", "", text)


@dataclass
class Score:
    gold_items: int = 0
    found_items: int = 0
    matched: int = 0
    titles_exact: int = 0
    dates_gold: int = 0
    dates_right: int = 0
    dates_found_wrong: int = 0
    misses: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    def add(self, other: "Score") -> None:
        for name in (
            "gold_items", "found_items", "matched", "titles_exact", "dates_gold", "dates_right", "dates_found_wrong",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.misses += other.misses
        self.extras += other.extras
        self.wrong += other.wrong

    @property
    def precision(self) -> float:
        return self.matched / self.found_items if self.found_items else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.gold_items if self.gold_items else 1.0

    @property
    def title_accuracy(self) -> float:
        return self.titles_exact / self.matched if self.matched else 1.0

    @property
    def date_recall(self) -> float:
        return self.dates_right / self.dates_gold if self.dates_gold else 1.0


def _match(found_key: str, gold_keys: list[str]) -> int | None:
    for index, gold in enumerate(gold_keys):
        if found_key == gold:
            return index
    for index, gold in enumerate(gold_keys):  # a title cut or padded by a few characters still is that item
        if (
            found_key
            and gold
            and (found_key in gold or gold in found_key)
            and min(len(found_key), len(gold)) >= 6
        ):
            return index
    return None


def score_page(page: Path) -> Score:
    from rulecenter.ingest.listing import ListingError, decode
    from rulecenter.ingest.readers import read_page

    gold = json.loads(page.with_suffix(".json").read_text(encoding="utf-8"))["items"]
    text = decode(page.read_bytes(), name=page.name)
    try:
        found = list(read_page(text, name=page.name, kind="html" if page.suffix == ".html" else "text").items)
    except ListingError:
        found = []
    score = Score(gold_items=len(gold), found_items=len(found))
    gold_keys = [_key(item["title"]) for item in gold]
    used: set[int] = set()
    for item in found:
        index = _match(_key(item.title), gold_keys)
        if index is None or index in used:
            score.extras.append(f"{page.name}: {item.title}")
            continue
        used.add(index)
        score.matched += 1
        expected = gold[index]
        if _norm(item.title) == _norm(expected["title"]):
            score.titles_exact += 1
        else:
            score.wrong.append(f"{page.name}: title {item.title!r} ≠ {expected['title']!r}")
        got = item.date.isoformat() if item.date else None
        if expected.get("date"):
            score.dates_gold += 1
            if got == expected["date"]:
                score.dates_right += 1
            else:
                score.wrong.append(f"{page.name}: date {got} ≠ {expected['date']} ({expected['title']})")
        elif got is not None:
            score.dates_found_wrong += 1
            score.wrong.append(f"{page.name}: date {got} where none ({expected['title']})")
    score.misses += [f"{page.name}: {gold[i]['title']}" for i in range(len(gold)) if i not in used]
    return score


def score_set(name: str) -> Score:
    total = Score()
    for page in sorted((CORPUS / name).glob("*")):
        if page.suffix in (".txt", ".html"):
            total.add(score_page(page))
    return total


def main() -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    django.setup()
    for name in sys.argv[1:] or ["dev", "holdout"]:
        score = score_set(name)
        print(
            f"{name}: items P {score.precision:.2f} R {score.recall:.2f} ({score.matched}/{score.gold_items}, "
            f"{score.found_items} found) · titles exact {score.title_accuracy:.2f} · dates {score.date_recall:.2f}"
            f" ({score.dates_right}/{score.dates_gold}, {score.dates_found_wrong} where none)"
        )
        for line in score.misses:
            print("  missed", line)
        for line in score.extras:
            print("  extra ", line)
        for line in score.wrong:
            print("  wrong ", line)


if __name__ == "__main__":
    main()
