import re

import pytest

from rulecenter.rules.clauses import Clause, chinese_numeral_to_int, clause_anchor_html_id, parse_clauses

# Illustrative sample text written for the tests; not a real platform rule.
SHIPPING_RULE = """\
# 发货行为管理规范

（示例文本，仅用于演示，不是平台现行规则。）

## 第一章 总则

**第一条** 为规范卖家发货行为，保障买家合法权益，根据《1688平台交易规则》，制定本规范。

**第二条** 本规范适用于在1688平台发布商品并与买家达成交易的全部卖家。

## 第二章 发货要求

**第三条【发货时限】** 卖家应当在买家付款后按照约定的时间发货；未约定的，应当在买家付款后48小时内发货。

定制类商品的发货时间以商品页面展示的时间为准。

**第四条【延迟发货】** 卖家未按照约定时间发货的，构成延迟发货，平台按以下规则处理：

1. 买家可以申请延迟发货赔付，赔付金额为订单金额的10%，最高不超过500元；
2. 延迟发货超过7天的，买家可以申请全额退款；
3. 卖家因不可抗力延迟发货的，可以在发货时限届满前提交证明材料申请免责。

**第五条【虚假发货】** 卖家填写的物流单号无物流信息或与实际发货不符的，构成虚假发货，平台有权：

（一）要求卖家在3日内重新发货；

（二）对卖家扣除诚信分2分。
"""


def anchors(text: str) -> list[str]:
    return [clause.anchor for clause in parse_clauses(text)]


def by_anchor(text: str) -> dict[str, Clause]:
    return {clause.anchor: clause for clause in parse_clauses(text)}


def chinese(n: int) -> str:
    """A reference writer for 1–99, the way rule texts number their articles."""
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")


@pytest.mark.parametrize("n", range(1, 100))
def test_every_chinese_numeral_up_to_ninety_nine_converts(n: int) -> None:
    assert chinese_numeral_to_int(chinese(n)) == n


@pytest.mark.parametrize(
    ("numeral", "value"),
    [
        ("一", 1),
        ("十", 10),
        ("十一", 11),
        ("二十", 20),
        ("二十一", 21),
        ("九十九", 99),
        ("一百", 100),
        ("一百零五", 105),
        ("一百一十", 110),
        ("一十二", 12),
        ("两", 2),
        ("两百", 200),
        ("零", 0),
        ("〇", 0),
        ("一〇", 10),
        ("一千零一", 1001),
        ("12", 12),
        ("１２", 12),
    ],
)
def test_chinese_and_arabic_numerals_convert(numeral: str, value: int) -> None:
    assert chinese_numeral_to_int(numeral) == value


@pytest.mark.parametrize("numeral", ["", "第一", "abc", "一a"])
def test_a_non_numeral_is_refused(numeral: str) -> None:
    with pytest.raises(ValueError, match="numeral"):
        chinese_numeral_to_int(numeral)


@pytest.mark.parametrize("text", ["", "\n\n", "   \n\u3000\n"])
def test_an_empty_text_has_no_clauses(text: str) -> None:
    assert parse_clauses(text) == []


def test_the_sample_rule_parses_into_chapters_articles_and_items() -> None:
    assert anchors(SHIPPING_RULE) == [
        "preamble-1",
        "preamble-2",
        "chapter-1",
        "article-1",
        "article-2",
        "chapter-2",
        "article-3",
        "article-4",
        "article-4-item-1",
        "article-4-item-2",
        "article-4-item-3",
        "article-5",
        "article-5-sub-1",
        "article-5-sub-2",
    ]


def test_clauses_carry_label_title_level_and_text_without_the_number() -> None:
    clauses = by_anchor(SHIPPING_RULE)

    assert clauses["preamble-1"].title == "发货行为管理规范"
    assert clauses["preamble-2"].text == "（示例文本，仅用于演示，不是平台现行规则。）"

    chapter = clauses["chapter-2"]
    assert (chapter.label, chapter.title, chapter.text, chapter.level) == ("第二章", "发货要求", "", 0)

    article = clauses["article-3"]
    assert (article.label, article.title, article.level, article.number) == ("第三条", "【发货时限】", 1, 3)
    assert article.text.startswith("卖家应当在买家付款后")
    assert "第三条" not in article.text
    assert "**" not in article.text

    item = clauses["article-4-item-1"]
    assert (item.label, item.level, item.kind) == ("1.", 2, "item")
    assert item.text == "买家可以申请延迟发货赔付，赔付金额为订单金额的10%，最高不超过500元；"

    sub = clauses["article-5-sub-2"]
    assert (sub.label, sub.text, sub.level) == ("（二）", "对卖家扣除诚信分2分。", 2)


def test_an_unnumbered_paragraph_belongs_to_the_clause_before_it_with_its_line_break() -> None:
    article = by_anchor(SHIPPING_RULE)["article-3"]
    assert article.text.endswith("48小时内发货。\n\n定制类商品的发货时间以商品页面展示的时间为准。")
    assert article.content == f"【发货时限】\n{article.text}"


def test_an_article_s_text_does_not_repeat_its_items() -> None:
    article = by_anchor(SHIPPING_RULE)["article-4"]
    assert article.text == "卖家未按照约定时间发货的，构成延迟发货，平台按以下规则处理："


@pytest.mark.parametrize(
    ("line", "label", "title", "text"),
    [
        ("第十二条 卖家应当如实描述商品。", "第十二条", "", "卖家应当如实描述商品。"),
        ("第十二条卖家应当如实描述商品。", "第十二条", "", "卖家应当如实描述商品。"),
        ("第十二条\u3000卖家应当如实描述商品。", "第十二条", "", "卖家应当如实描述商品。"),
        ("第12条 卖家应当如实描述商品。", "第12条", "", "卖家应当如实描述商品。"),
        ("**第十二条** 卖家应当如实描述商品。", "第十二条", "", "卖家应当如实描述商品。"),
        ("**第十二条**：卖家应当如实描述商品。", "第十二条", "", "卖家应当如实描述商品。"),
        ("**第十二条 如实描述** 卖家应当如实描述商品。", "第十二条", "如实描述", "卖家应当如实描述商品。"),
        ("**第十二条 如实描述**", "第十二条", "如实描述", ""),
        ("**第十二条 卖家应当如实描述商品。**", "第十二条", "", "卖家应当如实描述商品。"),
        ("## 第十二条 如实描述", "第十二条", "如实描述", ""),
        ("### **第十二条** 如实描述", "第十二条", "如实描述", ""),
        ("#### 第十二条", "第十二条", "", ""),
    ],
)
def test_plain_bold_and_heading_articles_parse(line: str, label: str, title: str, text: str) -> None:
    [clause] = parse_clauses(line)
    assert (clause.anchor, clause.label, clause.title, clause.text) == ("article-12", label, title, text)
    assert (clause.kind, clause.level, clause.number) == ("article", 1, 12)


def test_a_heading_article_s_body_follows_on_the_next_lines() -> None:
    [clause] = parse_clauses("## 第三条 发货时限\n\n卖家应当在48小时内发货。\n节假日顺延。")
    assert clause.title == "发货时限"
    assert clause.text == "卖家应当在48小时内发货。\n节假日顺延。"


def test_chapters_are_headings_with_a_title_in_any_form() -> None:
    text = (
        "第一章 总则\n\n第一条 为了规范。\n\n## 第二章　发货\n\n### 第一节 一般规定\n\n第二条 卖家应当发货。"
    )
    clauses = parse_clauses(text)
    assert [(c.anchor, c.title, c.level) for c in clauses] == [
        ("chapter-1", "总则", 0),
        ("article-1", "", 1),
        ("chapter-2", "发货", 0),
        ("chapter-2-part-1", "一般规定", 0),
        ("article-2", "", 1),
    ]


def test_sections_and_their_sub_sections_are_anchored_inside_each_other() -> None:
    """An announcement-style rule: 一、 sections with （一） sub-sections and 1. items under those."""
    text = """\
为提升买家购物体验，平台对发货规则作如下调整：

一、调整范围

（一）现货商品；
（二）定制商品；
(三) 预售商品。

二、调整内容

（一）发货时限调整为24小时：
1. 现货商品自付款时起计算；
2、预售商品自约定发货日起计算。
"""
    clauses = parse_clauses(text)
    assert [(c.anchor, c.label, c.level) for c in clauses] == [
        ("preamble-1", "", 1),
        ("section-1", "一、", 1),
        ("section-1-sub-1", "（一）", 2),
        ("section-1-sub-2", "（二）", 2),
        ("section-1-sub-3", "(三)", 2),
        ("section-2", "二、", 1),
        ("section-2-sub-1", "（一）", 2),
        ("section-2-sub-1-item-1", "1.", 3),
        ("section-2-sub-1-item-2", "2、", 3),
    ]
    assert clauses[1].text == "调整范围"
    assert clauses[4].text == "预售商品。"


def test_a_realistic_three_article_rule_with_items_parses_to_the_expected_anchors() -> None:
    text = """\
**第一条** 为规范商品信息发布，制定本规则。

**第二条** 卖家发布商品时，应当遵守以下要求：

（1）商品标题与商品实际相符；

（2）商品图片为实物拍摄；

(3) 价格真实，不得虚构原价。

**第三条** 违反本规则第二条的，平台按以下方式处理：

1、首次违规的，删除商品并警告；
2、再次违规的，扣除诚信分4分；
3、情节严重的，限制发布商品7天。
"""
    assert anchors(text) == [
        "article-1",
        "article-2",
        "article-2-item-1",
        "article-2-item-2",
        "article-2-item-3",
        "article-3",
        "article-3-item-1",
        "article-3-item-2",
        "article-3-item-3",
    ]
    assert by_anchor(text)["article-2-item-3"].label == "(3)"


def test_items_are_anchored_inside_the_article_they_follow_and_restart_with_the_next() -> None:
    text = "第一条 总述：\n1. 甲；\n2. 乙。\n第二条 分述：\n1. 丙。"
    assert anchors(text) == [
        "article-1",
        "article-1-item-1",
        "article-1-item-2",
        "article-2",
        "article-2-item-1",
    ]


def test_numbers_inside_sentences_are_not_items() -> None:
    text = "第一条 赔付标准如下：\n1.5倍运费由卖家承担。\n2025年2月18日起施行。\n10.5%的订单除外。"
    [clause] = parse_clauses(text)
    assert clause.text.splitlines()[1:] == [
        "1.5倍运费由卖家承担。",
        "2025年2月18日起施行。",
        "10.5%的订单除外。",
    ]


def test_numbering_inside_a_code_block_is_text() -> None:
    text = "第一条 接口示例：\n\n```\n第二条 不是条款\n1. 也不是\n```"
    [clause] = parse_clauses(text)
    assert clause.text == "接口示例：\n\n```\n第二条 不是条款\n1. 也不是\n```"


def test_duplicate_numbering_gets_unique_anchors() -> None:
    text = "第三条 甲。\n1. 子项。\n第三条 乙。\n1. 子项。\n第三条 丙。"
    assert anchors(text) == [
        "article-3",
        "article-3-item-1",
        "article-3-2",
        "article-3-2-item-1",
        "article-3-3",
    ]


def test_preamble_paragraphs_are_numbered_in_order() -> None:
    text = "# 规则标题\n\n第一段说明，\n接着写。\n\n第二段说明。\n\n第一条 正文。"
    clauses = parse_clauses(text)
    assert [(c.anchor, c.title, c.text) for c in clauses] == [
        ("preamble-1", "规则标题", ""),
        ("preamble-2", "", "第一段说明，\n接着写。"),
        ("preamble-3", "", "第二段说明。"),
        ("article-1", "", "正文。"),
    ]


def test_windows_line_endings_parse_like_unix_ones() -> None:
    assert parse_clauses(SHIPPING_RULE.replace("\n", "\r\n")) == parse_clauses(SHIPPING_RULE)


def test_anchors_are_url_safe_ascii() -> None:
    text = SHIPPING_RULE + "\n第一百零五条 附则。\n① 甲\n② 乙\n第1条 重复。"
    found = anchors(text)
    assert all(re.fullmatch(r"[a-z]+(-[a-z0-9]+)*", anchor) for anchor in found)
    assert len(set(found)) == len(found)
    assert found[-4:] == ["article-105", "article-105-point-1", "article-105-point-2", "article-1-2"]


def test_clause_html_id_is_prefixed() -> None:
    assert clause_anchor_html_id("article-12") == "clause-article-12"
