"""Followed channels against a real local HTTP server: conditional GET, revisions, health and back-off.

The pages are served by `pages_server` (a ThreadingHTTPServer on loopback, which these tests allow with
`RULECENTER_CHANNEL_ALLOW_PRIVATE`, except where they check the refusal).
"""

import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from pytest_django.fixtures import Settings

from rulecenter.accounts.roles import RoleRequired
from rulecenter.announcements.demo import SEED_FILE
from rulecenter.announcements.models import Announcement
from rulecenter.audit.models import AuditEntry
from rulecenter.common.actors import Actor
from rulecenter.ingest import readers, services
from rulecenter.ingest.models import Channel, ChannelFetch, ExtractedFacts, ImportedItem, ImportRevision
from rulecenter.ingest.tests.pages_server import Page, PagesServer, pages_server

pytestmark = pytest.mark.django_db

PUBLISHER = Actor(user_id=None, name="publisher", roles=frozenset({"publisher"}))
EDITOR = Actor(user_id=None, name="editor", roles=frozenset({"editor"}))

ITEM = """<li><a href="{href}">{title}</a><span class="date">{date}</span><p>{excerpt}</p></li>"""


def listing_html(*items: tuple[str, str, str, str]) -> bytes:
    """A rule channel's listing page: nav, the items (href, title, date, excerpt), a sidebar, a pager."""
    rows = "\n".join(
        ITEM.format(href=href, title=title, date=day, excerpt=excerpt) for href, title, day, excerpt in items
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>规则动态</title></head><body>
<nav><a href="/">首页</a><a href="/rules/">规则</a><a href="/news/">动态</a></nav>
<main><h1>规则动态</h1><ul class="news">{rows}</ul>
<div class="pager"><a href="?page=1">1</a><a href="?page=2">2</a><a href="?page=2">下一页</a></div></main>
<aside><h3>热门文章</h3><ul><li><a href="/hot/1">如何开店</a></li><li><a href="/hot/2">保证金说明</a></li></ul></aside>
<footer>© 2025 规则转载站 · 浙ICP备00000000号</footer></body></html>""".encode()


ITEMS = (
    (
        "/a/3871.html",
        "《商家发货行为管理规范》变更公示，4月8日生效",
        "2025-04-02",
        "自2025年4月8日起，商家发货时效由72小时调整为48小时，超时发货将按规则处理。",
    ),
    (
        "/a/3866.html",
        "关于《禁限售规则》调整的意见征集结果反馈",
        "2025-03-28",
        "本次意见征集共收到有效意见212条，采纳情况及平台回应详见正文。",
    ),
    (
        "/a/3850.html",
        "先采后付-提前回款协议升级公告",
        "2025-03-20",
        "先采后付提前回款服务协议第五条、第九条调整，请商家及时查阅确认。",
    ),
)


@pytest.fixture(autouse=True)
def loopback_allowed(settings: Settings) -> None:
    settings.RULECENTER_CHANNEL_ALLOW_PRIVATE = True
    settings.RULECENTER_CHANNEL_TIMEOUT_SECONDS = 2.0


@pytest.fixture
def site() -> Iterator[PagesServer]:
    with pages_server() as server:
        server.pages["/news/"] = Page(listing_html(*ITEMS))
        yield server


def follow(site: PagesServer, path: str = "/news/", *, name: str = "规则转载站", **fields: Any) -> Channel:
    return services.channel_create(actor=PUBLISHER, name=name, urls=[site.at(path)], **fields)


def fetch_due(channel: Channel) -> ChannelFetch:
    """Fetch the channel as the worker would when its time comes."""
    Channel.objects.filter(pk=channel.pk).update(next_fetch_at=timezone.now())
    record = services.channel_fetch(channel_id=channel.pk)
    assert record is not None
    channel.refresh_from_db()
    return record


def test_a_channel_fetched_twice_imports_nothing_when_the_server_answers_304(site: PagesServer) -> None:
    channel = follow(site)
    first = fetch_due(channel)
    assert (first.outcome, first.new, first.items) == ("imported", 3, 3)
    imported = ImportedItem.objects.filter(source="127.0.0.1").order_by("announcement__published_at")
    assert [item.title for item in imported] == [title for _href, title, _date, _text in reversed(ITEMS)]
    first_item = ImportedItem.objects.get(title=ITEMS[0][1])
    announcement = first_item.announcement
    assert announcement.status == Announcement.Status.PUBLISHED
    assert announcement.source_url == site.at("/a/3871.html")  # the item's link, made absolute
    assert timezone.localtime(announcement.published_at).date() == date(2025, 4, 2)  # its own day
    assert ExtractedFacts.objects.get(announcement=announcement).effective_date == date(2025, 4, 8)

    second = fetch_due(channel)
    assert second.outcome == "not_modified", second.error
    assert (second.new, second.updated) == (0, 0)
    sent = site.seen("/news/")[-1]
    assert sent["if-none-match"].startswith('"')  # the validator came back: the server said 304
    assert sent["user-agent"].startswith("rulecenter-channels/")
    assert Announcement.objects.count() == 3
    assert channel.health == "ok"
    assert channel.failures == 0
    assert channel.items_seen == 3
    assert channel.next_fetch_at > timezone.now() + timedelta(minutes=59)


def test_the_same_bytes_without_validators_are_not_read_again(site: PagesServer) -> None:
    site.pages["/news/"].validators = False
    channel = follow(site)
    fetch_due(channel)
    again = fetch_due(channel)
    assert again.outcome == "not_modified"
    assert "if-none-match" not in site.seen("/news/")[-1]


def test_unchanged_fetches_in_a_row_are_one_record(site: PagesServer) -> None:
    channel = follow(site)
    for _fetch in range(4):
        fetch_due(channel)
    site.pages["/news/"].status = 500
    fetch_due(channel)
    site.pages["/news/"].status = 200
    fetch_due(channel)
    history = ChannelFetch.objects.filter(channel=channel).order_by("started_at", "id")
    assert [(f.outcome, f.repeats) for f in history] == [
        ("imported", 1), ("not_modified", 3), ("failed", 1), ("not_modified", 1),
    ]  # fmt: skip


def test_a_changed_item_becomes_a_revision(site: PagesServer) -> None:
    channel = follow(site)
    fetch_due(channel)
    changed = (
        ITEMS[0][0],
        ITEMS[0][1],
        ITEMS[0][2],
        "自2025年4月8日起，商家发货时效由72小时调整为36小时，超时发货将按规则处理。",
    )
    site.pages["/news/"] = Page(listing_html(changed, *ITEMS[1:]))
    record = fetch_due(channel)
    assert (record.outcome, record.new, record.updated) == ("imported", 0, 1)
    item = ImportedItem.objects.get(title=ITEMS[0][1])
    assert "36小时" in item.announcement.body
    assert "36小时" not in ImportRevision.objects.get(item=item).excerpt
    assert Announcement.objects.count() == 3


def test_a_new_item_reaches_everyone_an_announcement_reaches(site: PagesServer) -> None:
    """Imported as the channel, in the audit chain; the change hook's other listeners follow (search,
    notifications: tested with the import itself)."""
    channel = follow(site)
    fetch_due(channel)
    announcement = ImportedItem.objects.get(title=ITEMS[1][1]).announcement
    entry = AuditEntry.objects.get(kind="announcement", object_ids=f"[{announcement.pk}]", action="created")
    assert entry.actor_name == f"channel:{channel.pk}"
    assert AuditEntry.objects.filter(kind="channel", action="created").count() == 1


@pytest.mark.parametrize(
    ("page", "says"),
    [
        (Page(status=500), "HTTP 500"),
        (Page(listing_html(*ITEMS), delay=3.0), "秒内没有读完页面"),
        (Page(filler=20_000_000), "RULECENTER_CHANNEL_MAX_BYTES"),
        (Page(b"<p>short</p>", declared=20_000_000), "RULECENTER_CHANNEL_MAX_BYTES"),
        (Page(b"\x89PNG....", content_type="image/png"), "不是 HTML 或文本"),
        (Page("<html><body><p>维护中，请稍后再来。</p></body></html>".encode()), "没有找到列表项"),
    ],
    ids=["500", "timeout", "20MB-streamed", "20MB-declared", "not-text", "no-items"],
)
def test_a_failing_server_is_recorded_in_the_channels_health_and_blocks_nothing_else(
    site: PagesServer, page: Page, says: str, settings: Settings
) -> None:
    settings.RULECENTER_CHANNEL_TIMEOUT_SECONDS = 1.0
    settings.RULECENTER_CHANNEL_MAX_BYTES = 5_000_000
    site.pages["/bad/"] = page
    bad = follow(site, "/bad/", name="坏频道", source="bad.example")
    good = follow(site, name="好频道")
    records = services.channels_fetch_due()
    assert {record.channel_id: record.outcome for record in records} == {
        bad.pk: "failed",
        good.pk: "imported",
    }
    bad.refresh_from_db()
    assert says in bad.last_error, bad.last_error
    assert (bad.health, bad.failures, bad.items_seen) == ("failing", 1, 0)
    assert bad.next_fetch_at >= timezone.now() + timedelta(minutes=59)  # the interval, then doubling
    assert not ImportedItem.objects.filter(source="bad.example").exists()
    assert ImportedItem.objects.filter(source="127.0.0.1").count() == 3
    failed = ChannelFetch.objects.get(channel=bad)
    assert failed.error == bad.last_error
    assert failed.elapsed_ms < 5000


def test_failures_back_off_doubling_and_a_success_clears_them(site: PagesServer) -> None:
    site.pages["/news/"].status = 503
    channel = follow(site, interval_minutes=30)
    waits = []
    for _attempt in range(3):
        before = timezone.now()
        fetch_due(channel)
        waits.append(round((channel.next_fetch_at - before).total_seconds() / 60))
    assert waits == [30, 60, 120]
    site.pages["/news/"].status = 200
    assert fetch_due(channel).outcome == "imported"
    assert (channel.failures, channel.health, channel.last_error != "") == (0, "ok", True)


def test_a_429_waits_as_long_as_retry_after_asks(site: PagesServer) -> None:
    site.pages["/news/"] = Page(status=429, headers={"retry-after": "7200"})
    channel = follow(site, interval_minutes=10)
    fetch_due(channel)
    assert channel.next_fetch_at >= timezone.now() + timedelta(minutes=119)
    assert "HTTP 429" in channel.last_error


def test_a_redirect_is_followed_and_links_are_read_against_where_it_led(site: PagesServer) -> None:
    site.pages["/old/"] = Page(status=301, headers={"location": "/news/"})
    channel = follow(site, "/old/")
    assert fetch_due(channel).outcome == "imported"
    assert ImportedItem.objects.get(title=ITEMS[2][1]).source_url == site.at("/a/3850.html")


def test_a_redirect_loop_is_cut_off_and_said(site: PagesServer) -> None:
    site.pages["/loop/"] = Page(status=302, headers={"location": "/loop/"})
    channel = follow(site, "/loop/")
    assert fetch_due(channel).outcome == "failed"
    assert "重定向超过 5 次" in channel.last_error


def test_a_page_no_reader_expected_fails_its_channel_not_the_run(
    site: PagesServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.pages["/odd/"] = Page(listing_html(*ITEMS))
    real = readers.read_page

    def reader(text: str, *, name: str, **kwargs: Any) -> Any:
        if name.endswith("/odd/"):
            raise IndexError("list index out of range")
        return real(text, name=name, **kwargs)

    monkeypatch.setattr(services, "read_page", reader)
    odd = follow(site, "/odd/", name="怪页面", source="odd.example")
    good = follow(site, name="好频道")
    records = {record.channel_id: record.outcome for record in services.channels_fetch_due()}
    assert records == {odd.pk: "failed", good.pk: "imported"}
    odd.refresh_from_db()
    assert "读取页面时出错" in odd.last_error
    assert odd.fetching_until is None  # the lease is given back: the next fetch is at its time


def test_a_stale_copy_of_the_channel_does_not_invent_changes(site: PagesServer) -> None:
    channel = follow(site)
    stale = Channel.objects.get(pk=channel.pk)
    services.channel_update(actor=PUBLISHER, channel=channel, paused=True)
    services.channel_update(actor=PUBLISHER, channel=stale, paused=True)  # it still says "not paused"
    updates = AuditEntry.objects.filter(kind="channel", action="updated")
    assert [json.loads(entry.data or "") for entry in updates] == [{"paused": True}]


def test_the_seeds_own_text_layout_is_a_channel_too(site: PagesServer) -> None:
    site.pages["/seed.txt"] = Page(SEED_FILE.read_bytes(), content_type="text/plain; charset=utf-8")
    channel = follow(site, "/seed.txt", source="rulechannel.1688.com")
    record = fetch_due(channel)
    assert (record.outcome, record.items) == ("imported", 12)


def test_an_rss_feed_is_a_channel_too(site: PagesServer) -> None:
    entries = "".join(
        f"<item><title>{title}</title><link>https://example.com{href}</link>"
        f"<description>{text}</description><pubDate>{day} 09:00:00 +0800</pubDate></item>"
        for href, title, day, text in [
            (
                h,
                t,
                {"2025-04-02": "Wed, 02 Apr 2025", "2025-03-28": "Fri, 28 Mar 2025"}.get(
                    d, "Thu, 20 Mar 2025"
                ),
                x,
            )
            for h, t, d, x in ITEMS
        ]
    )
    feed = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>规则</title>{entries}</channel></rss>'
    site.pages["/feed.xml"] = Page(feed.encode(), content_type="application/rss+xml; charset=utf-8")
    channel = follow(site, "/feed.xml")
    assert fetch_due(channel).new == 3
    item = ImportedItem.objects.get(title=ITEMS[0][1])
    assert item.source_url == "https://example.com/a/3871.html"
    assert ExtractedFacts.objects.get(announcement=item.announcement).effective_date == date(2025, 4, 8)


def test_a_gbk_page_without_a_charset_is_read(site: PagesServer) -> None:
    site.pages["/gbk/"] = Page(
        listing_html(*ITEMS).decode().replace('<meta charset="utf-8">', "").encode("gb18030"),
        content_type="text/html",
    )
    channel = follow(site, "/gbk/")
    assert fetch_due(channel).new == 3
    assert ImportedItem.objects.filter(title=ITEMS[0][1]).exists()


def test_custom_selectors_read_a_layout_no_preset_knows(site: PagesServer) -> None:
    rows = "".join(
        f'<div class="x"><b class="t"><a href="{href}">{title}</a></b><i class="d">{day}</i></div>'
        for href, title, day, _text in ITEMS
    )
    site.pages["/odd/"] = Page(f"<html><body>{rows}</body></html>".encode())
    channel = follow(
        site, "/odd/", adapter="selectors", selectors={"item": "div.x", "title": "b.t", "date": "i.d"}
    )
    assert fetch_due(channel).new == 3


def test_only_a_due_channel_is_fetched_and_never_twice_at_once(site: PagesServer) -> None:
    channel = follow(site)
    Channel.objects.filter(pk=channel.pk).update(next_fetch_at=timezone.now() + timedelta(minutes=5))
    assert services.channel_fetch(channel_id=channel.pk) is None
    now = timezone.now()
    assert services._claimed(channel.pk, now, due_only=False) is not None
    assert services._claimed(channel.pk, now, due_only=False) is None  # taken: the lease holds it
    assert site.seen("/news/") == []


def test_a_paused_channel_is_not_fetched_and_resuming_queues_a_fetch(
    site: PagesServer, django_capture_on_commit_callbacks: Any
) -> None:
    channel = follow(site, paused=True)
    assert services.channels_fetch_due(every=True) == []
    assert channel.health == "paused"
    with django_capture_on_commit_callbacks(execute=True):
        services.channel_update(actor=PUBLISHER, channel=channel, paused=False)
    assert DBTaskResult.objects.filter(task_path__endswith="channel_fetch_task").count() == 1
    assert fetch_due(channel).outcome == "imported"
    entry = AuditEntry.objects.filter(kind="channel", action="updated").get()
    assert json.loads(entry.data or "") == {"paused": False}


def test_a_new_way_of_reading_reads_the_unchanged_page_again(site: PagesServer) -> None:
    channel = follow(site)
    fetch_due(channel)
    selectors = {"item": "ul.news li", "title": "a", "date": ".date", "excerpt": "p"}
    services.channel_update(actor=PUBLISHER, channel=channel, adapter="selectors", selectors=selectors)
    record = fetch_due(channel)
    assert "if-none-match" not in site.seen("/news/")[-1]
    assert (record.outcome, record.new, record.items) == ("imported", 0, 3)


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"urls": []}, "urls", "至少填写一个"),
        ({"urls": ["ftp://example.com/"]}, "urls", "http:// 或 https://"),
        ({"urls": ["https://user:pw@example.com/"]}, "urls", "用户名或密码"),
        ({"urls": [f"https://example.com/{n}" for n in range(11)]}, "urls", "最多 10 个"),
        ({"urls": ["https://example.com/", "https://example.com/"]}, "urls", "重复"),
        ({"interval_minutes": 1}, "interval_minutes", "5 分钟"),
        ({"name": "  "}, "name", "名称"),
        ({"adapter": "selectors", "selectors": {"item": "li"}}, "selectors", "item 和 title"),
        ({"adapter": "selectors", "selectors": {"item": "li >", "title": "a"}}, "selectors", "无法解析"),
        ({"adapter": "selectors", "selectors": {"item": "li", "title": "a", "x": "b"}}, "selectors", "未知"),
        ({"adapter": "rss"}, "adapter", ""),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(
    fields: dict[str, object], field: str, says: str
) -> None:
    arguments: dict[str, object] = {"name": "频道", "urls": ["https://example.com/news/"], **fields}
    with pytest.raises(ValidationError) as refused:
        services.channel_create(actor=PUBLISHER, **arguments)  # type: ignore[arg-type]
    assert field in refused.value.message_dict
    assert says in " ".join(refused.value.message_dict[field])
    assert not Channel.objects.exists()


def test_a_private_address_is_refused_unless_allowed(settings: Settings) -> None:
    settings.RULECENTER_CHANNEL_ALLOW_PRIVATE = False
    for url in (
        "http://127.0.0.1:8000/admin/",
        "http://10.0.0.8/",
        "http://[::1]/",
        "http://169.254.169.254/",
    ):
        with pytest.raises(ValidationError, match="内部或保留地址"):
            services.channel_create(actor=PUBLISHER, name=url, urls=[url])
    assert not Channel.objects.exists()


def test_a_name_that_resolves_inside_is_refused_when_fetched(settings: Settings) -> None:
    settings.RULECENTER_CHANNEL_ALLOW_PRIVATE = False
    channel = services.channel_create(actor=PUBLISHER, name="本机", urls=["http://localhost:9/news/"])
    assert fetch_due(channel).outcome == "failed"
    assert "内部或保留地址" in channel.last_error


def test_only_publishers_follow_channels_and_editors_may_ask_for_a_fetch(site: PagesServer) -> None:
    with pytest.raises(RoleRequired):
        services.channel_create(actor=EDITOR, name="频道", urls=[site.at("/news/")])
    channel = follow(site)
    with pytest.raises(RoleRequired):
        services.channel_update(actor=EDITOR, channel=channel, paused=True)
    Channel.objects.filter(pk=channel.pk).update(next_fetch_at=timezone.now() + timedelta(hours=1))
    services.channel_fetch_soon(actor=EDITOR, channel=channel)
    assert channel.next_fetch_at <= timezone.now()


def test_the_worker_task_fetches_and_queues_the_next_fetch(
    site: PagesServer, django_capture_on_commit_callbacks: Any
) -> None:
    from rulecenter.ingest.tasks import channel_fetch_task

    with django_capture_on_commit_callbacks(execute=True):
        channel = follow(site)
    fetches = DBTaskResult.objects.filter(task_path__endswith="channel_fetch_task")
    queued = fetches.get()  # the first fetch, at once
    assert queued.run_after <= timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert channel_fetch_task.call(channel_id=channel.pk) == "imported"
    following = fetches.exclude(pk=queued.pk).get()  # the next, at the channel's next time
    assert following.run_after > timezone.now() + timedelta(minutes=59)
    assert channel_fetch_task.call(channel_id=channel.pk) is None  # not due yet: nothing fetched
