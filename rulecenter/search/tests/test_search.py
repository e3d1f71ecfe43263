"""Searching the demo data: ranking, grouping by rule, filters, highlighting, did-you-mean (issue 5)."""

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from rulecenter.announcements import services as announcement_services
from rulecenter.announcements.models import Announcement, Category
from rulecenter.common.actors import SYSTEM
from rulecenter.rules import services as rule_services
from rulecenter.rules.models import Rule
from rulecenter.search import indexer, inputs, selectors
from rulecenter.search.selectors import SearchResults

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def search(q: str, *, page: str | None = None, size: int = 20, **filters: Any) -> SearchResults:
    """A search as the page and the API make it: the follower catches up, then the selector reads."""
    indexer.catch_up_for_search()
    return selectors.search(q=q, filters=inputs.build_filters(**filters), raw_page=page, size=size)


def titles(results: SearchResults) -> list[str]:
    return [hit.title for hit in results.hits]


def publish(title: str, body: str, *, at: datetime | None = None, slug: str = "rule-changes") -> Announcement:
    category, _ = Category.objects.get_or_create(slug=slug, defaults={"name": slug})
    return announcement_services.announcement_create(
        actor=SYSTEM,
        title=title,
        body=body,
        category=category,
        kind=Announcement.Kind.NEWS,
        status=Announcement.Status.PUBLISHED,
        published_at=at or timezone.now(),
    )


# Issue 5's "done when" on the demo data ------------------------------------------------------------


def test_fahuo_finds_both_shipping_items_first(demo: None) -> None:
    """发货: the two 《1688商家发货行为管理规范》 announcements (and that rule itself) come before anything else."""
    results = search("发货")
    first = titles(results)[:3]
    assert all("1688商家发货行为管理规范" in title for title in first), first
    assert "《1688商家发货行为管理规范》的更新公告" in first
    assert "《1688商家发货行为管理规范》变更的意见征集结果反馈" in first
    assert results.total == len(results.hits) >= 4


def test_jinxianshou_finds_both_prohibited_goods_items(demo: None) -> None:
    found = titles(search("禁限售"))
    both = [
        "《1688指定渠道禁限售规则》和其相关规则的更新公示",
        "关于《1688指定渠道禁限售规则》调整的意见征集结果反馈",
    ]
    assert set(both) <= set(found[:2])
    assert all("禁限售" in title for title in found)


def test_fanzha_finds_the_anti_fraud_special(demo: None) -> None:
    hits = search("反诈").hits
    assert hits[0].title == "【年前商家反诈重点专题】提高反诈意识 ,让诈骗无处遁形"
    assert hits[0].type == Announcement.Kind.TOPIC


def test_xieyi_finds_the_agreement_items_first(demo: None) -> None:
    """协议: every agreement announcement and agreement rule comes before any other item."""
    hits = search("协议").hits
    is_agreement = [hit.type in {Announcement.Kind.AGREEMENT_CHANGE, Rule.Kind.AGREEMENT} for hit in hits]
    agreements = sum(is_agreement)
    assert agreements == 6  # four agreement announcements, two agreement rules
    assert all(is_agreement[:agreements]), [(hit.title, hit.type) for hit in hits]


# Ranking ---------------------------------------------------------------------------------------------


def test_a_title_match_ranks_above_a_body_match(db: None) -> None:
    publish("平台治理周报", "本周重点：延迟发货的处理。")
    publish("延迟发货处理说明", "本周平台治理的重点。")
    assert titles(search("延迟发货")) == ["延迟发货处理说明", "平台治理周报"]


def test_at_equal_relevance_the_newer_item_ranks_first(db: None) -> None:
    now = timezone.now()
    publish("保证金管理规范更新", "保证金规则。", at=now - timedelta(days=900))
    publish("保证金管理规范更新", "保证金规则。", at=now - timedelta(days=30))
    hits = search("保证金").hits
    assert hits[0].date > hits[1].date


def test_all_words_must_match(db: None) -> None:
    publish("发货规则", "发货")
    publish("退款规则", "退款")
    assert titles(search("发货 规则")) == ["发货规则"]
    assert titles(search("规则")) != []


def test_quoted_text_must_match_as_a_phrase(demo: None) -> None:
    phrase = search('"欺诈发货的定义"')
    assert titles(phrase) == ["《1688商家发货行为管理规范》变更的意见征集结果反馈"]
    loose = search("发货 定义")
    assert len(loose.hits) > len(phrase.hits)
    assert "<mark>欺诈发货的定义</mark>" in phrase.hits[0].snippet


def test_latin_words_numbers_and_full_width_queries_find_text(db: None) -> None:
    publish("SKU 上架规范", "每个 SKU 须在付款后48h内发货。")
    assert titles(search("sku")) == ["SKU 上架规范"]
    assert titles(search("ＳＫＵ")) == ["SKU 上架规范"]
    assert titles(search("48h")) == ["SKU 上架规范"]


# Rules: versions grouped, the version in force shown, clause anchors ---------------------------------


def test_versions_of_one_rule_are_one_result_showing_the_version_in_force(demo: None) -> None:
    """Both versions of the shipping rule mention 虚假发货; one result, linking to the version in force."""
    rule_hits = [hit for hit in search("虚假发货").hits if hit.kind == "rule"]
    assert len(rule_hits) == 1
    hit = rule_hits[0]
    assert hit.title == "《1688商家发货行为管理规范》"
    assert (hit.version, hit.status, hit.versions_matched) == (2, "in_force", 2)
    assert hit.url == "/rules/shipping-conduct/#article-4"
    assert hit.clause == "第四条"
    assert "<mark>虚假发货</mark>" in hit.snippet


def test_a_word_only_in_an_old_version_shows_that_version_and_links_the_current_one(demo: None) -> None:
    """赔付订单金额的5% was changed to 10% in version 2: the hit is version 1, marked superseded."""
    hit = next(hit for hit in search("最高不超过50元").hits if hit.kind == "rule")
    assert (hit.version, hit.status, hit.status_label) == (1, "superseded", "已被替代")
    assert hit.url == "/rules/shipping-conduct/versions/1/#article-3"
    assert hit.current_url == "/rules/shipping-conduct/"


def test_a_version_is_not_found_before_its_notice(demo: None) -> None:
    rule = Rule.objects.get(slug="shipping-conduct")
    version = rule_services.rule_version_create(
        actor=SYSTEM, rule=rule, text="第一条 新增跨境直邮的发货时限。"
    )
    now = timezone.now()
    rule_services.rule_version_schedule(
        actor=SYSTEM,
        version=version,
        notice_at=now + timedelta(days=1),
        effective_at=now + timedelta(days=10),
    )
    assert search("跨境直邮").total == 0
    with time_machine.travel(now + timedelta(days=2)):
        hit = search("跨境直邮").hits[0]
        assert (hit.version, hit.status, hit.status_label) == (version.number, "noticed", "公示中")
    with time_machine.travel(now + timedelta(days=11)):
        hit = search("跨境直邮").hits[0]
        assert (hit.version, hit.status) == (version.number, "in_force")


# Filters ------------------------------------------------------------------------------------------------


def test_filter_by_kind_type_and_category(demo: None) -> None:
    assert {hit.kind for hit in search("协议", kind="rule").hits} == {"rule"}
    assert {hit.kind for hit in search("协议", kind="announcement").hits} == {"announcement"}
    assert {hit.type for hit in search("协议", type="agreement").hits} == {"agreement"}
    assert set(titles(search("协议", category="agreements", kind="rule"))) == {
        "《保理服务协议》",
        "《诚信通服务协议》",
    }


def test_a_rule_category_includes_its_subcategories(demo: None) -> None:
    """禁限售 is under 市场管理: filtering by market finds the prohibited-goods rule."""
    assert "《1688指定渠道禁限售规则》" in titles(search("禁售", category="market"))


def test_in_force_keeps_only_versions_in_force_now(demo: None) -> None:
    """The upcoming 诚信通 change (in its notice period) is not in force; its first version is."""
    hits = search("诚信通", in_force=True).hits
    assert [(hit.title, hit.version, hit.status) for hit in hits] == [("《诚信通服务协议》", 1, "in_force")]
    assert search("经营数据分析", in_force=True).total == 0
    assert search("经营数据分析").hits[0].status == "noticed"


def test_filter_by_date(demo: None) -> None:
    found = search("意见征集", kind="announcement", date_from=date(2025, 1, 20))
    assert set(titles(found)) == {
        "关于《1688指定渠道禁限售规则》调整的意见征集结果反馈",
        "《1688商家发货行为管理规范》变更的意见征集结果反馈",
    }
    assert search("意见征集", kind="announcement", date_to=date(2024, 1, 1)).total == 0


def test_bad_filters_are_refused_with_a_message(db: None) -> None:
    with pytest.raises(inputs.FilterInvalid, match="announcement"):
        inputs.build_filters(kind="everything")
    with pytest.raises(inputs.FilterInvalid, match="不存在"):
        inputs.build_filters(category="no-such-category")
    with pytest.raises(inputs.FilterInvalid, match="YYYY-MM-DD"):
        inputs.parse_day("from", "2025-13-45")


# Highlighting -------------------------------------------------------------------------------------------


def test_snippets_mark_the_words_and_escape_everything_else(db: None) -> None:
    publish("<b>发货</b> 提醒", 'Markdown 正文 <script>alert("x")</script> 请按时发货 & 备货。')
    hit = search("发货").hits[0]
    assert hit.title_html == "&lt;b&gt;<mark>发货</mark>&lt;/b&gt; 提醒"
    assert "<script>" not in hit.snippet
    assert "<mark>发货</mark>" in hit.snippet
    assert str(hit.snippet).replace("<mark>", "").replace("</mark>", "").count("<") == 0


def test_the_snippet_is_cut_around_the_words(db: None) -> None:
    body = "前言。" * 80 + "关键是发货时限。" + "后记。" * 80
    hit = search_one(body)
    assert "<mark>发货</mark>时限" in hit.snippet
    assert hit.snippet.startswith("…")
    assert hit.snippet.endswith("…")
    assert len(str(hit.snippet)) < 200


def search_one(body: str) -> selectors.SearchHit:
    publish("说明", body)
    return search("发货").hits[0]


# Did you mean, paging, visibility --------------------------------------------------------------------


def test_did_you_mean_offers_a_close_dictionary_word_that_finds_something(demo: None) -> None:
    results = search("禁限卖")
    assert results.total == 0
    assert results.suggestion == "禁限售"
    assert search("意见证集").suggestion == "意见征集"
    assert search("完全无关的词").suggestion is None


def test_pages_of_results(db: None) -> None:
    for number in range(25):
        publish(f"第{number}号发货通知", "发货")
    first = search("发货", size=12)
    last = search("发货", size=12, page="3")
    assert (first.total, first.pager.page_count, len(first.hits), len(last.hits)) == (25, 3, 12, 1)
    everything = titles(first) + titles(search("发货", size=12, page="2")) + titles(last)
    assert len(set(everything)) == 25


def test_page_two_continues_exactly_where_page_one_ended(db: None) -> None:
    """Pages of 12 show, in order, what one page of 30 shows: only the page's hits are read, none lost."""
    now = timezone.now()
    for number in range(30):
        publish(f"第{number}号发货通知", "发货规则。" * (number % 4 + 1), at=now - timedelta(days=number))
    whole = search("发货", size=30)
    pages = [search("发货", size=12, page=str(number)) for number in (1, 2, 3)]
    assert [len(page.hits) for page in pages] == [12, 12, 6]
    assert [hit.title for page in pages for hit in page.hits] == titles(whole)
    assert [str(hit.snippet) for page in pages for hit in page.hits] == [
        str(hit.snippet) for hit in whole.hits
    ]
    assert {page.total for page in pages} == {whole.total} == {30}


def test_pages_of_rules_and_announcements_together_keep_the_order_and_the_count(demo: None) -> None:
    """协议 finds announcements and rules: pages of 3 show the one page of 20 in its order, each rule once."""
    whole = search("协议")
    shown = [(hit.kind, hit.title, hit.version, hit.versions_matched) for hit in whole.hits]
    first = search("协议", size=3)
    pages = [first] + [search("协议", size=3, page=str(n)) for n in range(2, first.pager.page_count + 1)]
    paged = [(h.kind, h.title, h.version, h.versions_matched) for page in pages for h in page.hits]
    assert first.total == whole.total == len(shown) > 3
    assert paged == shown
    rule_titles = [title for kind, title, _version, _matched in shown if kind == "rule"]
    assert len(rule_titles) == len(set(rule_titles)) >= 2


def test_a_page_past_the_end_is_not_found(db: None) -> None:
    publish("发货通知", "发货")
    with pytest.raises(selectors.PageNotFound):
        search("发货", page="2")
    with pytest.raises(selectors.PageNotFound):
        search("发货", page="abc")


def test_published_corrected_and_withdrawn_content_is_reflected_at_once(db: None) -> None:
    item = publish("临时公告", "首次发布的正文")
    assert titles(search("首次发布")) == ["临时公告"]
    item.body = "修改后的正文"
    announcement_services.announcement_save(actor=SYSTEM, announcement=item)
    assert search("首次发布").total == 0
    assert titles(search("修改后")) == ["临时公告"]
    announcement_services.announcement_withdraw(actor=SYSTEM, announcement=item, reason="内容有误")
    assert search("修改后").total == 0
    assert search("临时公告").total == 0


def test_drafts_are_never_found(db: None) -> None:
    category = Category.objects.create(slug="news", name="新闻")
    announcement_services.announcement_create(
        actor=SYSTEM, title="草稿发货通知", body="发货", category=category
    )
    assert search("草稿").total == 0
