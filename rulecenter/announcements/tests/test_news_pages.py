import re

import pytest
from django.db.models import F
from django.test import Client, override_settings

from rulecenter.announcements import selectors, services
from rulecenter.announcements.demo import load_demo, seed_items
from rulecenter.announcements.models import Announcement, Category, ListingCounter
from rulecenter.common.actors import SYSTEM
from rulecenter.common.pagination import pager_for
from rulecenter.common.tests.pages import unmarked

from .factories import category_create, published_announcement, published_series

pytestmark = pytest.mark.django_db


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def titles(html: str) -> list[str]:
    return re.findall(r'class="news-title" href="/news/\d+/" lang="zh-Hans">([^<]+)</a>', html)


def test_news_lists_the_seed_items_in_order_with_their_excerpts(client: Client) -> None:
    """The demo listing reads like the seed page: its 12 titles in order, each with its excerpt."""
    load_demo()
    html = client.get("/news/").content.decode()
    seed = seed_items()
    assert titles(html) == [item.title for item in seed]
    page_text = text_of(html).replace("&amp;", "&")
    for item in seed:
        assert item.excerpt in page_text
    assert "新闻动态" in html
    assert "了解更多行业资讯" in html
    assert "共12条 当前1/1页 首页 前一页 1 后一页 尾页" in text_of(html)


@override_settings(RULECENTER_NEWS_PAGE_SIZE=5)
def test_page_two_of_three_with_five_per_page(client: Client) -> None:
    """With five per page the seed's 12 items make three pages, and page 2 shows items 6–10."""
    load_demo()
    html = client.get("/news/?page=2").content.decode()
    assert "共12条 当前2/3页" in text_of(html)
    assert titles(html) == [item.title for item in seed_items()[5:10]]
    assert 'href="?page=1" rel="prev">前一页</a>' in html
    assert 'href="?page=3" rel="next">后一页</a>' in html


def test_first_and_previous_are_disabled_on_the_first_page(client: Client) -> None:
    published_series(3)
    html = client.get("/news/").content.decode()
    assert '<span class="disabled" aria-disabled="true">首页</span>' in html
    assert '<span class="disabled" aria-disabled="true">前一页</span>' in html
    assert '<span class="disabled" aria-disabled="true">尾页</span>' in html
    assert '<span class="current" aria-current="page">1</span>' in html


def test_newest_first(client: Client) -> None:
    published_series(3, title="条目")
    assert titles(client.get("/news/").content.decode()) == ["条目3", "条目2", "条目1"]


def test_drafts_are_not_listed(client: Client) -> None:
    published_series(2)
    published_announcement(title="草稿公告", status=Announcement.Status.DRAFT, published_at=None)
    html = client.get("/news/").content.decode()
    assert "草稿公告" not in html
    assert "共2条" in text_of(html)


@pytest.mark.parametrize("page", ["abc", "0", "-1", "3", "1.5", "１", "9" * 40, ""])
def test_bad_page_numbers_are_a_404_with_a_chinese_message(client: Client, page: str) -> None:
    """Text, zero, negative, past the end or absurdly long page numbers answer 404 and say why."""
    published_series(13)
    response = client.get("/news/", {"page": page})
    assert response.status_code == 404
    assert "页码" in response.content.decode()
    assert "无效" in response.content.decode()


def test_category_filter(client: Client) -> None:
    rules = category_create(slug="rules", name="规则变更")
    guides = category_create(slug="guides", name="规则解读")
    published_series(2, category=rules, title="规则")
    published_series(3, category=guides, title="解读")
    html = client.get("/news/?category=guides").content.decode()
    assert titles(html) == ["解读3", "解读2", "解读1"]
    assert "共3条 当前1/1页" in text_of(html)
    assert 'href="?category=guides&amp;page=1"' not in html  # single page: no links anywhere
    assert client.get("/news/?category=nope").status_code == 404


def test_listing_costs_a_fixed_number_of_queries(client: Client, django_assert_num_queries) -> None:
    """Counters with categories in one query, one page of rows — however many announcements there are."""
    published_series(30)
    with django_assert_num_queries(2):
        client.get("/news/?page=2")
    category = Category.objects.get()
    with django_assert_num_queries(2):
        client.get(f"/news/?category={category.slug}&page=2")


@override_settings(RULECENTER_PAGE_CACHE_SECONDS=300)
def test_conditional_and_cached_pages_cost_one_small_query(client: Client, django_assert_num_queries) -> None:
    """A 304 and a page from the page cache read only the counters and categories."""
    published_series(30)
    etag = client.get("/news/")["ETag"]
    with django_assert_num_queries(1):
        assert client.get("/news/", headers={"if-none-match": etag}).status_code == 304
    with django_assert_num_queries(1):
        assert client.get("/news/").status_code == 200


@override_settings(RULECENTER_PAGE_CACHE_SECONDS=300)
def test_cached_page_and_etag_follow_every_change(client: Client) -> None:
    """Publishing, withdrawing and renaming or adding a category each show at once, cache or not."""
    first, *_ = published_series(3, title="条目")
    page = client.get("/news/")
    etag = page["ETag"]
    assert client.get("/news/").content == page.content

    published_announcement(title="新公告", category=first.category)
    fresh = client.get("/news/", headers={"if-none-match": etag})
    assert fresh.status_code == 200
    assert "新公告" in fresh.content.decode()

    services.announcement_withdraw(
        actor=SYSTEM, announcement=Announcement.objects.get(title="新公告"), reason="内容有误"
    )
    assert "新公告" not in client.get("/news/").content.decode()

    etag = client.get("/news/")["ETag"]
    Category.objects.filter(pk=first.category_id).update(name="改过的栏目名")
    renamed = client.get("/news/", headers={"if-none-match": etag})
    assert renamed.status_code == 200
    assert "改过的栏目名" in renamed.content.decode()

    category_create(slug="brand-new", name="新栏目")
    assert 'href="/news/?category=brand-new"' in client.get("/news/").content.decode()


def test_category_pages_read_their_own_counter(client: Client) -> None:
    """Each category's pager counts only its items, and a page past its end is a 404."""
    rules = category_create(slug="rules", name="规则变更")
    guides = category_create(slug="guides", name="规则解读")
    published_series(14, category=rules, title="规则")
    published_series(2, category=guides, title="解读")
    html = client.get("/news/?category=rules&page=2").content.decode()
    assert "共14条 当前2/2页" in text_of(html)
    assert titles(html) == ["规则2", "规则1"]
    assert 'href="?category=rules&amp;page=1" rel="prev">前一页</a>' in html
    assert client.get("/news/?category=guides&page=2").status_code == 404


@pytest.mark.parametrize("slug", ["nope", "a" * 200, "规则", "x\x00y", "rules'--"])
def test_unknown_categories_are_a_404(client: Client, slug: str) -> None:
    category_create(slug="rules", name="规则变更")
    response = client.get("/news/", {"category": slug})
    assert response.status_code == 404
    assert "栏目" in response.content.decode()


def test_deep_pages_equal_plain_offset_pages() -> None:
    """The anchored seek for deep pages returns exactly what OFFSET would, ties on published_at included."""
    category = category_create()
    other = category_create()
    items = published_series(40, category=category)
    # Some rows share a publication time: the seek must order them by id like the ORM does.
    Announcement.objects.filter(pk__in=[a.pk for a in items[10:16]]).update(
        published_at=items[10].published_at
    )
    for n in range(9):
        published_announcement(title=f"其他{n}", category=other, published_at=items[n * 4].published_at)
    published = Announcement.objects.filter(status="published").order_by("-published_at", "-id")
    original_span = selectors.ANCHOR_SPAN
    selectors.ANCHOR_SPAN = 7
    try:
        for scope in (None, category):
            stamp = selectors.listing_stamp(category=scope)
            rows = published.filter(category=scope) if scope else published
            expected = [(a.id, a.title, a.excerpt, a.published_at, a.category_id) for a in rows]
            for number in range(1, -(-len(expected) // 6) + 1):
                pager = pager_for(raw_page=str(number), total=stamp.total, size=6, window=5)
                got = selectors.listing_page(category=scope, stamp=stamp, pager=pager)
                assert [(i.id, i.title, i.excerpt, i.published_at, i.category_id) for i in got] == (
                    expected[(number - 1) * 6 : number * 6]
                )
    finally:
        selectors.ANCHOR_SPAN = original_span


def test_listing_state_reads_counters_and_categories_in_order() -> None:
    """Categories in their display order, the scope's counter, and None for an unknown slug."""
    second = category_create(slug="second", name="第二", position=2)
    first = category_create(slug="first", name="第一", position=1)
    published_series(3, category=second)
    state = selectors.listing_state(category_slug=None)
    assert state is not None
    assert [c.slug for c in state.categories] == ["first", "second"]
    assert (state.stamp.scope, state.stamp.total) == ("all", 3)
    by_category = selectors.listing_state(category_slug="second")
    assert by_category is not None
    assert by_category.category is not None
    assert by_category.category.pk == second.pk
    assert by_category.stamp.total == 3
    empty = selectors.listing_state(category_slug="first")
    assert empty is not None
    assert empty.stamp.total == 0
    assert empty.category is not None
    assert empty.category.pk == first.pk
    assert selectors.listing_state(category_slug="missing") is None


def test_conditional_get_answers_304_until_the_listing_changes(client: Client) -> None:
    published_series(2)
    first = client.get("/news/")
    etag = first["ETag"]
    assert client.get("/news/", headers={"if-none-match": etag}).status_code == 304
    published_announcement(title="新公告")
    changed = client.get("/news/", headers={"if-none-match": etag})
    assert changed.status_code == 200
    assert "新公告" in changed.content.decode()


def test_detail_shows_body_dates_category_source_and_neighbours(client: Client) -> None:
    first, second, third = published_series(3, title="条目")
    second.source_url = "https://rulechannel.example.com/rule?ruleId=1"
    second.save()
    html = client.get(f"/news/{second.pk}/").content.decode()
    assert '<h1 lang="zh-Hans">条目2</h1>' in html
    assert "2025年2月10日公示" in html
    assert second.category.name in html
    assert 'href="https://rulechannel.example.com/rule?ruleId=1"' in html
    assert f'href="/news/{third.pk}/" rel="prev" lang="zh-Hans">条目3' in html
    assert f'href="/news/{first.pk}/" rel="next" lang="zh-Hans">条目1' in html


def test_detail_of_unknown_or_draft_is_404(client: Client) -> None:
    draft = published_announcement(status=Announcement.Status.DRAFT, published_at=None)
    assert client.get(f"/news/{draft.pk}/").status_code == 404
    assert client.get("/news/999999/").status_code == 404
    assert "公告不存在" in client.get("/news/999999/").content.decode()


def test_body_html_is_sanitised(client: Client) -> None:
    item = published_announcement(body="正文<script>alert(1)</script><img src=x onerror=alert(1)> **重点**")
    html = client.get(f"/news/{item.pk}/").content.decode()
    assert "<script>" not in html
    assert "onerror" not in html
    assert "<strong>重点</strong>" in html


def test_an_imported_item_shows_the_dates_and_rules_read_from_it(client: Client) -> None:
    """公示/生效 read from the seed's first item, and its rule names linked when the library has them."""
    from django.core.management import call_command

    from rulecenter.announcements.demo import SEED_FILE
    from rulecenter.rules.demo import load_demo_rules

    load_demo_rules()
    call_command("import_listing", str(SEED_FILE), verbosity=0)
    item = Announcement.objects.get(title="《1688指定渠道禁限售规则》和其相关规则的更新公示")
    html = client.get(f"/news/{item.pk}/").content.decode()
    assert "2025-02-10" in html
    assert "2025-02-18" in html
    assert '<a href="/rules/prohibited-goods/">《1688指定渠道禁限售规则》</a>' in unmarked(html)


def test_with_a_state_lifetime_another_process_s_publish_shows_within_it_and_this_process_s_at_once(
    client: Client, settings, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:
    settings.RULECENTER_LISTING_STATE_SECONDS = 1.0
    now = [100.0]
    monkeypatch.setattr(selectors, "_clock", lambda: now[0])
    published_series(2)
    etag = client.get("/news/")["ETag"]
    # Another process publishes: here, its counter update without this process hearing of it.
    ListingCounter.objects.filter(scope=ListingCounter.ALL).update(
        published_count=F("published_count") + 1, version=F("version") + 1
    )
    now[0] = 100.9
    assert client.get("/news/", headers={"if-none-match": etag}).status_code == 304
    now[0] = 101.1
    later = client.get("/news/", headers={"if-none-match": etag})
    assert later.status_code == 200
    assert "共3条" in later.content.decode()
    # This process publishes: its next page shows it, lifetime or not.
    with django_capture_on_commit_callbacks(execute=True):
        published_announcement(title="本进程发布")
    assert "本进程发布" in client.get("/news/", headers={"if-none-match": later["ETag"]}).content.decode()


@override_settings(RULECENTER_PAGE_CACHE_SECONDS=300)
def test_a_cached_page_names_its_own_address_not_the_first_reader_s(client: Client) -> None:
    """The listing's body is kept for every reader of the page: a query string the first reader planted
    (`?utm=…`) must not reach the others' language links, language switch or printed address."""
    published_series(3)
    client.get("/news/?utm=planted")
    page = client.get("/news/").content.decode()
    assert "planted" not in page
    assert 'hreflang="en" href="http://127.0.0.1:8000/news/?lang=en"' in page
    assert '<input type="hidden" name="next" value="/news/">' in page
    category = Category.objects.get()
    second = client.get(f"/news/?category={category.slug}&page=1&utm=x").content.decode()
    assert f'hreflang="en" href="http://127.0.0.1:8000/news/?category={category.slug}&amp;lang=en"' in second
