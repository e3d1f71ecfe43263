"""Hostile requests (issue 12): CSV exports, body size, extreme dates, encodings, control characters,
deep search pages and the calendar file's caching. Each answer is what a user sees: a status and a message.
"""

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from pytest_django.fixtures import Settings

from rulecenter.accounts.models import Role
from rulecenter.accounts.services import member_create
from rulecenter.accounts.tests.factories import bearer, token_for, user_create
from rulecenter.announcements import services as announcement_services
from rulecenter.announcements.tests.factories import category_create
from rulecenter.common.actors import SYSTEM
from rulecenter.common.problems import PROBLEM_MEDIA_TYPE
from rulecenter.common.text import spreadsheet_cell
from rulecenter.rules import services as rule_services
from rulecenter.rules.models import ExitRequest
from rulecenter.rules.tests.factories import OLD_TEXT, rule_create, scheduled_version, shanghai
from rulecenter.search.backends import tantivy as engine

pytestmark = pytest.mark.django_db

CONTROL = "含有不可见的控制字符"


@pytest.fixture(autouse=True)
def search_dir(tmp_path: Path, settings: Settings) -> Iterator[None]:
    """Each test searches its own index: nothing touches var/, workers do not collide."""
    settings.RULECENTER_SEARCH_INDEX_DIR = tmp_path / "search"
    settings.RULECENTER_SEARCH_NODE = "test-node"
    engine.reader.forget()
    yield
    engine.reader.forget()


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-root-123"))
    return client


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content[:400]
    assert response["Content-Type"].startswith(PROBLEM_MEDIA_TYPE)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


# --- CSV export -------------------------------------------------------------------------------------------


def test_the_exit_request_export_neutralises_formulas(admin_client: Client) -> None:
    """Names, shop names, bundle titles and reasons that would start a formula reach Excel as text."""
    with time_machine.travel(shanghai(2025, 2, 1), tick=False) as clock:
        rule = rule_create()
        scheduled_version(rule, notice_at=shanghai(2025, 2, 1, 0, 1), days=8)
        new = rule_services.rule_version_create(actor=SYSTEM, rule=rule, text=OLD_TEXT + "\n\n第四条 新增。")
        bundle = rule_services.change_bundle_schedule(
            actor=SYSTEM,
            title="+发货规范变更",
            versions=[new],
            notice_at=shanghai(2025, 2, 20),
            effective_at=shanghai(2025, 3, 1),
        )
        clock.move_to(shanghai(2025, 2, 21))
        reasons = {
            "-shop": ('＝HYPERLINK("http://evil.example","点我")', '=cmd|" /C calc"!A0'),
            "@shop": ("＠店", "\t=1+1"),
            "shop_c": ("＋甲店", "\r=2"),
            "shop_d": ("－乙店", "＋1"),
            "shop_e": ("丙店", "不接受"),
        }
        for username, (shop_name, reason) in reasons.items():
            member = member_create(actor=SYSTEM, username=username, shop_name=shop_name)
            rule_services.exit_request_create(actor=SYSTEM, bundle=bundle, user=member.user, reason=reason)
    response = admin_client.post(
        "/admin/rules/exitrequest/",
        {"action": "export_csv", "_selected_action": list(ExitRequest.objects.values_list("pk", flat=True))},
    )
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["会员", "店铺", "变更包", "申请时间", "适用版本", "理由"]
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["'-shop"][1:3] == ['\'＝HYPERLINK("http://evil.example","点我")', "'+发货规范变更"]
    assert by_name["'-shop"][5] == '\'=cmd|" /C calc"!A0'
    assert by_name["'@shop"][1] == "'＠店"
    assert by_name["shop_c"][1] == "'＋甲店"
    assert by_name["shop_d"][1:2] == ["'－乙店"]
    assert by_name["shop_d"][5] == "'＋1"
    # Harmless cells are as they were: the time, the versions, a plain reason.
    assert by_name["shop_e"][1] == "丙店"
    assert by_name["shop_e"][3].startswith("2025-02-21T00:00:00+08:00")
    assert by_name["shop_e"][4] == "《1688商家发货行为管理规范》 v1"
    assert by_name["shop_e"][5] == "不接受"
    # Reasons that began with a tab or CR are stripped at input; what is left still starts no formula.
    assert by_name["'@shop"][5] == "'=1+1"
    assert by_name["shop_c"][5] == "'=2"


@pytest.mark.parametrize("cell", ["\t=1", "\r=1", "=1", "+1", "-1", "@SUM(A1)", "＝1", "＋1", "－1", "＠1"])
def test_every_formula_start_is_neutralised(cell: str) -> None:
    assert spreadsheet_cell(cell) == "'" + cell


# --- Request body size --------------------------------------------------------------------------------------


def test_the_body_limit_is_a_setting_of_two_and_a_half_megabytes(settings: Settings) -> None:
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 2_621_440


def test_a_body_over_the_limit_is_a_413_problem_on_the_api(client: Client, settings: Settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    token = token_for(user_create("editor", roles=(Role.EDITOR,)))
    category_create(slug="rules", name="规则变更")
    payload = json.dumps({"title": "大", "body": "正文" * 2000, "category": "rules"}, ensure_ascii=False)
    response = client.post(
        "/api/v1/announcements", payload, content_type="application/json", headers=bearer(token)
    )
    body = problem(response, 413)
    assert body["title"] == "请求内容过大"
    assert body["detail"].startswith("请求内容过大：最多 1 KB")
    english = client.post(
        "/api/v1/announcements",
        payload,
        content_type="application/json",
        headers={**bearer(token), "accept-language": "en"},
    )
    assert problem(english, 413)["detail"].startswith("The request is too large: at most 1 KB.")


def test_a_body_over_the_limit_is_a_413_page_elsewhere(admin_client: Client, settings: Settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
    response = admin_client.post(
        "/admin/ingest/importeditem/import/",
        {"text": "规" * (1024 * 1024), "format": "auto", "encoding": "utf-8", "source": ""},
    )
    assert response.status_code == 413
    html = response.content.decode()
    assert "请求内容过大：最多 2 MB" in html
    assert response["Content-Type"].startswith("text/html")


def test_another_bad_request_is_still_a_400_page(client: Client) -> None:
    """The 400 handler that answers 413 answers the other refusals (a host not allowed) as before."""
    response = client.get("/news/", headers={"host": "evil.example"})
    assert response.status_code == 400
    assert "请求无效，请检查后重试。" in response.content.decode()


# --- Extreme dates ------------------------------------------------------------------------------------------


@pytest.fixture
def public_rule() -> str:
    with time_machine.travel(shanghai(2025, 2, 1), tick=False):
        rule = rule_create()
        scheduled_version(rule, notice_at=shanghai(2025, 2, 10, 10))
    return rule.slug


OUT_OF_RANGE = ["9999-12-31T23:59:59-12:00", "0001-01-01", "0001-01-01T00:00+14:00"]


@pytest.mark.parametrize("at", OUT_OF_RANGE)
def test_an_instant_no_query_can_compare_is_a_404_page_with_a_message(
    client: Client, public_rule: str, at: str
) -> None:
    response = client.get(f"/rules/{public_rule}/?at={quote(at)}")
    assert response.status_code == 404
    assert f"时刻“{at}”超出可以处理的范围" in response.content.decode()


@pytest.mark.parametrize("at", OUT_OF_RANGE)
def test_an_instant_no_query_can_compare_is_a_422_problem_on_the_api(
    client: Client, public_rule: str, at: str
) -> None:
    body = problem(client.get(f"/api/v1/rules/{public_rule}/at?time={quote(at)}"), 422)
    assert body["errors"][0]["loc"] == ["query", "time"]
    assert "超出可以处理的范围" in body["detail"]


@pytest.mark.parametrize("at", ["2025-01-01T00:00+99:00", "2025-13-45", "99999-01-01"])
def test_a_malformed_instant_is_refused_with_a_message(client: Client, public_rule: str, at: str) -> None:
    response = client.get(f"/rules/{public_rule}/?at={quote(at)}")
    assert response.status_code == 404
    assert "请使用 ISO 8601 格式" in response.content.decode()
    problem(client.get(f"/api/v1/rules/{public_rule}/at?time={quote(at)}"), 422)


def test_the_last_day_of_the_calendar_is_still_a_day(client: Client, public_rule: str) -> None:
    """9999-12-31 is a valid instant and a valid last day: the answer, not an error."""
    assert client.get(f"/rules/{public_rule}/?at=9999-12-31").status_code == 200
    assert client.get(f"/api/v1/rules/{public_rule}/at?time=9999-12-31T00:00:00%2B08:00").status_code == 200
    assert client.get("/search/?q=发货&to=9999-12-31").status_code == 200
    assert client.get("/api/v1/search?q=发货&to=9999-12-31").status_code == 200
    assert client.get("/search/?q=发货&from=0001-01-01&to=9999-12-31").status_code == 200
    for url in ("/calendar/?to=9999-12-31", "/calendar.ics?to=9999-12-31&from=0001-01-01"):
        assert client.get(url).status_code == 200


# --- Unknown encodings ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["rot13", "base64", "zlib", "undefined", "no-such-codec"])
def test_an_import_with_an_unknown_encoding_says_so(admin_client: Client, encoding: str) -> None:
    upload = SimpleUploadedFile("page-1.txt", "<li>规则变更 2025-01-01</li>".encode())
    response = admin_client.post(
        "/admin/ingest/importeditem/import/",
        {"upload": upload, "format": "auto", "encoding": encoding, "source": ""},
    )
    assert response.status_code == 200
    assert f"不认识的编码“{encoding}”" in response.content.decode()


def test_the_import_command_with_an_unknown_encoding_says_so(tmp_path: Path) -> None:
    page = tmp_path / "page-1.txt"
    page.write_text("<li>规则变更 2025-01-01</li>", encoding="utf-8")
    with pytest.raises(CommandError, match="不认识的编码“rot13”"):
        call_command("import_listing", str(page), encoding="rot13")


# --- Control characters ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "codepoint"),
    [
        ("title", "规则\x0b变更", "U+000B"),
        ("title", "规则\u2028变更", "U+2028"),
        ("title", "规则\n变更", "U+000A"),
        ("body", "正文\x1b[31m", "U+001B"),
        ("body", "正文\x85", "U+0085"),
        ("body", "正文\x7f", "U+007F"),
        ("summary", "摘要\x00", "U+0000"),
    ],
)
def test_control_characters_in_announcements_are_refused(field: str, value: str, codepoint: str) -> None:
    category = category_create(slug="rules", name="规则变更")
    fields = {"title": "标题", "body": "正文", "summary": "", field: value}
    with pytest.raises(ValidationError) as caught:
        announcement_services.announcement_create(
            actor=SYSTEM,
            category=category,
            title=fields["title"],
            body=fields["body"],
            summary=fields["summary"],
        )
    message = caught.value.message_dict[field][0]
    assert message.startswith(CONTROL)
    assert codepoint in message


def test_tabs_and_line_breaks_in_bodies_are_kept() -> None:
    category = category_create(slug="rules", name="规则变更")
    created = announcement_services.announcement_create(
        actor=SYSTEM, category=category, title="标题", body="第一行\r\n\t第二行\u2028", summary="一\n二"
    )
    assert created.body == "第一行\r\n\t第二行\u2028"


def test_control_characters_in_rules_are_refused() -> None:
    rule = rule_create()
    with pytest.raises(ValidationError) as caught:
        rule_services.rule_version_create(actor=SYSTEM, rule=rule, text="第一条\x0c分页", summary="摘要\x9b")
    assert set(caught.value.message_dict) == {"text", "summary"}
    rule.title = "规则\x08"
    with pytest.raises(ValidationError) as caught:
        rule_services.rule_save(actor=SYSTEM, rule=rule)
    assert "U+0008" in caught.value.message_dict["title"][0]


def test_the_api_refuses_control_characters_with_a_422_naming_the_field(client: Client) -> None:
    token = token_for(user_create("editor", roles=(Role.EDITOR,)))
    category_create(slug="rules", name="规则变更")
    payload = {"title": "意见征集\x1b", "body": "正文", "category": "rules"}
    response = client.post(
        "/api/v1/announcements", payload, content_type="application/json", headers=bearer(token)
    )
    body = problem(response, 422)
    assert body["errors"][0]["loc"] == ["body", "title"]
    assert body["errors"][0]["type"] == "control_character"
    assert "U+001B" in body["errors"][0]["msg"]

    rule = rule_create()
    response = client.post(
        f"/api/v1/rules/{rule.slug}/versions",
        {"text": "第一条\x07"},
        content_type="application/json",
        headers=bearer(token),
    )
    assert problem(response, 422)["errors"][0]["loc"] == ["body", "text"]


def test_a_lone_surrogate_is_a_422_not_a_database_error(client: Client) -> None:
    token = token_for(user_create("editor", roles=(Role.EDITOR,)))
    category_create(slug="rules", name="规则变更")
    raw = '{"title": "标题", "body": "正文\\ud800", "category": "rules"}'
    response = client.post(
        "/api/v1/announcements", raw, content_type="application/json", headers=bearer(token)
    )
    body = problem(response, 422)
    assert body["errors"][0]["loc"] == ["body", "body"]
    assert body["errors"][0]["msg"] == "不是有效的 Unicode 文本（含有无法编码的字符）。"
    # A service called directly (a command, the admin) refuses it too.
    with pytest.raises(ValidationError) as caught:
        announcement_services.announcement_create(
            actor=SYSTEM, category=category_create(slug="x", name="x"), title="标题", body="正文\ud800"
        )
    assert "U+D800" in caught.value.message_dict["body"][0]


# --- Deep search pages ------------------------------------------------------------------------------------------


def test_a_search_page_past_the_limit_is_refused_with_a_message(client: Client, settings: Settings) -> None:
    settings.RULECENTER_SEARCH_MAX_RESULTS = 24
    settings.RULECENTER_SEARCH_PAGE_SIZE = 12
    response = client.get("/search/?q=发货&page=3")
    assert response.status_code == 400
    assert "搜索结果只能翻到第 2 页（前 24 条）" in response.content.decode()
    assert client.get("/search/?q=发货&page=" + "9" * 30).status_code == 400
    assert client.get("/search/?q=发货&page=2").status_code in (200, 404)  # within reach: the pager decides

    body = problem(client.get("/api/v1/search?q=发货&page=5&page_size=10"), 422)
    assert body["errors"][0]["loc"] == ["query", "page"]
    assert "只能翻到第 2 页" in body["detail"]
    body = problem(client.get("/api/v1/search?q=发货&page_size=100000"), 422)
    assert body["errors"][0]["loc"] == ["query", "page_size"]


# --- calendar.ics caching ---------------------------------------------------------------------------------------


def test_the_calendar_file_is_cached_by_its_state(client: Client) -> None:
    with time_machine.travel(shanghai(2025, 2, 1), tick=False) as clock:
        rule = rule_create()
        scheduled_version(rule, notice_at=shanghai(2025, 2, 1, 0, 1))
        clock.move_to(shanghai(2025, 2, 2))
        first = client.get("/calendar.ics")
        assert first.status_code == 200
        etag = first["ETag"]
        assert etag.startswith('W/"')
        assert client.get("/calendar.ics", headers={"if-none-match": etag}).status_code == 304

        # A change through the services: a new ETag, and the file says it.
        rule.title = "1688商家发货管理规范（修订）"
        rule_services.rule_save(actor=SYSTEM, rule=rule)
        changed = client.get("/calendar.ics", headers={"if-none-match": etag})
        assert changed.status_code == 200
        assert changed["ETag"] != etag
        assert "（修订）".encode() in changed.content

        # A scheduled version becomes public when its notice moment passes, lifecycle runner or not.
        version = rule_services.rule_version_create(
            actor=SYSTEM, rule=rule, text=OLD_TEXT + "\n\n第四条 新增。"
        )
        rule_services.rule_version_schedule(
            actor=SYSTEM, version=version, notice_at=shanghai(2025, 2, 10), effective_at=shanghai(2025, 2, 20)
        )
        before = client.get("/calendar.ics")
        assert b"v2" not in before.content
        assert "第 2 版".encode() not in before.content
        assert client.get("/calendar.ics", headers={"if-none-match": before["ETag"]}).status_code == 304
        clock.move_to(shanghai(2025, 2, 11))
        after = client.get("/calendar.ics", headers={"if-none-match": before["ETag"]})
        assert after.status_code == 200
        assert "第 2 版公示".encode() in after.content
