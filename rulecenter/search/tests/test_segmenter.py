"""The segmenter: domain words stay whole, full-width text folds, numbers and Latin words are searchable."""

import pytest

from rulecenter.search import segmenter


@pytest.mark.parametrize(
    "word", ["意见征集", "禁限售", "诚信通", "先采后付", "极速收款", "可再评估", "七天无理由", "反诈"]
)
def test_domain_words_are_kept_whole(word: str) -> None:
    """A word of the shipped dictionary is one query word and one index token, whatever surrounds it."""
    assert segmenter.words(word) == [word]
    assert word in segmenter.tokens(f"关于{word}的说明")


def test_search_mode_also_indexes_the_shorter_words_inside() -> None:
    """A document containing 中华人民共和国电子商务法 is found by 共和国, 商务 and (via its parts) 电子商务."""
    tokens = segmenter.tokens("《中华人民共和国电子商务法》第三十四条")
    assert {"中华人民共和国", "共和国", "电子", "商务", "电子商务法"} <= set(tokens)
    assert set(segmenter.word_parts("电子商务")) <= set(tokens)


def test_full_width_letters_and_digits_fold_to_half_width_lowercase() -> None:
    assert segmenter.words("ＳＫＵ") == ["sku"]
    assert segmenter.tokens("付款后４８ｈ内发货") == segmenter.tokens("付款后48H内发货")
    assert "48h" in segmenter.tokens("付款后４８ｈ内发货")


def test_numbers_and_latin_words_are_tokens() -> None:
    """1688, 48h and SKU are searchable; a letter-digit word is also found by its parts."""
    tokens = segmenter.tokens("1688平台要求每个SKU在48h内发货，iPhone15除外")
    assert {"1688", "sku", "48h", "48", "iphone15", "iphone", "15"} <= set(tokens)
    assert segmenter.words("48小时") == ["48", "小时"]


def test_punctuation_separates_words_and_is_never_a_token() -> None:
    assert segmenter.tokens("《规则》，（一）“发货”！") == ["规则", "一", "发货"]
    assert segmenter.words('" * ^ : ( ) - +') == []


def test_control_characters_and_lone_surrogates_are_dropped() -> None:
    assert segmenter.words("发\x00货\u200b\ud800") == ["发货"]
    assert segmenter.clean("a\x07b\udfffc") == "abc"


def test_a_compound_query_word_also_matches_its_parts() -> None:
    """管理规范 cut whole in a query still finds a text where it was cut 管理 / 规范."""
    assert segmenter.word_parts("管理规范") == ["管理", "规范"]
    assert segmenter.word_parts("发货") == []
    assert segmenter.word_parts("sku") == []


def test_the_analyzer_splits_on_whitespace_and_lowercases() -> None:
    assert segmenter.analyzer().analyze("SKU  发货\tAbc") == ["sku", "发货", "abc"]
    assert segmenter.analyzer().analyze("x" * 500) == []


def test_the_dictionary_ships_with_the_project() -> None:
    words = segmenter.dictionary_words()
    assert segmenter.DICTIONARY.is_file()
    assert {"禁限售", "诚信通", "意见征集", "可再评估", "七天无理由"} <= set(words)
