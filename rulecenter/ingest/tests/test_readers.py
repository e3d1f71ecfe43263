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
    assert score.recall >= 0.95, score.misses
    assert score.precision >= 0.93, score.extras
    assert score.title_accuracy >= 0.98, score.wrong
    assert score.date_recall >= 0.99, score.wrong


ARCHIVE = """归档
2025
03-07
唯品会《商家保证金管理规则》修订公示，4月1日生效
03-05
【规则解读】淘宝发货时效调整：哪些类目可以放宽到 72 小时
2024
12-26
小红书电商买手违规处理规则征求意见稿
"""

FEED = """今天 星期五
16:42
京东开放平台调整“价保”服务规则，3月20日生效
京东开放平台发布公告，价格保护周期由15天调整为30天，参加平台大促的商品价保规则另行公示。
2025年03月06日 星期四
21:07
抖音电商《商家违规行为管理规则》变更公示，新增“虚假发货”情形
公示期为3月6日至3月13日，变更后的规则拟于3月20日生效。
09:15
1688更新《诚信通服务协议》，新增跨境专区条款
协议新增跨境专区条款，涉及跨境专供商品的发布、结算与售后责任划分，请商家及时查阅。
"""


def test_group_headers_give_their_year_or_day_to_the_items_under_them() -> None:
    archive = read_page(ARCHIVE, name="archive.txt")
    assert [(item.title[:6], item.date) for item in archive.items] == [
        ("唯品会《商家", date(2025, 3, 7)),
        ("【规则解读】", date(2025, 3, 5)),
        ("小红书电商买", date(2024, 12, 26)),
    ]
    feed = read_page(FEED, name="feed.txt")
    assert [item.date for item in feed.items] == [None, date(2025, 3, 6), date(2025, 3, 6)]  # 今天: no date


def test_a_search_snippet_that_begins_with_a_date_dates_its_result() -> None:
    page = read_page(
        """淘宝网关于调整发货时效规则的公告
https://rule.taobao.com › detail-11002345.htm
2025年3月5日 · 淘宝网发布公告，定制、大件等类目的承诺发货时效可放宽至72小时，同时提高延迟发货赔付标准。
拼多多关于发货时效与延迟发货处罚规则调整的公告
https://mms.pinduoduo.com › rule › 3321
3 天前 · 拼多多调整延迟发货的处罚标准，自3月10日起，超时发货的订单将按新的标准向消费者赔付。
""",
        name="search.txt",
    )
    assert [item.date for item in page.items] == [date(2025, 3, 5), None]


def test_a_table_with_several_date_columns_gives_the_publication_date() -> None:
    rows = "".join(
        f"<tr><td><a href='/r/{n}'>{title}</a></td><td>{effective}</td><td>{published}</td></tr>"
        for n, (title, effective, published) in enumerate(
            [
                ("淘宝网关于调整发货时效规则的公告", "2025-03-15", "2025-03-05"),
                ("京东开放平台价格保护服务规则变更通知", "2025-03-10", ""),
                ("抖音电商商家违规行为管理规则变更公示", "2025-03-20", "2025-03-06"),
            ]
        )
    )
    html = f"<table><thead><tr><th>名称</th><th>生效日期</th><th>发布日期</th></tr></thead><tbody>{rows}</tbody></table>"
    page = read_page(html, name="table.html")
    assert [item.date for item in page.items] == [date(2025, 3, 5), None, date(2025, 3, 6)]


FEED_COPY = """该 XML 文件并未包含任何关联的样式信息。文档树显示如下。
<rss version="2.0">
<channel>
<title>出海电商规则速递</title>
<item>
<title>【Shopee】台湾站运费补贴规则调整，4月1日起生效</title>
<link>https://example.com/archives/shopee-tw</link>
<description><![CDATA[ <p>自2025年4月1日起，卖家运费补贴门槛调整。</p> ]]></description>
<category>Shopee</category>
<pubDate>Wed, 05 Mar 2025 01:20:00 +0800</pubDate>
</item>
<item>
<title><![CDATA[ 【Temu】半托管卖家服务协议变更（2025年3月20日起施行） ]]></title>
<link>https://example.com/archives/temu</link>
</item>
</channel>
</rss>
"""


def test_an_rss_feed_even_as_a_browser_shows_it_is_read_by_its_entries() -> None:
    page = read_page(FEED_COPY, name="feed.txt", kind="text")
    assert page.reader == "feed"
    assert [(item.title, item.date, item.url) for item in page.items] == [
        (
            "【Shopee】台湾站运费补贴规则调整，4月1日起生效",
            date(2025, 3, 5),
            "https://example.com/archives/shopee-tw",
        ),
        ("【Temu】半托管卖家服务协议变更（2025年3月20日起施行）", None, "https://example.com/archives/temu"),
    ]  # the day in the feed's own offset: 01:20 +0800 is 5 March there, 4 March in UTC
    assert page.items[0].excerpt == "自2025年4月1日起，卖家运费补贴门槛调整。"
    assert page.items[0].meta == "Shopee"


def test_a_table_copied_as_text_is_read_by_its_columns() -> None:
    page = read_page(
        """规则变更索引
序号 规则名称 类型 发布日期 生效日期
1 《商家违规积分管理规则》修订 规则变更 2025/01/06 2025/01/13
2 关于《达人带货规则》修订的意见征集 意见征集 2025/01/22 —
3 《虚假宣传管理规则》（内测版） 规则变更 — —
内部资料 请勿外传 第 1 页 共 2 页
序号 规则名称 类型 发布日期 生效日期
4 《营销活动规范》修订，4月8日生效 规则变更 2025/03/25 2025/04/08
""",
        name="index.txt",
    )
    assert [(item.title, item.date, item.meta) for item in page.items] == [
        ("《商家违规积分管理规则》修订", date(2025, 1, 6), "规则变更"),
        ("关于《达人带货规则》修订的意见征集", date(2025, 1, 22), "意见征集"),
        ("《虚假宣传管理规则》（内测版）", None, "规则变更"),
        ("《营销活动规范》修订，4月8日生效", date(2025, 3, 25), "规则变更"),
    ]


def test_a_markdown_list_and_table_are_read_by_their_links() -> None:
    page = read_page(
        """# 电商平台规则变更

- [目录](#2025-年-3-月)
| 发布日期 | 平台 | 标题 | 截止日期 |
| :---: | :---: | --- | :---: |
| 2025-03-12 | 抖音电商 | [《商家违规行为管理规则》修订意见征集](https://example.com/a) | 2025-03-19 |

## 2025 年 3 月

- `2025-03-13` **淘宝** [《淘宝网市场管理与违规处理规范》变更公告](https://example.com/b) 🆕
- **唯品会** [唯品会《供应商违约管理细则》更新](https://example.com/c)
""",
        name="README.md.txt",
    )
    assert [(item.title, item.date, item.url, item.meta) for item in page.items] == [
        ("《商家违规行为管理规则》修订意见征集", date(2025, 3, 12), "https://example.com/a", ""),
        ("《淘宝网市场管理与违规处理规范》变更公告", date(2025, 3, 13), "https://example.com/b", "淘宝"),
        ("唯品会《供应商违约管理细则》更新", None, "https://example.com/c", "唯品会"),
    ]


def test_a_spreadsheet_copied_as_tab_separated_text_is_read_by_its_columns() -> None:
    rows = [
        "规则变更跟踪表（2025 Q1）",
        "序号\t平台\t规则/公告名称\t类型\t生效日期\t发布日期",
        "1\t淘宝\t《淘宝网市场管理与违规处理规范》变更公告\t规则变更\t2025/3/20\t2025/3/13",
        '2\t天猫\t天猫《品牌授权链路管理规范》修订\t规则变更\t2025/4/1\t"2025/3/6"',
        "3\t京东\t京东开放平台《商家积分管理规则》变更意见征集\t意见征集\t\t",
        "合计\t\t\t\t\t3",
    ]
    page = read_page("\n".join(rows), name="sheet.txt")
    assert [(item.title[:6], item.date) for item in page.items] == [
        ("《淘宝网市场", date(2025, 3, 13)),
        ("天猫《品牌授", date(2025, 3, 6)),
        ("京东开放平台", None),
    ]


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        (["15/01/2025", "05/03/2025", "03/02/2025"], [date(2025, 1, 15), date(2025, 3, 5), date(2025, 2, 3)]),
        (["01/15/2025", "03/05/2025", "02/03/2025"], [date(2025, 1, 15), date(2025, 3, 5), date(2025, 2, 3)]),
        (["05/03/2025", "03/02/2025", "01/02/2025"], [None, None, None]),  # either way round: not guessed
    ],
    ids=["day-first", "month-first", "ambiguous"],
)
def test_numeric_dates_are_read_the_way_the_page_writes_them(
    dates: list[str], expected: list[date | None]
) -> None:
    cards = "".join(
        f'<div class="card"><h3><a href="/n/{n}">第{n}号规则变更公告：发货时效调整</a></h3><span>发布于 {day}</span></div>'
        for n, day in enumerate(dates)
    )
    page = read_page(f"<html><body><main>{cards}</main></body></html>", name="cards.html")
    assert [item.date for item in page.items] == expected
