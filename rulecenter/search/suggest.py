"""“Did you mean”: for a query that found nothing, the same query with one word swapped for a close word
of the domain dictionary (禁限卖 → 禁限售, 意见证集 → 意见征集), offered only if that query finds something.
"""

from collections.abc import Callable

from . import segmenter

MAX_QUERY_CHARS = 30
MAX_TRIES = 3


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def candidates(text: str) -> list[str]:
    """Queries made from `text` by replacing one stretch with a close dictionary word, closest first."""
    folded = segmenter.fold(text).lower().strip()
    if not 2 <= len(folded) <= MAX_QUERY_CHARS:
        return []
    found: dict[str, tuple[int, int]] = {}
    present = set(folded)
    for word in segmenter.dictionary_words():
        word = word.lower()
        size = len(word)
        allowed = 1 if size <= 4 else 2
        letters = set(word)
        # Most words share too few characters with the query to be one edit away anywhere in it.
        if size < 2 or len(letters & present) < size - allowed or word in folded:
            continue
        for width in range(max(2, size - allowed), size + allowed + 1):
            for start in range(0, len(folded) - width + 1):
                window = folded[start : start + width]
                if len(letters & set(window)) < size - allowed:
                    continue
                distance = edit_distance(window, word)
                if 0 < distance <= allowed and distance < size:
                    candidate = " ".join((folded[:start] + word + folded[start + width :]).split())
                    rank = (distance, -size)
                    if candidate not in found or rank < found[candidate]:
                        found[candidate] = rank
    return sorted(found, key=lambda c: (found[c], c))


def suggestion(text: str, finds_something: Callable[[str], bool]) -> str | None:
    for candidate in candidates(text)[:MAX_TRIES]:
        if finds_something(candidate):
            return candidate
    return None
