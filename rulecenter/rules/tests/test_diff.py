import html
import itertools
import re
import time

import pytest

from rulecenter.rules.diff import (
    CHAR_DIFF_MAX_CHARS,
    ClauseDiff,
    DiffOp,
    VersionDiff,
    char_diff,
    diff_versions,
    inline_html,
    side_by_side_html,
)

# Illustrative sample texts written for the tests; not a real platform rule.
OLD = """\
# 发货行为管理规范

## 第一章 总则

**第一条** 为规范卖家发货行为，保障买家合法权益，制定本规范。

**第二条** 本规范适用于在1688平台发布商品并与买家达成交易的全部卖家。

## 第二章 发货要求

**第三条【发货时限】** 卖家应当在买家付款后48小时内发货。

**第四条【延迟发货】** 卖家未按照约定时间发货的，平台按以下规则处理：

1. 买家可以申请延迟发货赔付，赔付金额为订单金额的10%，最高不超过500元；
2. 延迟发货超过7天的，买家可以申请全额退款；
3. 卖家因不可抗力延迟发货的，可以申请免责。

**第五条【虚假发货】** 卖家填写的物流单号无物流信息的，构成虚假发货。
"""

NEW = """\
# 发货行为管理规范

## 第一章 总则

**第一条** 为规范卖家发货行为，保障买家合法权益，制定本规范。

**第二条** 本规范适用于在1688平台发布商品并与买家达成交易的全部卖家。

## 第二章 发货要求

**第三条【发货时限】** 卖家应当在买家付款后24小时内发货。

**第四条【延迟发货】** 卖家未按照约定时间发货的，平台按以下规则处理：

1. 买家可以申请延迟发货赔付，赔付金额为订单金额的30%，最高不超过500元；
2. 延迟发货超过7天的，买家可以申请全额退款。

**第五条【虚假发货】** 卖家填写的物流单号无物流信息的，构成虚假发货。

**第六条【生效】** 本规范自2025年2月18日起生效。
"""


@pytest.fixture(scope="module")
def version_diff() -> VersionDiff:
    return diff_versions(OLD, NEW)


def clause(version_diff: VersionDiff, anchor: str) -> ClauseDiff:
    [found] = [c for c in version_diff.clauses if c.anchor == anchor]
    return found


def changed_ops(clause_diff: ClauseDiff) -> list[DiffOp]:
    return [op for op in clause_diff.ops if op.op != "equal"]


def test_a_changed_penalty_shows_exactly_the_changed_digit_in_its_item(version_diff: VersionDiff) -> None:
    item = clause(version_diff, "article-4-item-1")
    assert item.status == "changed"
    assert item.label == "1."
    assert changed_ops(item) == [("delete", "1"), ("insert", "3")]
    assert item.ops == (
        ("equal", "买家可以申请延迟发货赔付，赔付金额为订单金额的"),
        ("delete", "1"),
        ("insert", "3"),
        ("equal", "0%，最高不超过500元；"),
    )
    assert inline_html(item) == (
        "买家可以申请延迟发货赔付，赔付金额为订单金额的"
        '<del class="diff-del">1</del><ins class="diff-ins">3</ins>0%，最高不超过500元；'
    )


def test_a_shortened_time_limit_reads_as_one_replacement(version_diff: VersionDiff) -> None:
    """48 → 24 shares the 4; it is shown as 48 deleted and 24 inserted, not as digit fragments."""
    article = clause(version_diff, "article-3")
    assert article.status == "changed"
    assert changed_ops(article) == [("delete", "48"), ("insert", "24")]
    assert article.old_text == "【发货时限】\n卖家应当在买家付款后48小时内发货。"
    assert article.new_text == "【发货时限】\n卖家应当在买家付款后24小时内发货。"


def test_an_added_article_is_added_with_all_its_text_inserted(version_diff: VersionDiff) -> None:
    article = clause(version_diff, "article-6")
    assert article.status == "added"
    assert (article.label, article.title, article.old, article.old_text) == ("第六条", "【生效】", None, "")
    assert article.ops == (("insert", "【生效】\n本规范自2025年2月18日起生效。"),)


def test_a_removed_item_is_removed_and_stays_where_it_was(version_diff: VersionDiff) -> None:
    item = clause(version_diff, "article-4-item-3")
    assert item.status == "removed"
    assert (item.label, item.new, item.new_text) == ("3.", None, "")
    assert item.ops == (("delete", "卖家因不可抗力延迟发货的，可以申请免责。"),)
    order = [c.anchor for c in version_diff.clauses]
    assert order.index("article-4-item-2") < order.index("article-4-item-3") < order.index("article-5")


def test_a_changed_punctuation_mark_is_a_change(version_diff: VersionDiff) -> None:
    item = clause(version_diff, "article-4-item-2")
    assert item.status == "changed"
    assert changed_ops(item) == [("delete", "；"), ("insert", "。")]


def test_untouched_clauses_are_unchanged(version_diff: VersionDiff) -> None:
    for anchor in (
        "preamble-1",
        "chapter-1",
        "article-1",
        "article-2",
        "chapter-2",
        "article-4",
        "article-5",
    ):
        unchanged = clause(version_diff, anchor)
        assert unchanged.status == "unchanged", anchor
        assert unchanged.ops == (("equal", unchanged.new_text),)
        assert unchanged.old_text == unchanged.new_text


def test_the_diff_keeps_the_new_order_and_counts_each_status(version_diff: VersionDiff) -> None:
    assert [c.anchor for c in version_diff.clauses] == [
        "preamble-1",
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
        "article-6",
    ]
    counts = (version_diff.added, version_diff.removed, version_diff.changed, version_diff.unchanged)
    assert counts == (1, 1, 3, 7)
    assert version_diff.moved == 0
    assert version_diff.has_changes
    assert [c.anchor for c in version_diff.changes] == [
        "article-3",
        "article-4-item-1",
        "article-4-item-2",
        "article-4-item-3",
        "article-6",
    ]


def test_identical_versions_have_no_changes() -> None:
    same = diff_versions(OLD, OLD)
    assert not same.has_changes
    assert same.unchanged == len(same.clauses) == 11
    assert same.changes == ()


def test_a_renamed_chapter_is_changed() -> None:
    renamed = diff_versions("## 第一章 总则\n\n第一条 甲。", "## 第一章 一般规定\n\n第一条 甲。")
    chapter = renamed.clauses[0]
    assert (chapter.anchor, chapter.status) == ("chapter-1", "changed")
    assert changed_ops(chapter) == [("delete", "总则"), ("insert", "一般规定")]


def test_a_clause_whose_wording_moved_to_a_new_anchor_is_moved() -> None:
    old = "一、适用范围\n（一）现货商品；\n（二）定制商品。\n二、例外"
    new = "一、适用范围\n（一）现货商品。\n二、例外\n（一）定制商品。"
    moved_diff = diff_versions(old, new)
    statuses = {c.anchor: c.status for c in moved_diff.clauses}
    assert statuses == {
        "section-1": "unchanged",
        "section-1-sub-1": "changed",
        "section-2": "unchanged",
        "section-2-sub-1": "moved",
    }
    moved = moved_diff.clauses[-1]
    assert (moved.old_anchor, moved.anchor) == ("section-1-sub-2", "section-2-sub-1")
    assert moved.ops == (("equal", "定制商品。"),)
    assert moved_diff.moved == 1
    assert moved_diff.has_changes


def test_against_an_empty_text_everything_is_added_or_removed() -> None:
    added = diff_versions("", OLD)
    assert added.added == len(added.clauses) == 11
    removed = diff_versions(OLD, "")
    assert removed.removed == len(removed.clauses) == 11
    assert [c.anchor for c in removed.clauses] == [c.anchor for c in added.clauses]
    assert diff_versions("", "").clauses == ()


def test_removed_clauses_before_the_first_kept_one_come_first() -> None:
    result = diff_versions("前言。\n\n第一条 甲。", "第一条 甲。\n\n第二条 乙。")
    assert [(c.anchor, c.status) for c in result.clauses] == [
        ("preamble-1", "removed"),
        ("article-1", "unchanged"),
        ("article-2", "added"),
    ]


@pytest.mark.parametrize(
    ("old", "new", "ops"),
    [
        ("", "", []),
        ("同", "同", [("equal", "同")]),
        ("", "新增", [("insert", "新增")]),
        ("删除", "", [("delete", "删除")]),
        ("扣除2分", "扣除4分", [("equal", "扣除"), ("delete", "2"), ("insert", "4"), ("equal", "分")]),
        ("三日内", "七日内", [("delete", "三"), ("insert", "七"), ("equal", "日内")]),
        ("限制发布商品", "限制发布新商品", [("equal", "限制发布"), ("insert", "新"), ("equal", "商品")]),
        # The kept 4 between two one-character edits is folded into one replacement.
        ("48小时", "24小时", [("delete", "48"), ("insert", "24"), ("equal", "小时")]),
    ],
)
def test_char_diff_returns_merged_character_edits(old: str, new: str, ops: list[tuple[str, str]]) -> None:
    assert char_diff(old, new) == ops


def test_char_diff_ops_rebuild_both_texts() -> None:
    old = "卖家应当在买家付款后48小时内发货，并上传真实有效的物流单号。"
    new = "卖家应当在买家付款后24小时内完成发货，并在发货后及时上传物流单号。"
    ops = char_diff(old, new)
    assert "".join(text for op, text in ops if op != "insert") == old
    assert "".join(text for op, text in ops if op != "delete") == new
    assert all(a.op != b.op for a, b in itertools.pairwise(ops)), "adjacent ops of one kind are merged"


def test_a_long_equal_run_between_changes_is_kept() -> None:
    """Only runs of at most two characters are folded; a reader still sees what stayed the same."""
    ops = char_diff("扣除2分并警告一次", "扣除4分并警告两次")
    assert ("equal", "分并警告") in ops


HOSTILE_OLD = "第一条 禁止发布<b>违规</b>商品 & 服务。"
HOSTILE_NEW = "第一条 禁止发布<script>alert(1)</script>商品 & 服务。\n\n第二条 <img src=x onerror=alert(1)>"
OUR_TAGS = re.compile(r'<ins class="diff-ins">|</ins>|<del class="diff-del">|</del>')


def without_our_tags(rendered: str) -> str:
    return OUR_TAGS.sub("", rendered)


def test_inline_html_escapes_rule_text() -> None:
    result = diff_versions(HOSTILE_OLD, HOSTILE_NEW)
    for clause_diff in result.clauses:
        rendered = inline_html(clause_diff)
        text = without_our_tags(rendered)
        assert "<" not in text, rendered
        assert ">" not in text, rendered
        assert html.unescape(text) == "".join(op.text for op in clause_diff.ops)
    joined = "".join(inline_html(c) for c in result.clauses)
    assert "&lt;img src=x onerror=alert(1)&gt;" in joined
    assert "&amp; 服务" in joined
    assert '<ins class="diff-ins">' in joined
    assert '<del class="diff-del">' in joined


def test_side_by_side_html_escapes_and_marks_each_side() -> None:
    changed = diff_versions(HOSTILE_OLD, HOSTILE_NEW).clauses[0]
    old_side, new_side = side_by_side_html(changed)
    assert "<ins" not in old_side
    assert "<del" not in new_side
    assert html.unescape(without_our_tags(old_side)) == changed.old_text == "禁止发布<b>违规</b>商品 & 服务。"
    assert html.unescape(without_our_tags(new_side)) == changed.new_text
    for side in (old_side, new_side):
        assert "<" not in without_our_tags(side)
        assert ">" not in without_our_tags(side)
    assert '<del class="diff-del">' in old_side
    assert '<ins class="diff-ins">' in new_side


def test_side_by_side_html_of_an_added_clause_leaves_the_old_side_empty() -> None:
    added = diff_versions("", "第一条 新增条款。").clauses[0]
    assert side_by_side_html(added) == ("", '<ins class="diff-ins">新增条款。</ins>')


def test_html_output_is_marked_safe_for_jinja_autoescape() -> None:
    from jinja2 import Environment

    changed = diff_versions(HOSTILE_OLD, HOSTILE_NEW).clauses[0]
    env = Environment(autoescape=True)
    rendered = env.from_string("{{ diff }}").render(diff=inline_html(changed))
    assert rendered == inline_html(changed)
    assert "<script>" not in rendered


def test_a_one_word_change_in_a_very_long_clause_is_found_quickly() -> None:
    """Past CHAR_DIFF_MAX_CHARS the diff goes sentence by sentence, so a long clause does not take minutes."""
    sentences = [
        f"第{i}项：卖家应当在买家付款后{i % 7 + 1}日内发货，并上传真实有效的物流单号。" for i in range(1500)
    ]
    old = "".join(sentences)
    # Two edits far apart, so trimming the common start and end leaves most of the clause to compare.
    new = old.replace("第7项：卖家应当在买家付款后1日内", "第7项：卖家应当在买家付款后3日内").replace(
        "第1497项：卖家应当在买家付款后7日内", "第1497项：卖家应当在买家付款后5日内"
    )
    assert len(old) > 10 * CHAR_DIFF_MAX_CHARS
    started = time.perf_counter()
    ops = char_diff(old, new)
    assert time.perf_counter() - started < 5  # a plain character diff of this takes tens of seconds
    assert [op for op in ops if op.op != "equal"] == [
        ("delete", "1"),
        ("insert", "3"),
        ("delete", "7"),
        ("insert", "5"),
    ]


def test_a_long_clause_rewritten_throughout_still_rebuilds_both_texts() -> None:
    old = "".join(f"旧条款第{i}句，内容甲乙丙丁。" for i in range(800))
    new = "".join(f"新规定第{i}段，要求戊己庚辛。" for i in range(800))
    ops = char_diff(old, new)
    assert "".join(text for op, text in ops if op != "insert") == old
    assert "".join(text for op, text in ops if op != "delete") == new
