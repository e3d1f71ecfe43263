"""Saved searches as topics: written as /search/'s query string, read back exactly, judged as it judges."""

import pytest

from rulecenter.announcements.tests.factories import category_create
from rulecenter.rules.tests.factories import category_create as rule_category_create
from rulecenter.search import topics

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "q", ["发货", "a&b=c", "100% 退款", "C++ 接口", "#标签", "?问号开头", '"发货 规范" 时限']
)
def test_a_saved_search_reads_back_exactly_what_was_written(q: str) -> None:
    plain = topics.value(q)
    assert topics.read(plain).q == q
    assert not topics.read(plain).filtered
    filtered = topics.value(q, kind="rule", category="market")
    assert filtered.startswith("?")
    assert topics.read(filtered) == topics.SavedSearch(q=q, kind="rule", category="market")


def test_words_alone_stay_the_short_form() -> None:
    assert topics.value(" 发货 时限 ") == "发货 时限"
    assert topics.value("发货", type="news") == "?q=发货&type=news"
    assert topics.value("", kind="rule") == "?kind=rule"


def test_the_check_names_what_is_wrong() -> None:
    category_create(slug="news", name="新闻")
    assert topics.check("?q=发货&category=news") is None
    assert topics.check("?type=guide") is None  # filters alone: every guide
    assert topics.check("?") == topics.QUERY_EMPTY
    assert topics.check("?q=&kind=") == topics.QUERY_EMPTY
    assert topics.check("?kind=rule&" + "x=1&" * 10) == topics.FILTER_UNKNOWN  # too many fields
    assert topics.check("?Q=发货") == topics.FILTER_UNKNOWN
    assert topics.check("?q=" + "发" * 74) == "保存的搜索最长 73 个字符。"
    assert "不存在" in (topics.check("?category=elsewhere") or "")


def test_a_rule_category_takes_in_the_categories_below_it() -> None:
    data = {"title": "禁售商品管理规则", "summary": "", "kind": "rule", "categories": ["banned", "market"]}
    assert topics.matches("?category=market", "rule.noticed", data)
    assert topics.matches("?category=banned&kind=rule&type=rule", "rule.effective", data)
    assert not topics.matches("?category=market&kind=announcement", "rule.noticed", data)
    assert not topics.matches("?category=market&type=agreement", "rule.noticed", data)
    assert not topics.matches("?category=market&q=发货", "rule.noticed", data)


def test_a_consultation_s_result_is_an_announcement_and_its_other_events_are_neither() -> None:
    data = {"title": "发货规范意见征集", "summary": "", "kind": "consultation_result", "category": "news"}
    assert topics.matches("?q=发货&kind=announcement", "consultation.result_published", data)
    assert not topics.matches("?q=发货&kind=announcement", "consultation.opened", data)
    assert topics.matches("发货", "consultation.opened", data)  # words alone: whatever the kind


def test_a_saved_search_in_words_names_its_filters() -> None:
    category_create(slug="news", name="新闻")
    rule_category_create(slug="market", name="市场管理")
    assert topics.describe("发货") == "搜索：发货"
    assert topics.describe("?q=发货&kind=announcement&category=news") == "搜索：发货（公告 · 新闻）"
    assert topics.describe("?type=agreement&category=market") == "搜索：任意内容（协议 · 市场管理）"
    assert topics.describe("?bad=1") == "?bad=1"
