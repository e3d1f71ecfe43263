"""The listing readers (issue 16): the seed's layout, CSS selectors and the generic reader, on small pages that
each show one thing a reader must get right; the corpus under listings/ measures them as a whole."""

import json
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from rulecenter.announcements.demo import SEED_FILE
from rulecenter.ingest.extract import extract
from rulecenter.ingest.readers import (
    PRESETS,
    NothingFound,
    SelectorSpec,
    as_listing,
    html_lines,
    read_page,
    read_selectors,
)

from .listing_score import score_set

AGGREGATOR = """首页 资讯 专题 登录 注册
切换主题
规则动态
关于《淘宝网市场管理与违规处理规范》变更的公示通知
• 电商 / 王小明 · 2025-04-02
淘宝网拟对《淘宝网市场管理与违规处理规范》进行变更，主要调整了虚假交易的认定标准和处理措施，自4月8日生效。
【规则解读】1688商家发货规范的三处变化
• 电商 / 李华 · 2025-03-28
本文梳理了1688商家发货行为管理规范本次更新的三处主要变化，帮助商家理解新的发货时限与赔付标准。
© 2025 电商规则观察 浙ICP备12345678号
"""


def test_an_aggregator_s_meta_lines_belong_to_the_item_above() -> None:
    page = read_page(AGGREGATOR, name="tag.txt")
    assert page.reader == "generic-text"
    assert [(item.title, str(item.date)) for item in page.items] == [
        ("关于《淘宝网市场管理与违规处理规范》变更的公示通知", "2025-04-02"),
        ("【规则解读】1688商家发货规范的三处变化", "2025-03-28"),
    ]
    assert page.items[0].meta == "电商 / 王小明 · 2025-04-02"
    assert page.items[0].excerpt.startswith("淘宝网拟对")
    assert all(not item.unsure for item in page.items)


def test_a_highlighted_search_word_on_its_own_line_is_joined_back() -> None:
    text = """找到约 23 条结果
关于《1688商家
发货
行为管理规范》的更新公告
2025-02-10
为了持续保障买家体验，为商家创造更好的营商环境，相关规则将进行变更。
京东开放平台
发货
时效规则变更公告
2025-01-15
京东开放平台将调整商家发货时效的考核口径，自2025年2月1日起施行。
拼多多虚假
发货
处理规则更新的通知
2025-01-10
平台将“揽收后物流信息长时间不更新”纳入虚假发货认定范围。
上一页 1 2 3 下一页
"""
    page = read_page(text, name="search.txt")
    assert [item.title for item in page.items] == [
        "关于《1688商家发货行为管理规范》的更新公告",
        "京东开放平台发货时效规则变更公告",
        "拼多多虚假发货处理规则更新的通知",
    ]
    assert [str(item.date) for item in page.items] == ["2025-02-10", "2025-01-15", "2025-01-10"]


def test_dates_written_before_their_titles_go_with_the_title_below() -> None:
    text = """2025.03.05
置顶 拼多多关于调整店铺保证金的通知
拼多多将于3月20日起调整部分类目的店铺保证金标准，请商家及时关注。
2025.02.27
NEW 抖音电商虚假宣传管理规则更新
抖音电商对虚假宣传的认定和处罚进行了细化，新规则自3月1日起生效。
"""
    page = read_page(text, name="dates-first.txt")
    assert [(item.title, str(item.date)) for item in page.items] == [
        ("拼多多关于调整店铺保证金的通知", "2025-03-05"),
        ("抖音电商虚假宣传管理规则更新", "2025-02-27"),
    ]


def test_html_keeps_links_and_drops_menus_sidebars_and_undated_links() -> None:
    html = """<!doctype html><html><body>
<header><nav><a href="/">首页</a><a href="/news">资讯</a></nav></header>
<main><ul class="news">
<li><a href="/article/1.html">1688指定渠道禁限售规则更新公示</a><span class="date">2025-02-10</span></li>
<li><a href="/article/2.html">关于1688商家发货行为管理规范调整的意见征集（4月8日生效）</a><span class="date">2025-03-01</span></li>
</ul>
<div class="side"><h3>热门文章</h3><a href="/hot/1">如何开一家网店</a></div></main>
<footer>© 2025 规则转载站</footer></body></html>"""
    page = read_page(html, name="repost.html")
    assert page.reader == "generic-html"
    assert [(item.title, str(item.date), item.url) for item in page.items] == [
        ("1688指定渠道禁限售规则更新公示", "2025-02-10", "/article/1.html"),
        ("关于1688商家发货行为管理规范调整的意见征集（4月8日生效）", "2025-03-01", "/article/2.html"),
    ]
    spec = read_selectors(html, PRESETS["list"], name="repost.html")
    assert [item.url for item in spec.items][:2] == ["/article/1.html", "/article/2.html"]


def test_an_item_the_reader_cannot_place_is_reported_not_guessed() -> None:
    page = read_page("淘宝网规则变更公告\n天猫规则变更公告\n", name="bare.txt")
    assert [item.unsure for item in page.items] == ["这一行既没有日期、来源，也没有摘要或链接"] * 2


def test_a_page_with_nothing_says_why() -> None:
    with pytest.raises(NothingFound, match="没有找到列表项"):
        read_page("首页\n登录\n© 2025\n", name="furniture.txt")
    with pytest.raises(NothingFound, match=r"选择器“article\.card”"):
        read_selectors("<p>x</p>", SelectorSpec(item="article.card", title="h2"), name="x.html")


def test_the_seed_is_read_as_the_seed() -> None:
    page = read_page(Path(SEED_FILE).read_text(encoding="utf-8"), name="seed.txt")
    assert page.reader == "seed"
    assert len(page.items) == 12
    assert page.footer is not None
    assert (page.footer.total, page.footer.pages) == (13, 2)


def test_a_hostile_page_costs_linear_time_and_no_recursion() -> None:
    deep = "<div>" * 20_000 + "<a href='/x'>深处的标题 2025-01-01</a>" + "</div>" * 20_000
    assert [line.text for line in html_lines(deep)] == ["深处的标题 2025-01-01"]
    flat = "\n".join(f"平台规则变更公告第{n}号 2025-01-{n % 28 + 1:02d}" for n in range(20_000))
    assert len(read_page(flat, name="big.txt").items) == 20_000


def test_read_listing_prints_json_without_a_database(tmp_path: Path) -> None:
    page = tmp_path / "tag.txt"
    page.write_text(AGGREGATOR, encoding="utf-8")
    out = StringIO()
    call_command("read_listing", str(page), stdout=out)
    printed = json.loads(out.getvalue())
    assert printed["reader"] == "generic-text"
    assert printed["items"][0] == {
        "title": "关于《淘宝网市场管理与违规处理规范》变更的公示通知",
        "date": "2025-04-02",
        "excerpt": "淘宝网拟对《淘宝网市场管理与违规处理规范》进行变更，主要调整了虚假交易的认定标准和处理措施，自4月8日生效。",
        "url": None,
        "meta": "电商 / 王小明 · 2025-04-02",
    }
    assert printed["footer"] is None
    empty = tmp_path / "empty.txt"
    empty.write_text("首页\n登录\n", encoding="utf-8")
    with pytest.raises(CommandError, match="没有找到列表项"):
        call_command("read_listing", str(empty), stdout=StringIO())


def test_a_yearless_date_in_a_title_takes_its_year_from_the_item_s_own_date() -> None:
    """`4月8日生效` in a title dated 2025-04-02 takes effect on 2025-04-08; an unsure item is not imported."""
    page = read_page(AGGREGATOR + "无日期的标题一行\n", name="tag.txt")
    listing = as_listing(page)
    assert [item.title for item in listing.items] == [item.title for item in page.items if not item.unsure]
    first = listing.items[0]
    assert first.excerpt.startswith("发布时间：2025-04-02\n")
    facts = extract(first.excerpt, title=first.title)
    assert facts.effective_date == date(2025, 4, 8)


@pytest.mark.parametrize("name", ["dev"])
def test_the_reader_on_its_corpus(name: str) -> None:
    """The pages the reader was developed on stay read (listing_score; the holdout sets are reported in
    docs/ingest.md, not asserted: a floor on them would invite tuning to them)."""
    score = score_set(name)
    assert score.recall >= 0.90, score.misses
    assert score.precision >= 0.89, score.extras
    assert score.title_accuracy >= 0.96, score.wrong
    assert score.date_recall >= 0.98, score.wrong
