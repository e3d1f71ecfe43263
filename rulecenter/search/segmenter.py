"""Chinese word segmentation for the index and for queries: rjieba with the project's domain dictionary.

Text is folded first (NFKC: full-width ＳＫＵ４８ becomes SKU48, the ideographic space a space; control
characters and lone surrogates are dropped), punctuation becomes spaces, and rjieba cuts the rest without
its HMM guesser, so the same characters are cut the same way in a document and in a query. Documents are
cut in search mode (意见征集 also yields 意见 and 征集, 中华人民共和国 yields 人民, 共和国 …) and joined
with spaces; tantivy splits on whitespace and lowercases with the analyzer `ANALYZER_NAME`, which must be
registered on every `tantivy.Index` a process opens (tantivy does not store custom analyzers).
"""

import re
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path

import rjieba
import tantivy

DICTIONARY = Path(__file__).parent / "dictionary.txt"
ANALYZER_NAME = "rc_words"
# Longer tokens are noise (a URL's query string, a base64 blob); a query cannot usefully ask for them.
MAX_TOKEN_CHARS = 40

# C0/C1 controls (tab and newlines are kept as spaces below), zero-width and bidi marks, lone surrogates.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\ud800-\udfff]"
)
_NON_WORD = re.compile(r"[^\w]+")
_WORD_CHAR = re.compile(r"\w")
# Latin letters mixed with digits (iPhone15, 48h): also searchable by their letter and digit runs.
_MIXED = re.compile(r"(?<!\S)(?:[A-Za-z]+[0-9]|[0-9]+[A-Za-z])[A-Za-z0-9]*(?!\S)")
_RUNS = re.compile(r"[A-Za-z]{2,}|\d+")
# Every byte to "a" (ASCII letter), "0" (ASCII digit) or " ": a text holds a letter-digit word only if its
# UTF-8 bytes so mapped contain "a0" or "0a" — two C passes instead of a regex walking every character.
_LETTER_DIGIT_BYTES = bytes(
    ord("a") if chr(code).isascii() and chr(code).isalpha() else ord("0") if chr(code) in "0123456789" else 32
    for code in range(256)
)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

_lock = threading.Lock()
_jieba: rjieba.Jieba | None = None


def dictionary_words() -> tuple[str, ...]:
    return _dictionary_words()


@lru_cache(maxsize=1)
def _dictionary_words() -> tuple[str, ...]:
    words: list[str] = []
    for line in DICTIONARY.read_text(encoding="utf-8").splitlines():
        word = line.split("#", 1)[0].strip()
        if word:
            words.append(fold(word))
    return tuple(dict.fromkeys(words))


def _segmenter() -> rjieba.Jieba:
    global _jieba
    if _jieba is None:
        with _lock:
            if _jieba is None:
                jieba = rjieba.Jieba()
                for word in _dictionary_words():
                    jieba.add_word(word, None, None)
                _jieba = jieba
    return _jieba


@lru_cache(maxsize=1)
def analyzer() -> tantivy.TextAnalyzer:
    """Whitespace split, lowercase, drop over-long tokens: what the index and the queries both run."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace())
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.remove_long(MAX_TOKEN_CHARS * 4))  # bytes: four per character at most
        .build()
    )


def register(index: tantivy.Index) -> tantivy.Index:
    index.register_tokenizer(ANALYZER_NAME, analyzer())
    return index


def clean(text: str) -> str:
    """The text without invisible characters and lone surrogates (which no encoder accepts)."""
    return _INVISIBLE.sub("", text)


@lru_cache(maxsize=1)
def _fold_table() -> dict[int, str]:
    """Each character of the Basic Multilingual Plane whose NFKC form differs, mapped to that form."""
    table: dict[int, str] = {}
    for code in range(0xA0, 0x10000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        folded = unicodedata.normalize("NFKC", char)
        if folded != char:
            table[code] = folded
    return table


def _folded_codes() -> list[int]:
    """The characters whose folded form holds a letter or digit; punctuation becomes a space anyway."""
    return sorted(code for code, folded in _fold_table().items() if _WORD_CHAR.search(folded))


@lru_cache(maxsize=1)
def _needs_folding() -> re.Pattern[str]:
    return re.compile("[" + "".join(re.escape(chr(code)) for code in _folded_codes()) + "]")


@lru_cache(maxsize=1)
def _needs_cleaning_or_folding() -> re.Pattern[str]:
    """An invisible character or one to fold: one scan that most texts pass untouched."""
    invisible = _INVISIBLE.pattern[1:-1]
    return re.compile("[" + invisible + "".join(re.escape(chr(code)) for code in _folded_codes()) + "]")


def fold(text: str) -> str:
    """Full-width to half-width and compatibility forms to their plain letters (NFKC), invisibles dropped.

    Character by character through a table, and only when a character that matters is present (most
    Chinese text has none: its full-width punctuation separates words either way); the rare sequences
    NFKC composes across characters are left as they are.
    """
    if not _needs_cleaning_or_folding().search(text):
        return text
    text = clean(text)
    if text.isascii() or not _needs_folding().search(text):
        return text
    return text.translate(_fold_table())


def _words_text(text: str) -> str:
    return _NON_WORD.sub(" ", fold(text))


def _with_runs(joined: str) -> str:
    mapped = joined.encode("utf-8", "surrogatepass").translate(_LETTER_DIGIT_BYTES)
    if b"a0" not in mapped and b"0a" not in mapped:
        return joined
    return _MIXED.sub(lambda m: " ".join([*_RUNS.findall(m.group(0)), m.group(0)]), joined)


def index_text(text: str) -> str:
    """A document's text as the index takes it: search-mode words separated by spaces."""
    return _with_runs(" ".join(_segmenter().cut_for_search(_words_text(text), hmm=False)))


def tokens(text: str) -> list[str]:
    """The index's tokens for `text`, in order (what a phrase query must match)."""
    return list(analyzer().analyze(index_text(text)))


def words(text: str) -> list[str]:
    """The words of a query, each once, in order: precise mode, lowercased."""
    cut = " ".join(_segmenter().cut(_words_text(text), hmm=False))
    return list(dict.fromkeys(analyzer().analyze(cut)))


def word_parts(word: str) -> list[str]:
    """The shorter dictionary words that together cover a Chinese `word`, or [] when they do not.

    A query for 管理规范 should also find a text where the segmenter cut 管理 / 规范 in its context.
    """
    if len(word) <= 2 or not _CJK.search(word):
        return []
    return list(_word_parts(word))


# A search asks twice per word (its highlights, its query), and the same words come back search after search.
@lru_cache(maxsize=4096)
def _word_parts(word: str) -> tuple[str, ...]:
    spans = [(start, end) for piece, start, end in _segmenter().tokenize(word, mode="search", hmm=False)]
    parts = [word[start:end] for start, end in spans if end - start < len(word)]
    covered = {index for start, end in spans if end - start < len(word) for index in range(start, end)}
    if len(covered) < len(word):
        return ()
    return tuple(dict.fromkeys(analyzer().analyze(" ".join(parts))))
