"""The news feeds as a subscriber's reader sees them.

RSS and Atom are read with feedparser. The JSON Feed is read as JSON and checked against the JSON Feed 1.1
spec's rules (feedparser 6.0, its newest release, does not read JSON Feed).
"""

import calendar
import html
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import feedparser
import pytest
import time_machine
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone
from django.utils.http import parse_http_date

from rulecenter.announcements import services
from rulecenter.announcements.demo import load_demo, seed_items
from rulecenter.announcements.feeds import (
    FEED_LANGUAGE,
    FEED_TITLE,
    FEED_TITLE_IN_CATEGORY,
    JSON_FEED_VERSION,
)
from rulecenter.announcements.models import Announcement
from rulecenter.common.actors import SYSTEM

from .factories import category_create, published_announcement, published_series

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db

FORMATS = ["rss", "atom", "json"]
XML_FORMATS = ["rss", "atom"]
CONTENT_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}


@dataclass(frozen=True)
class Entry:
    """One item the way a reader shows it, whatever the format."""

    id: str
    title: str
    link: str
    published: datetime
    updated: datetime
    summary: str
    content_html: str
    categories: list[str]


@dataclass(frozen=True)
class Reading:
    title: str
    language: str
    home: str
    entries: list[Entry]


def url_of(fmt: str, query: str = "") -> str:
    return f"/feeds/news.{fmt}" + (f"?{query}" if query else "")


def _parsed_time(value: Any) -> datetime:
    return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)


def _rfc3339(value: str) -> datetime:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value), value
    return datetime.fromisoformat(value)


def validate_json_feed_1_1(document: dict[str, Any]) -> None:
    """The rules of https://www.jsonfeed.org/version/1.1/ that a reader relies on."""
    top_level = {
        "version", "title", "home_page_url", "feed_url", "description", "user_comment", "next_url",
        "icon", "favicon", "authors", "language", "expired", "hubs", "items",
    }  # fmt: skip
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(document["title"], str)
    assert document["title"]
    assert isinstance(document["items"], list)
    assert all(key in top_level or key.startswith("_") for key in document), set(document) - top_level
    for key in ("home_page_url", "feed_url"):
        assert urlsplit(document[key]).scheme in {"http", "https"}
    for author in document.get("authors", []):
        assert {"name", "url", "avatar"} & set(author)
    item_keys = {
        "id", "url", "external_url", "title", "content_html", "content_text", "summary", "image",
        "banner_image", "date_published", "date_modified", "authors", "tags", "language", "attachments",
    }  # fmt: skip
    for item in document["items"]:
        assert all(key in item_keys or key.startswith("_") for key in item), set(item) - item_keys
        assert isinstance(item["id"], str)
        assert item["id"]
        assert isinstance(item.get("content_html"), str) or isinstance(item.get("content_text"), str)
        for key in ("date_published", "date_modified"):
            if key in item:
                assert _rfc3339(item[key]).tzinfo is not None
        assert all(isinstance(tag, str) for tag in item.get("tags", []))


def read(response: "Response", fmt: str) -> Reading:
    """What a subscriber's reader makes of a feed response."""
    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPES[fmt]
    if fmt == "json":
        document = json.loads(response.content)
        validate_json_feed_1_1(document)
        return Reading(
            title=document["title"],
            language=document["language"],
            home=document["home_page_url"],
            entries=[
                Entry(
                    id=item["id"],
                    title=item["title"],
                    link=item["url"],
                    published=_rfc3339(item["date_published"]),
                    updated=_rfc3339(item["date_modified"]),
                    summary=item["summary"],
                    content_html=item["content_html"],
                    categories=item["tags"],
                )
                for item in document["items"]
            ],
        )
    parsed = feedparser.parse(response.content, response_headers={"content-type": response["Content-Type"]})
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == {"rss": "rss20", "atom": "atom10"}[fmt]
    return Reading(
        title=parsed.feed.title,
        language=parsed.feed.language,
        home=parsed.feed.link,
        entries=[
            Entry(
                id=entry.id,
                title=entry.title,
                link=entry.link,
                published=_parsed_time(entry.published_parsed),
                updated=_parsed_time(entry.updated_parsed),
                # The summary is HTML in both formats; a reader shows its text.
                summary=html.unescape(entry.summary),
                content_html=entry.content[0].value,
                categories=[tag.term for tag in entry.tags],
            )
            for entry in parsed.entries
        ],
    )


def fetch(client: Client, fmt: str, query: str = "", **headers: str) -> "Response":
    return client.get(url_of(fmt, query), headers=headers)


def newest_first() -> list[Announcement]:
    return list(Announcement.objects.filter(status="published").order_by("-published_at", "-id"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_feed_lists_the_seed_items_newest_first_with_their_excerpts(client: Client, fmt: str) -> None:
    """The demo feed carries the seed's 12 items in the listing's order, each with its excerpt and category."""
    load_demo()
    reading = read(fetch(client, fmt), fmt)
    assert reading.title == FEED_TITLE == "新闻动态"
    assert reading.language == FEED_LANGUAGE == "zh-cn"
    assert urlsplit(reading.home).path == "/news/"
    assert [entry.title for entry in reading.entries] == [item.title for item in seed_items()]
    stored = newest_first()
    assert [entry.summary for entry in reading.entries] == [item.excerpt for item in stored]
    assert [entry.categories for entry in reading.entries] == [[item.category.name] for item in stored]
    assert reading.entries[0].summary.startswith("为了规范1688平台的市场管理秩序")


@pytest.mark.parametrize("fmt", FORMATS)
def test_links_are_absolute_and_open_the_news_pages(client: Client, fmt: str) -> None:
    """Every item links, absolutely, to its /news/<id>/ page, and that page opens."""
    items = published_series(3, title="条目")
    reading = read(fetch(client, fmt), fmt)
    links = [entry.link for entry in reading.entries]
    assert links == [f"http://testserver/news/{item.pk}/" for item in reversed(items)]
    for link, item in zip(links, reversed(items), strict=True):
        page = client.get(urlsplit(link).path)
        assert page.status_code == 200
        assert item.title in page.content.decode()


@pytest.mark.parametrize("fmt", FORMATS)
def test_ids_are_stable_whatever_host_serves_the_feed(client: Client, fmt: str) -> None:
    """Links follow the host the reader used; ids stay on the configured site URL so nothing reappears as new."""
    item = published_announcement()
    direct = read(fetch(client, fmt), fmt).entries[0]
    via_other_host = read(fetch(client, fmt, HOST="localhost"), fmt).entries[0]
    assert direct.link == f"http://testserver/news/{item.pk}/"
    assert via_other_host.link == f"http://localhost/news/{item.pk}/"
    assert direct.id == via_other_host.id == f"{settings.RULECENTER_SITE_URL}/news/{item.pk}/"


@pytest.mark.parametrize("fmt", FORMATS)
def test_items_carry_published_and_last_corrected_dates(client: Client, fmt: str) -> None:
    """`updated` (Atom, RSS's atom:updated) and `date_modified` (JSON Feed) are the last correction."""
    published_at = datetime(2025, 2, 10, 10, 0, tzinfo=UTC)
    with time_machine.travel(datetime(2025, 2, 12, 9, 30, tzinfo=UTC), tick=False):
        item = published_announcement(published_at=published_at)
    entry = read(fetch(client, fmt), fmt).entries[0]
    assert entry.published == entry.updated == published_at
    with time_machine.travel(datetime(2025, 2, 13, 8, 15, tzinfo=UTC), tick=False):
        item.category = category_create(slug="moved")  # not a correction: the text is the same
        services.announcement_save(actor=SYSTEM, announcement=item)
    assert read(fetch(client, fmt), fmt).entries[0].updated == published_at
    with time_machine.travel(datetime(2025, 2, 14, 11, 0, tzinfo=UTC), tick=False):
        item.body = "更正后的正文。"
        services.announcement_save(actor=SYSTEM, announcement=item)
    entry = read(fetch(client, fmt), fmt).entries[0]
    assert entry.published == published_at
    assert entry.updated == datetime(2025, 2, 14, 11, 0, tzinfo=UTC)
    assert "更正后的正文" in entry.content_html


@pytest.mark.parametrize("fmt", FORMATS)
def test_items_carry_the_full_sanitised_text(client: Client, fmt: str) -> None:
    published_announcement(
        body="本次更新**重点**如下。<script>alert(1)</script>\n\n- 2025年2月10日公示\n- 2025年2月18日生效"
    )
    entry = read(fetch(client, fmt), fmt).entries[0]
    assert "<strong>重点</strong>" in entry.content_html
    assert "<li>2025年2月18日生效</li>" in entry.content_html
    assert "<script" not in entry.content_html
    assert entry.summary == "本次更新重点如下。 2025年2月10日公示 2025年2月18日生效"


@pytest.mark.parametrize("fmt", FORMATS)
def test_titles_with_markup_characters_read_as_written(client: Client, fmt: str) -> None:
    """A title with & and < shows as typed, neither as markup nor double-escaped."""
    published_announcement(title="买家&卖家须知 <重要> “新规”", summary="A&B <c> 之间")
    entry = read(fetch(client, fmt), fmt).entries[0]
    assert entry.title == "买家&卖家须知 <重要> “新规”"
    assert entry.summary == "A&B <c> 之间"


@pytest.mark.parametrize("fmt", FORMATS)
def test_drafts_are_not_in_the_feed(client: Client, fmt: str) -> None:
    published_series(2, title="公开")
    published_announcement(title="草稿公告", status=Announcement.Status.DRAFT, published_at=None)
    reading = read(fetch(client, fmt), fmt)
    assert [entry.title for entry in reading.entries] == ["公开2", "公开1"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_withdrawn_announcements_leave_the_feed(client: Client, fmt: str) -> None:
    _first, second = published_series(2, title="条目")
    services.announcement_withdraw(actor=SYSTEM, announcement=second, reason="内容有误")
    assert [entry.title for entry in read(fetch(client, fmt), fmt).entries] == ["条目1"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_category_feed_holds_only_that_category(client: Client, fmt: str) -> None:
    rules = category_create(slug="rules", name="规则变更")
    guides = category_create(slug="guides", name="规则解读")
    published_series(2, category=rules, title="规则")
    published_series(3, category=guides, title="解读")
    reading = read(fetch(client, fmt, "category=guides"), fmt)
    assert reading.title == FEED_TITLE_IN_CATEGORY.format(category="规则解读") == "新闻动态 - 规则解读"
    assert [entry.title for entry in reading.entries] == ["解读3", "解读2", "解读1"]
    assert all(entry.categories == ["规则解读"] for entry in reading.entries)
    assert reading.home == "http://testserver/news/?category=guides"
    everything = read(fetch(client, fmt), fmt)
    assert len(everything.entries) == 5


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_empty_category_value_means_all_news(client: Client, fmt: str) -> None:
    published_series(2)
    reading = read(fetch(client, fmt, "category="), fmt)
    assert reading.title == FEED_TITLE
    assert len(reading.entries) == 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_category_is_a_404_in_chinese(client: Client, fmt: str) -> None:
    published_series(1)
    response = client.get(url_of(fmt, "category=nope"))
    assert response.status_code == 404
    assert "栏目“nope”不存在，无法订阅。" in response.content.decode()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "query",
    [
        "category=%00", "category=" + "x" * 5000, "category=%E8%A7%84%E5%88%99", "category=../x",
        "category=a&category=b", "category[]=rules", "category=%ff%fe", "%=%", "&&&", "=", "page=-1",
    ],
)  # fmt: skip
def test_odd_query_strings_never_cause_a_server_error(client: Client, fmt: str, query: str) -> None:
    published_series(1, category=category_create(slug="rules"))
    assert client.get(url_of(fmt, query)).status_code in {200, 404}


@pytest.mark.parametrize("fmt", FORMATS)
def test_feeds_answer_get_and_head_only(client: Client, fmt: str) -> None:
    assert client.head(url_of(fmt)).status_code == 200
    response = client.post(url_of(fmt))
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("fmt", FORMATS)
@override_settings(RULECENTER_FEED_ITEMS=5)
def test_feed_holds_the_newest_feed_items_setting(client: Client, fmt: str) -> None:
    published_series(8, title="条目")
    titles = [entry.title for entry in read(fetch(client, fmt), fmt).entries]
    assert titles == ["条目8", "条目7", "条目6", "条目5", "条目4"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_empty_feed_is_still_a_valid_feed(client: Client, fmt: str) -> None:
    reading = read(fetch(client, fmt), fmt)
    assert reading.title == FEED_TITLE
    assert reading.entries == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_feeds_are_publicly_cacheable_with_validators(client: Client, fmt: str) -> None:
    published_series(2)
    response = fetch(client, fmt)
    assert re.fullmatch(r'W/"[0-9a-f]{16}"', response["ETag"])
    assert "public" in response["Cache-Control"]
    assert f"max-age={settings.RULECENTER_HTTP_MAX_AGE}" in response["Cache-Control"]
    last_modified = datetime.fromtimestamp(parse_http_date(response["Last-Modified"]), tz=UTC)
    assert timezone.now() - timedelta(minutes=1) < last_modified <= timezone.now()


@pytest.mark.parametrize("fmt", FORMATS)
def test_conditional_get_answers_304_without_building_the_feed(
    client: Client, fmt: str, django_assert_num_queries: Any
) -> None:
    """A reader that already has the feed gets 304 for the price of the counter read, by ETag or by date."""
    published_series(3)
    first = fetch(client, fmt)
    with django_assert_num_queries(1):
        by_etag = fetch(client, fmt, **{"If-None-Match": first["ETag"]})
    assert by_etag.status_code == 304
    assert by_etag.content == b""
    assert by_etag["ETag"] == first["ETag"]
    assert "public" in by_etag["Cache-Control"]
    with django_assert_num_queries(1):
        by_date = fetch(client, fmt, **{"If-Modified-Since": first["Last-Modified"]})
    assert by_date.status_code == 304


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_new_announcement_ends_the_304s(client: Client, fmt: str) -> None:
    published_series(2)
    first = fetch(client, fmt)
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        published_announcement(title="新公告", published_at=timezone.now())
        for headers in ({"If-None-Match": first["ETag"]}, {"If-Modified-Since": first["Last-Modified"]}):
            changed = fetch(client, fmt, **headers)
            assert changed.status_code == 200
            assert read(changed, fmt).entries[0].title == "新公告"


@pytest.mark.parametrize("fmt", FORMATS)
def test_editing_an_older_item_ends_the_304s_even_by_date(client: Client, fmt: str) -> None:
    """Last-Modified follows the listing's last change, not just the newest item's date."""
    oldest, _newer = published_series(2, title="条目")
    first = fetch(client, fmt)
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        oldest.title = "条目1（已更正）"
        services.announcement_save(actor=SYSTEM, announcement=oldest)
        changed = fetch(client, fmt, **{"If-Modified-Since": first["Last-Modified"]})
    assert changed.status_code == 200
    assert read(changed, fmt).entries[1].title == "条目1（已更正）"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_change_in_another_category_keeps_the_304(client: Client, fmt: str) -> None:
    rules = category_create(slug="rules")
    guides = category_create(slug="guides")
    published_series(2, category=rules)
    first = fetch(client, fmt, "category=rules")
    published_announcement(category=guides)
    again = fetch(client, fmt, "category=rules", **{"If-None-Match": first["ETag"]})
    assert again.status_code == 304


def test_each_format_has_its_own_etag(client: Client) -> None:
    published_series(1)
    etags = {fetch(client, fmt)["ETag"] for fmt in FORMATS}
    assert len(etags) == 3


@pytest.mark.parametrize("fmt", FORMATS)
def test_building_a_feed_costs_a_fixed_number_of_queries(
    client: Client, fmt: str, django_assert_num_queries: Any
) -> None:
    """Counter read and one query for the items; a category adds its own lookup."""
    category = category_create(slug="rules")
    published_series(30, category=category)
    with django_assert_num_queries(2):
        fetch(client, fmt)
    with django_assert_num_queries(3):
        fetch(client, fmt, "category=rules")


def test_json_feed_meets_the_1_1_spec(client: Client) -> None:
    """version URL, title, feed and home URLs, items with string ids and HTML content, RFC 3339 dates."""
    load_demo()
    document = json.loads(fetch(client, "json").content)
    validate_json_feed_1_1(document)
    assert document["version"] == JSON_FEED_VERSION
    assert document["feed_url"] == "http://testserver/feeds/news.json"
    assert document["home_page_url"] == "http://testserver/news/"
    assert document["language"] == "zh-cn"
    assert len(document["items"]) == 12
    assert all(item["content_html"].startswith("<p>") for item in document["items"])


@pytest.mark.parametrize("fmt", XML_FORMATS)
def test_xml_feeds_point_at_themselves(client: Client, fmt: str) -> None:
    category_create(slug="rules")
    response = fetch(client, fmt, "category=rules")
    parsed = feedparser.parse(response.content)
    self_links = [link.href for link in parsed.feed.links if link.rel == "self"]
    assert self_links == [f"http://testserver/feeds/news.{fmt}?category=rules"]


def test_all_three_formats_agree(client: Client) -> None:
    load_demo()
    readings = [read(fetch(client, fmt), fmt) for fmt in FORMATS]
    rss, atom, json_feed = (
        [(e.id, e.title, e.link, e.published, e.summary) for e in r.entries] for r in readings
    )
    assert rss == atom == json_feed
