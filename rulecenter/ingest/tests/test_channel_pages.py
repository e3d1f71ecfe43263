"""Channels through their doors: the API (/api/v1/channels), the admin and `rulecenter fetch_channels`."""

from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from rulecenter.accounts.models import Role
from rulecenter.accounts.tests.factories import bearer, token_for, user_create
from rulecenter.ingest import services
from rulecenter.ingest.models import Channel, ImportedItem
from rulecenter.ingest.tests.pages_server import Page, PagesServer, pages_server
from rulecenter.ingest.tests.test_channels import ITEMS, PUBLISHER, listing_html

pytestmark = pytest.mark.django_db

API = "/api/v1/channels"


@pytest.fixture(autouse=True)
def loopback_allowed(settings: Settings) -> None:
    settings.RULECENTER_CHANNEL_ALLOW_PRIVATE = True
    settings.RULECENTER_CHANNEL_TIMEOUT_SECONDS = 2.0


@pytest.fixture
def site() -> Iterator[PagesServer]:
    with pages_server() as server:
        server.pages["/news/"] = Page(listing_html(*ITEMS))
        server.pages["/down/"] = Page(status=500)
        yield server


def headers_for(*roles: Role) -> dict[str, str]:
    user = user_create("staff-" + "-".join(role.value for role in roles), roles=roles, is_staff=True)
    return bearer(token_for(user))


def test_a_publisher_follows_pauses_and_inspects_a_channel_through_the_api(
    client: Client, site: PagesServer
) -> None:
    publisher = headers_for(Role.PUBLISHER)
    created = client.post(
        API,
        {"name": "规则转载站", "urls": [site.at("/news/")], "interval_minutes": 30},
        content_type="application/json",
        headers=publisher,
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["health"], body["source"], body["urls"], body["fetches"]) == (
        "new",
        "127.0.0.1",
        [site.at("/news/")],
        [],
    )
    services.channel_fetch(channel_id=body["id"])
    detail = client.get(f"{API}/{body['id']}", headers=headers_for(Role.EDITOR)).json()
    assert detail["health"] == "ok"
    assert detail["items_seen"] == 3
    assert [(f["outcome"], f["new"], f["status"]) for f in detail["fetches"]] == [("imported", 3, 200)]
    assert detail["pages"][0]["etag"].startswith('"')

    paused = client.patch(
        f"{API}/{body['id']}", {"paused": True}, content_type="application/json", headers=publisher
    )
    assert (paused.status_code, paused.json()["health"]) == (200, "paused")
    listed = client.get(API, headers=publisher).json()
    assert (listed["count"], listed["items"][0]["paused"]) == (1, True)


def test_bad_input_is_a_422_naming_the_field_in_the_readers_language(
    client: Client, site: PagesServer
) -> None:
    publisher = headers_for(Role.PUBLISHER)
    bad = client.post(
        API,
        {"name": "x", "urls": ["ftp://example.com/"], "adapter": "selectors", "selectors": {"item": "li"}},
        content_type="application/json",
        headers={**publisher, "Accept-Language": "en"},
    )
    assert bad.status_code == 422, bad.content
    assert bad["Content-Type"].startswith("application/problem+json")
    assert "http:// or https://" in bad.content.decode()
    too_often = client.post(
        API, {"name": "x", "urls": [site.at("/news/")], "interval_minutes": 1}, content_type="application/json",
        headers=publisher,
    )  # fmt: skip
    assert too_often.status_code == 422
    assert not Channel.objects.exists()


def test_roles_decide_who_follows_and_who_only_looks(client: Client, site: PagesServer) -> None:
    editor = headers_for(Role.EDITOR)
    refused = client.post(
        API, {"name": "x", "urls": [site.at("/news/")]}, content_type="application/json", headers=editor
    )
    assert refused.status_code == 403
    channel = services.channel_create(actor=PUBLISHER, name="规则转载站", urls=[site.at("/news/")])
    assert client.get(API, headers=editor).status_code == 200
    assert client.post(f"{API}/{channel.pk}/fetch", headers=editor).status_code == 202
    assert client.get(API).status_code == 401
    member = bearer(token_for(user_create("shop")))
    assert client.get(API, headers=member).status_code == 403
    assert client.get(f"{API}/999", headers=editor).status_code == 404


def test_the_command_fetches_due_channels_and_fails_loudly_when_one_fails(site: PagesServer) -> None:
    good = services.channel_create(actor=PUBLISHER, name="好频道", urls=[site.at("/news/")])
    services.channel_create(actor=PUBLISHER, name="坏频道", urls=[site.at("/down/")], source="down.example")
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("fetch_channels", stdout=out)
    assert failed.value.returncode == 1
    printed = out.getvalue()
    assert "✓ 好频道：读到 3 条，新增 3 条" in printed
    assert "✗ 坏频道: 服务器回应 HTTP 500。" in printed
    out = StringIO()
    call_command("fetch_channels", "--channel", str(good.pk), stdout=out)  # not due, but named: fetched
    assert "好频道：未变化" in out.getvalue()
    with pytest.raises(CommandError, match="没有编号为 999 的频道"):
        call_command("fetch_channels", "--channel", "999")


def staff_client(*roles: Role) -> Client:
    client = Client()
    client.force_login(user_create("admin-" + "-".join(r.value for r in roles), roles=roles, is_staff=True))
    return client


def admin_form(site: PagesServer, **fields: Any) -> dict[str, Any]:
    form = {
        "name": "规则转载站",
        "urls": site.at("/news/") + "\n" + site.at("/news/?page=2"),
        "source": "",
        "adapter": "auto",
        "format": "auto",
        "interval_minutes": "60",
        **{
            f"{prefix}-{key}": value
            for prefix in ("pages", "fetches")
            for key, value in (
                ("TOTAL_FORMS", "0"),
                ("INITIAL_FORMS", "0"),
                ("MIN_NUM_FORMS", "0"),
                ("MAX_NUM_FORMS", "0"),
            )
        },
    }
    form.update(fields)
    return form


def test_a_publisher_adds_a_channel_in_the_admin_and_sees_its_health(site: PagesServer) -> None:
    client = staff_client(Role.PUBLISHER)
    added = client.post("/admin/ingest/channel/add/", admin_form(site))
    assert added.status_code == 302, added.content.decode()[-3000:]
    channel = Channel.objects.get()
    assert [page.url for page in channel.pages.all()] == [site.at("/news/"), site.at("/news/?page=2")]
    site.pages["/news/?page=2"] = Page(
        listing_html(("/a/1.html", "第二页的一条规则变更公告", "2025-01-02", ""))
    )
    services.channel_fetch(channel_id=channel.pk)
    assert ImportedItem.objects.count() == 4
    page = client.get(f"/admin/ingest/channel/{channel.pk}/change/").content.decode()
    assert "正常" in page
    assert "已读取并导入" in page
    listing = client.get("/admin/ingest/channel/").content.decode()
    assert "规则转载站" in listing
    changed = client.post(
        f"/admin/ingest/channel/{channel.pk}/change/",
        admin_form(site, interval_minutes="30", source="another.example"),
    )
    assert changed.status_code == 302, changed.content.decode()[-2000:]
    channel.refresh_from_db()
    assert (channel.interval_minutes, channel.source) == (
        30,
        "127.0.0.1",
    )  # the source stays: items' identity


def test_the_admin_form_names_a_bad_url_and_saves_nothing(site: PagesServer, settings: Settings) -> None:
    settings.RULECENTER_CHANNEL_ALLOW_PRIVATE = False
    client = staff_client(Role.PUBLISHER)
    answer = client.post("/admin/ingest/channel/add/", admin_form(site, urls="http://127.0.0.1:8000/admin/"))
    assert answer.status_code == 200
    assert "内部或保留地址" in answer.content.decode()
    answer = client.post(
        "/admin/ingest/channel/add/",
        admin_form(site, adapter="selectors", selector_item="li >", selector_title="a"),
    )
    assert "无法解析" in answer.content.decode()
    assert not Channel.objects.exists()


def test_an_editor_sees_channels_but_cannot_add_one_and_actions_pause_and_fetch(site: PagesServer) -> None:
    channel = services.channel_create(actor=PUBLISHER, name="规则转载站", urls=[site.at("/news/")])
    editor = staff_client(Role.EDITOR)
    assert editor.get("/admin/ingest/channel/").status_code == 200
    assert editor.get("/admin/ingest/channel/add/").status_code == 403
    publisher = staff_client(Role.PUBLISHER)
    publisher.post("/admin/ingest/channel/", {"action": "pause", "_selected_action": [channel.pk]})
    channel.refresh_from_db()
    assert channel.paused
    publisher.post("/admin/ingest/channel/", {"action": "resume", "_selected_action": [channel.pk]})
    channel.refresh_from_db()
    assert not channel.paused
    assert channel.next_fetch_at <= timezone.now()
