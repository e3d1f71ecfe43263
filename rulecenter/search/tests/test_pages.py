"""/search/ and GET /api/v1/search: results, filters, pager, and hostile queries that never cause a 500."""

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone, translation

from rulecenter.announcements import services as announcement_services
from rulecenter.announcements.models import Announcement, Category
from rulecenter.common.actors import SYSTEM
from rulecenter.common.tests.pages import unmarked
from rulecenter.search import indexer
from rulecenter.search.models import OutboxEntry, Replica

pytestmark = pytest.mark.django_db

ENGINE_WORDS = re.compile(r"tantivy|QueryParser|Syntax ?Error|Traceback|panicked|LockBusy", re.IGNORECASE)
HOSTILE = [
    '"', '"发货', '发货"', '""', '* ^ : ( ) - +', "NEAR AND OR NOT", "发货 AND NOT 规则", "title:发货", "发货^3",
    "(发货", "发货~2", "*", "\\", "[1 TO 2]", "{}", "/.*/", "发货\x00\x07\x1b", "%", "'; DROP TABLE x;--",
    "<script>alert(1)</script>", "\u202e发货\u200b", "😀", "ＡＮＤ", "-发货", "+发货 +规则",
]  # fmt: skip
# Invalid UTF-8 and encoded lone surrogates, as a browser or a script might send them.
RAW_QUERIES = ["q=%ED%A0%80", "q=%ED%B0%80%E5%8F%91", "q=%F0%9F", "q=%FF%FE%00", "q=%C0%AF", "q=%E5%8F%91%E8"]


@pytest.fixture
def indexed(demo: None) -> None:
    indexer.catch_up(current=None)


def body(response: Any) -> str:
    return str(response.content.decode())


# The page -------------------------------------------------------------------------------------------------


def test_the_page_shows_ranked_highlighted_results_and_the_seed_pager(client: Client, indexed: None) -> None:
    response = client.get("/search/", {"q": "发货"})
    assert response.status_code == 200
    html = body(response)
    assert '<a class="search-title" href="/rules/shipping-conduct/#article-2" lang="zh-Hans">' in html
    assert "《1688商家<mark>发货</mark>行为管理规范》的更新公告" in html
    assert re.search(r"共4条 当前1/1页", html)
    assert 'value="发货"' in html


def test_every_page_has_a_search_box(client: Client, indexed: None) -> None:
    for url in ("/news/", "/rules/", "/news/1/", "/calendar/"):
        html = body(client.get(url))
        assert re.search(
            r'<form class="site-search" action="/search/" method="get" role="search" aria-label="全站搜索">',
            html,
        ), url


def test_the_pager_keeps_the_query_and_filters(client: Client, db: None, settings: Any) -> None:
    settings.RULECENTER_SEARCH_PAGE_SIZE = 2
    category = Category.objects.create(slug="news", name="新闻")
    for number in range(5):
        announcement_services.announcement_create(
            actor=SYSTEM,
            title=f"第{number}号发货通知",
            body="发货",
            category=category,
            status=Announcement.Status.PUBLISHED,
        )
    html = body(client.get("/search/", {"q": "发货", "kind": "announcement", "page": "2"}))
    assert "共5条 当前2/3页" in html
    assert 'href="?q=%E5%8F%91%E8%B4%A7&amp;kind=announcement&amp;page=3"' in html


def test_a_query_with_no_hits_offers_did_you_mean(client: Client, demo_index: None) -> None:
    html = body(client.get("/search/", {"q": "禁限卖"}))
    assert "你是不是要找" in html
    assert '<a href="?q=%E7%A6%81%E9%99%90%E5%94%AE" lang="zh-Hans">禁限售</a>' in html


def test_the_page_escapes_what_it_shows(client: Client, db: None) -> None:
    category = Category.objects.create(slug="news", name="新闻")
    announcement_services.announcement_create(
        actor=SYSTEM,
        title="<img src=x onerror=alert(1)>发货",
        body="<script>alert(2)</script>发货",
        category=category,
        status=Announcement.Status.PUBLISHED,
    )
    html = body(client.get("/search/", {"q": "发货"}))
    assert "<img src=x" not in html
    assert "<script>alert" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;<mark>发货</mark>" in html


def test_the_page_costs_a_fixed_number_of_queries(
    client: Client, indexed: None, django_assert_num_queries: Any
) -> None:
    """Filter choices (2) and this node's lag (1); the results come from the index."""
    with django_assert_num_queries(3):
        assert client.get("/search/", {"q": "协议"}).status_code == 200
    with django_assert_num_queries(3):
        assert client.get("/search/", {"q": "协议", "page": "1"}).status_code == 200


def test_an_empty_query_shows_the_form(client: Client, db: None) -> None:
    for query in ({}, {"q": ""}, {"q": "   "}):
        response = client.get("/search/", query)
        assert response.status_code == 200
        assert "输入规则名称" in body(response)


def test_bad_filters_answer_400_with_a_message(client: Client, db: None) -> None:
    for query, message in (
        ({"q": "发货", "kind": "x"}, "类型“x”无效"),
        ({"q": "发货", "category": "nope"}, "不存在"),
        ({"q": "发货", "from": "2025-02-30"}, "YYYY-MM-DD"),
    ):
        response = client.get("/search/", query)
        assert response.status_code == 400
        assert message in body(response)


def test_without_an_index_the_page_says_so(client: Client, db: None, settings: Any) -> None:
    settings.RULECENTER_SEARCH_CATCH_UP_ON_READ = False
    response = client.get("/search/", {"q": "发货"})
    assert response.status_code == 503
    assert "搜索索引还没有建立" in body(response)


# Hostile queries: 200 or 400 with a message, never a 500, never the engine's words ----------------------


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_get_a_sensible_answer(client: Client, demo_index: None, query: str) -> None:
    for url in ("/search/", "/api/v1/search"):
        response = client.get(url, {"q": query})
        assert response.status_code in (200, 400), (url, query, response.content[:300])
        assert not ENGINE_WORDS.search(body(response)), (url, query)
        if response.status_code == 400:
            assert "搜索" in body(response)


@pytest.mark.parametrize("raw", RAW_QUERIES)
def test_invalid_utf8_and_lone_surrogates_get_a_sensible_answer(
    client: Client, demo_index: None, raw: str
) -> None:
    for url in ("/search/", "/api/v1/search"):
        response = client.get(f"{url}?{raw}")
        assert response.status_code in (200, 400), (url, raw)
        assert not ENGINE_WORDS.search(body(response))


def test_a_ten_thousand_character_query_is_refused_with_a_message(client: Client, demo_index: None) -> None:
    page = client.get("/search/", {"q": "发货" * 5_000})
    assert page.status_code == 400
    assert "搜索词太长了：最多 100 个字，现在有 10000 个" in body(page)
    api = client.get("/api/v1/search", {"q": "x" * 10_000})
    assert api.status_code == 400
    assert api.json()["detail"].startswith("搜索词太长了")


def test_only_syntax_characters_answer_that_there_is_nothing_to_search(
    client: Client, demo_index: None
) -> None:
    response = client.get("/search/", {"q": '" * ^ : ( ) - +'})
    assert response.status_code == 200
    assert "没有可以搜索的文字" in body(response)


# The API ----------------------------------------------------------------------------------------------------


def test_api_answers_items_and_count(client: Client, indexed: None) -> None:
    response = client.get("/api/v1/search", {"q": "虚假发货"})
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == len(data["items"]) >= 1
    rule = next(item for item in data["items"] if item["kind"] == "rule")
    assert rule["title"] == "《1688商家发货行为管理规范》"
    assert rule["url"] == "http://testserver/rules/shipping-conduct/#article-4"
    assert "<mark>虚假发货</mark>" in rule["snippet"]
    assert (rule["version"], rule["status"], rule["clause"], rule["versions_matched"]) == (
        2,
        "in_force",
        "第四条",
        2,
    )
    assert {"title", "url", "snippet", "kind", "type", "category", "date", "score"} <= set(rule)


def test_api_filters_and_pages(client: Client, indexed: None) -> None:
    data = client.get("/api/v1/search", {"q": "协议", "kind": "rule", "category": "agreements"}).json()
    assert {item["title"] for item in data["items"]} == {"《保理服务协议》", "《诚信通服务协议》"}
    data = client.get("/api/v1/search", {"q": "协议", "page_size": "2", "page": "2"}).json()
    assert (data["page"], data["pages"], len(data["items"])) == (2, 4, 2)
    assert client.get("/api/v1/search", {"q": "协议", "page": "99"}).status_code == 404


def test_api_problems(client: Client, indexed: None) -> None:
    missing = client.get("/api/v1/search")
    assert missing.status_code == 400
    assert missing["Content-Type"].startswith("application/problem+json")
    assert missing.json()["detail"] == "请用参数 q 提供搜索词。"
    bad_kind = client.get("/api/v1/search", {"q": "发货", "kind": "everything"})
    assert bad_kind.status_code == 422
    bad_category = client.get("/api/v1/search", {"q": "发货", "category": "nope"}).json()
    assert bad_category["errors"][0]["loc"] == ["query", "category"]


def test_api_suggests_a_close_word(client: Client, demo_index: None) -> None:
    data = client.get("/api/v1/search", {"q": "意见证集"}).json()
    assert (data["count"], data["suggestion"]) == (0, "意见征集")


def test_api_without_an_index_answers_503(client: Client, db: None, settings: Any) -> None:
    settings.RULECENTER_SEARCH_CATCH_UP_ON_READ = False
    response = client.get("/api/v1/search", {"q": "发货"})
    assert response.status_code == 503
    assert response.json()["type"] == "urn:rulecenter:problem:search-unavailable"
    assert response["Retry-After"] == "30"


def test_api_dates_are_local(client: Client, demo_index: None) -> None:
    item = client.get("/api/v1/search", {"q": "反诈"}).json()["items"][0]
    assert item["date"].endswith("+08:00")
    assert timezone.now().year >= 2025


def test_the_api_costs_one_query(client: Client, indexed: None, django_assert_num_queries: Any) -> None:
    """Only this node's lag is read from the database; the results come from the index."""
    with django_assert_num_queries(1):
        assert client.get("/api/v1/search", {"q": "协议"}).status_code == 200


def test_the_admin_shows_how_far_behind_each_node_is(
    admin_client: Client, indexed: None, django_assert_num_queries: Any
) -> None:
    newest = OutboxEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    Replica.objects.create(node="node-b", position=max(0, newest - 3))
    admin_client.get("/admin/search/replica/")  # the session and the user, read once
    with django_assert_num_queries(5) as one_more_node:
        page = admin_client.get("/admin/search/replica/")
    assert page.status_code == 200
    assert "test-node" in body(page)
    behind = re.findall(r'<td class="field-behind">(\d+)</td>', page.content.decode())
    assert sorted(int(n) for n in behind) == [0, min(3, newest)]
    Replica.objects.create(node="node-c", position=0)
    with django_assert_num_queries(len(one_more_node.captured_queries)):
        admin_client.get("/admin/search/replica/")  # one more node, not one more query
    assert admin_client.get("/admin/search/outboxentry/").status_code == 200
    assert admin_client.get("/admin/search/replica/add/").status_code == 403


# In English ---------------------------------------------------------------------------------------------------

ENGLISH = {"Accept-Language": "en"}


@pytest.fixture(autouse=True)
def default_language_after() -> Iterator[None]:
    """LocaleMiddleware leaves the language it activated for a request active in this thread: reset it."""
    yield
    translation.deactivate()


def test_the_page_is_in_english_when_the_browser_asks(client: Client, indexed: None) -> None:
    form = body(client.get("/search/", headers=ENGLISH))
    assert '<html lang="en">' in form
    for text in ("Search rules and announcements", ">Kind", ">All<", ">Rules<", "Only rules in force"):
        assert text in form, text
    assert "Put a phrase in quotes to find it whole" in form
    results = body(client.get("/search/", {"q": "虚假发货"}, headers=ENGLISH))
    assert re.search(r"Version 2 .*effective \d{4}-\d\d-\d\d", results)
    assert "versions contain these words" in results
    nothing = body(client.get("/search/", {"q": "火星殖民"}, headers=ENGLISH))
    assert "No rules or announcements match “火星殖民”." in unmarked(nothing)
    too_long = client.get("/search/", {"q": "发货" * 5_000}, headers=ENGLISH)
    assert too_long.status_code == 400
    assert "The search is too long: at most 100 characters, and it has 10000." in body(too_long)
    bad_date = client.get("/search/", {"q": "发货", "from": "2025-02-30"}, headers=ENGLISH)
    assert "Date “2025-02-30” is invalid: use the format YYYY-MM-DD" in body(bad_date)
    # Chinese stays the default.
    assert "搜索规则和公告" in body(client.get("/search/"))


def test_api_errors_are_in_english_when_asked(client: Client, db: None, settings: Any) -> None:
    missing = client.get("/api/v1/search", headers=ENGLISH)
    assert missing.status_code == 400
    assert missing["Content-Language"] == "en"
    assert (missing.json()["title"], missing.json()["detail"]) == (
        "Bad request",
        "Give the words to search for in the parameter q.",
    )
    bad_type = client.get("/api/v1/search", {"q": "发货", "type": "x"}, headers=ENGLISH).json()
    assert bad_type["errors"][0]["msg"].startswith("Type “x” is invalid: choose one of rule_change, ")
    dates = client.get(
        "/api/v1/search", {"q": "发货", "from": "2025-03-01", "to": "2025-02-01"}, headers=ENGLISH
    )
    assert dates.json()["errors"][0]["msg"] == "The start date cannot be later than the end date."
    category = client.get("/api/v1/search", {"q": "发货", "category": "nope"}, headers=ENGLISH).json()
    assert category["errors"][0]["msg"] == "There is no category or rule category “nope”."
    settings.RULECENTER_SEARCH_CATCH_UP_ON_READ = False
    unavailable = client.get("/api/v1/search", {"q": "发货"}, headers=ENGLISH).json()
    assert unavailable["title"] == "Search unavailable"
    assert unavailable["detail"].startswith("The search index has not been built yet")
