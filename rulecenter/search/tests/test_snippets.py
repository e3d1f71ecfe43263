"""What a result shows of its text: the matched words marked, everything else escaped (issue 17 keeps it so).

A query's words are found with `str.find` when that finds what the regular expression would (no quoted
phrase), and a page's titles are marked in one pass: these tests hold each way to what a reader sees.
"""

import pytest

from rulecenter.search import snippets
from rulecenter.search.query import parse

LONG_BODY = "前言。" * 40 + "本规则所称虚假发货，是指商家未按约定发货。" + "后记。" * 40


def marked(html: str) -> list[str]:
    """The words a reader sees highlighted."""
    return [part.split("</mark>", 1)[0] for part in html.split("<mark>")[1:]]


def test_a_latin_word_is_marked_in_any_case_and_width() -> None:
    """sku finds SKU, Sku and full-width ＳＫＵ in the text, as the index folded them; 48h finds ４８ｈ."""
    terms = parse("sku 48h").highlights
    html = snippets.snippet("每个 SKU、Sku 和 ＳＫＵ 都须在 ４８ｈ 内发货。", terms)
    assert marked(html) == ["SKU", "Sku", "ＳＫＵ", "４８ｈ"]


def test_the_longest_word_at_a_place_is_marked_whole() -> None:
    """虚假发货 is one mark, not 虚假 and 发货 side by side; a later 发货 on its own is marked too."""
    terms = parse("虚假发货").highlights
    assert set(terms) >= {"虚假发货", "虚假", "发货"}
    html = snippets.snippet(LONG_BODY, terms)
    assert marked(html) == ["虚假发货", "发货"]
    assert html.startswith("…")
    assert html.endswith("…")


def test_a_quoted_phrase_is_marked_across_punctuation() -> None:
    terms = parse('"虚假 发货"').highlights
    assert marked(snippets.snippet("认定为虚假，发货延迟", terms)) == ["虚假，发货"]


def test_words_in_a_text_to_escape_are_marked_and_the_rest_escaped() -> None:
    terms = parse("发货").highlights
    html = snippets.snippet('<script>alert("发货")</script> & 发货', terms)
    assert html == "&lt;script&gt;alert(&#34;<mark>发货</mark>&#34;)&lt;/script&gt; &amp; <mark>发货</mark>"


@pytest.mark.parametrize(
    "query",
    ["发货", "虚假发货 规则", "sku", "SKU 发货", '"虚假 发货"', "a"],
    ids=["word", "words", "latin", "mixed", "phrase", "too-short"],
)
def test_a_page_of_titles_is_marked_as_each_title_alone(query: str) -> None:
    """Marking a page's titles together shows each title exactly as marking it alone would."""
    titles = [
        "《1688商家发货行为管理规范》的更新公告",
        "虚假发货的认定标准",
        "<b>发货</b> 提醒 & 说明",  # to escape: marked one by one
        "SKU 上架规范（ＳＫＵ）",
        "含有 Ꙋ 字的标题：发货",  # holds the letter titles are joined with
        "",
        "与查询无关",
    ]
    terms = parse(query).highlights
    assert snippets.mark_all_of(titles, terms) == [snippets.mark_all(title, terms) for title in titles]
    clean_titles = [title for title in titles if "<" not in title and "Ꙋ" not in title]
    assert snippets.mark_all_of(clean_titles, terms) == [snippets.mark_all(t, terms) for t in clean_titles]


def test_a_title_shows_every_match_marked() -> None:
    terms = parse("发货 规范").highlights
    assert snippets.mark_all_of(["《1688商家发货行为管理规范》发货"], terms) == [
        "《1688商家<mark>发货</mark>行为管理<mark>规范</mark>》<mark>发货</mark>"
    ]
