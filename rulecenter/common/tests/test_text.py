import pytest

from rulecenter.common.text import display_width, excerpt, markdown_to_html, markdown_to_text


def test_chinese_characters_count_two_columns() -> None:
    assert display_width("规则abc") == 7
    assert display_width("ＡＢ") == 4  # fullwidth Latin


def test_short_text_is_kept_whole_without_ellipsis() -> None:
    assert excerpt("本次更新于2025年2月10日公示。", 300) == "本次更新于2025年2月10日公示。"


def test_long_text_is_cut_within_width_and_never_splits_a_character() -> None:
    text = "规" * 200
    cut = excerpt(text, 301)
    assert cut.endswith("…")
    assert display_width(cut) <= 301
    assert cut == "规" * 150 + "…"  # 300 columns of text and a one-column ellipsis


def test_a_url_that_would_be_cut_is_left_out_whole() -> None:
    text = "具体内容如下：https://rulechannel.1688.com/?type=detail&ruleId=20004608&cId=3045 以及更多说明" * 3
    cut = excerpt(text, 60)
    assert cut == "具体内容如下…"


def test_whitespace_is_collapsed() -> None:
    assert excerpt("第一行\n\n  第二行", 300) == "第一行 第二行"


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>正文",
        '<a href="javascript:alert(1)">链接</a>',
        '<img src="x" onerror="alert(1)">',
        "<iframe src='https://evil.example'></iframe>",
    ],
)
def test_markdown_rendering_drops_unsafe_html(source: str) -> None:
    rendered = markdown_to_html(source)
    assert "script" not in rendered
    assert "javascript:" not in rendered
    assert "onerror" not in rendered
    assert "iframe" not in rendered


def test_bare_urls_become_links_with_nofollow() -> None:
    rendered = markdown_to_html("详见 https://rulechannel.1688.com/?ruleId=1")
    assert 'href="https://rulechannel.1688.com/?ruleId=1"' in rendered
    assert "nofollow" in rendered


def test_markdown_text_keeps_seed_text_verbatim() -> None:
    seed = "重点一:《反诈法》对“诈骗”的解读……https://rulechannel.1688.com/?spm=a2638g.u_0_1001.frametopbar.4&type=detail"
    assert markdown_to_text(seed) == seed
