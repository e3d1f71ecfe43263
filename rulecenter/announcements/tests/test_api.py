from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from rulecenter.accounts.models import ApiToken, Role
from rulecenter.accounts.tests.factories import bearer, token_for, user_create, user_with_permissions
from rulecenter.announcements import selectors, services
from rulecenter.announcements.demo import load_demo, seed_items
from rulecenter.announcements.models import Announcement
from rulecenter.common import idempotency
from rulecenter.common.models import IdempotentRequest
from rulecenter.common.problems import PROBLEM_MEDIA_TYPE

from .factories import category_create, published_announcement, published_series

pytestmark = pytest.mark.django_db

LIST = "/api/v1/announcements"


def problem(response: Any, status: int) -> dict[str, Any]:
    """The response's problem body, after checking it is an RFC 7807 problem with `status`."""
    assert response.status_code == status, response.content.decode()
    assert response["Content-Type"].startswith(PROBLEM_MEDIA_TYPE)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:rulecenter:problem:")
    assert body["title"]
    assert body["detail"]
    return body


# --- GET /announcements ------------------------------------------------------------------------------


def test_list_answers_the_seed_items_newest_first_with_their_count(client: Client) -> None:
    load_demo()
    body = client.get(LIST, {"page_size": 20}).json()
    assert body["count"] == 12
    assert [item["title"] for item in body["items"]] == [item.title for item in seed_items()]
    first = body["items"][0]
    assert set(first) == {"id", "title", "excerpt", "published_at", "category", "url"}
    assert first["category"] == {"slug": "rule-changes", "name": "规则变更"}
    assert first["url"] == f"http://testserver/news/{first['id']}/"
    assert first["published_at"] == "2025-02-10T18:00:00+08:00"


def test_list_defaults_to_the_news_page_size(client: Client, settings: Any) -> None:
    settings.RULECENTER_NEWS_PAGE_SIZE = 5
    published_series(7)
    assert len(client.get(LIST).json()["items"]) == 5


def test_list_pages(client: Client) -> None:
    published_series(12, title="条目")
    body = client.get(LIST, {"page": 3, "page_size": 5}).json()
    assert body["count"] == 12
    assert [item["title"] for item in body["items"]] == ["条目2", "条目1"]


def test_list_filters_by_category(client: Client) -> None:
    rules = category_create(slug="rules", name="规则变更")
    guides = category_create(slug="guides", name="规则解读")
    published_series(2, category=rules, title="规则")
    published_series(3, category=guides, title="解读")
    body = client.get(LIST, {"category": "guides"}).json()
    assert body["count"] == 3
    assert [item["title"] for item in body["items"]] == ["解读3", "解读2", "解读1"]
    assert {item["category"]["slug"] for item in body["items"]} == {"guides"}


def test_list_leaves_out_drafts(client: Client) -> None:
    published_series(2)
    published_announcement(title="草稿", status=Announcement.Status.DRAFT, published_at=None)
    body = client.get(LIST).json()
    assert body["count"] == 2
    assert "草稿" not in [item["title"] for item in body["items"]]


def test_an_empty_listing_has_one_empty_page(client: Client) -> None:
    assert client.get(LIST).json() == {"items": [], "count": 0}


def test_a_page_past_the_end_is_a_404_problem(client: Client) -> None:
    published_series(3)
    body = problem(client.get(LIST, {"page": 2, "page_size": 3}), 404)
    assert body["detail"] == "页码“2”无效：页码必须是 1 到 1 之间的整数。"
    assert body["instance"] == LIST


@pytest.mark.parametrize(
    ("page", "message"), [("0", "不能小于 1。"), ("-1", "不能小于 1。"), ("abc", "必须是整数。")]
)
def test_a_bad_page_is_a_422_problem_naming_the_parameter(client: Client, page: str, message: str) -> None:
    body = problem(client.get(LIST, {"page": page}), 422)
    assert body["errors"][0]["loc"] == ["query", "page"]
    assert body["errors"][0]["msg"] == message


@override_settings(RULECENTER_API_MAX_PAGE_SIZE=30)
def test_page_size_above_the_maximum_is_a_422_problem(client: Client) -> None:
    body = problem(client.get(LIST, {"page_size": 31}), 422)
    assert body["errors"] == [
        {"loc": ["query", "page_size"], "msg": "每页最多 30 条。", "type": "less_than_equal"}
    ]
    assert client.get(LIST, {"page_size": 30}).status_code == 200


def test_an_unknown_category_is_a_422_problem(client: Client) -> None:
    body = problem(client.get(LIST, {"category": "nope"}), 422)
    assert body["errors"] == [
        {"loc": ["query", "category"], "msg": "栏目“nope”不存在。", "type": "category_unknown"}
    ]


def test_list_costs_three_queries_and_never_counts_rows(
    client: Client, django_assert_num_queries: Any, django_assert_max_num_queries: Any
) -> None:
    """Counter, one page of rows, categories — however many announcements there are; no COUNT(*)."""
    published_series(30)
    with django_assert_num_queries(3) as captured:
        assert client.get(LIST, {"page": 2, "page_size": 10}).status_code == 200
    assert not any("COUNT(" in query["sql"].upper() for query in captured.captured_queries)


def test_list_by_category_costs_three_queries(client: Client, django_assert_num_queries: Any) -> None:
    """Category by slug, its counter, one page of rows."""
    category = category_create(slug="rules")
    published_series(15, category=category)
    with django_assert_num_queries(3):
        assert client.get(LIST, {"category": "rules", "page": "2", "page_size": "5"}).status_code == 200


def test_list_count_comes_from_the_listing_counter(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    published_series(2)
    stamp = selectors.listing_stamp()
    monkeypatch.setattr(
        selectors, "listing_stamp", lambda **kwargs: type(stamp)(stamp.scope, 999, stamp.version)
    )
    assert client.get(LIST).json()["count"] == 999


# --- GET /announcements/{id} -------------------------------------------------------------------------


def test_detail_answers_every_field(client: Client) -> None:
    category = category_create(slug="rules", name="规则变更")
    item = published_announcement(
        title="《规则》更新公示",
        body="本次更新 **2025年2月18日** 生效。",
        summary="摘要文字",
        kind=Announcement.Kind.RULE_CHANGE,
        category=category,
        source_url="https://rulechannel.example.com/rule?ruleId=1",
        published_at=datetime(2025, 2, 10, 10, 0, tzinfo=UTC),
    )
    body = client.get(f"{LIST}/{item.pk}").json()
    assert body == {
        "id": item.pk,
        "title": "《规则》更新公示",
        "summary": "摘要文字",
        "excerpt": "摘要文字",
        "body": "本次更新 **2025年2月18日** 生效。",
        "body_html": "<p>本次更新 <strong>2025年2月18日</strong> 生效。</p>\n",
        "kind": "rule_change",
        "category": {"slug": "rules", "name": "规则变更"},
        "source_url": "https://rulechannel.example.com/rule?ruleId=1",
        "status": "published",
        "published_at": "2025-02-10T18:00:00+08:00",
        "url": f"http://testserver/news/{item.pk}/",
        "statutory": False,
        "corrected_at": None,
        "approved_at": None,
        "review_comment": "",
        "segments": [],
        "translations": [],
    }


def test_detail_of_a_draft_or_unknown_id_is_a_404_problem(client: Client) -> None:
    draft = published_announcement(status=Announcement.Status.DRAFT, published_at=None)
    assert problem(client.get(f"{LIST}/{draft.pk}"), 404)["detail"] == "公告不存在或已撤回。"
    assert problem(client.get(f"{LIST}/999999"), 404)["detail"] == "公告不存在或已撤回。"
    problem(client.get(f"{LIST}/abc"), 404)


def test_detail_problem_in_english(client: Client) -> None:
    body = problem(client.get(f"{LIST}/999999", headers={"accept-language": "en"}), 404)
    assert body["title"] == "Not found"
    assert body["detail"] == "The announcement does not exist or has been withdrawn."


# --- POST /announcements -----------------------------------------------------------------------------


@pytest.fixture
def editor() -> User:
    return user_create("editor", roles=(Role.EDITOR,))


@pytest.fixture
def editor_token(editor: User) -> str:
    return token_for(editor)


def post(client: Client, payload: dict[str, Any], token: str | None = None, **headers: str) -> Any:
    all_headers = {**(bearer(token) if token else {}), **headers}
    return client.post(LIST, payload, content_type="application/json", headers=all_headers)


def valid_payload(**overrides: Any) -> dict[str, Any]:
    category_create(slug="rules", name="规则变更")
    return {"title": "《新规则》意见征集", "body": "欢迎提出 **意见**。", "category": "rules", **overrides}


def test_an_editor_creates_a_draft(client: Client, editor_token: str) -> None:
    response = post(client, valid_payload(kind="consultation_result", summary="摘要"), editor_token)
    assert response.status_code == 201
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    stored = Announcement.objects.get(pk=body["id"])
    assert stored.title == "《新规则》意见征集"
    assert stored.status == Announcement.Status.DRAFT
    assert stored.kind == Announcement.Kind.CONSULTATION_RESULT
    assert stored.body_html == "<p>欢迎提出 <strong>意见</strong>。</p>\n"
    assert body["status"] == "draft"
    assert body["url"] is None
    assert body["category"] == {"slug": "rules", "name": "规则变更"}
    assert selectors.listing_stamp().total == 0


def test_not_even_an_editor_and_publisher_publishes_without_review(client: Client) -> None:
    """Four eyes: nobody creates an announcement already published; it goes draft → approve → publish."""
    user = user_create("chief", roles=(Role.EDITOR, Role.REVIEWER, Role.PUBLISHER))
    at = "2025-02-10T18:00:00+08:00"
    body = problem(post(client, valid_payload(status="published", published_at=at), token_for(user)), 403)
    assert body["detail"] == services.PUBLISH_NEEDS_REVIEW
    assert "status=draft" in body["detail"]
    assert not Announcement.objects.exists()
    assert client.get(LIST).json()["count"] == 0


def test_anonymous_write_is_a_401_problem_with_a_challenge(client: Client) -> None:
    response = post(client, valid_payload())
    body = problem(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="rulecenter"'
    assert "Authorization: Bearer" in body["detail"]
    assert not Announcement.objects.exists()


@pytest.mark.parametrize("header", ["Bearer rc_not-a-real-token", "Bearer ", "Basic YWxpY2U6cHc=", "rc_abc"])
def test_a_wrong_token_is_a_401_problem(client: Client, header: str) -> None:
    response = client.post(
        LIST, valid_payload(), content_type="application/json", headers={"Authorization": header}
    )
    problem(response, 401)
    assert not Announcement.objects.exists()


def test_a_revoked_token_or_disabled_user_is_refused(client: Client, editor: User) -> None:
    revoked, active = token_for(editor), token_for(editor)
    ApiToken.objects.filter(prefix=revoked[:10]).update(revoked_at=timezone.now())
    body = problem(post(client, valid_payload(), revoked), 401)
    assert body["detail"] == "API 令牌无效或已被吊销。"
    editor.is_active = False
    editor.save()
    problem(post(client, valid_payload(), active), 401)
    assert not Announcement.objects.exists()


def test_a_user_without_the_editor_role_is_a_403_problem(client: Client) -> None:
    for user in (user_create("member"), user_create("reviewer", roles=(Role.REVIEWER,))):
        body = problem(post(client, valid_payload(), token_for(user)), 403)
        assert body["detail"] == "此操作需要“编辑”角色。"
    assert not Announcement.objects.exists()


def test_a_permission_granted_outside_the_roles_does_not_make_an_editor(client: Client) -> None:
    """Roles hold in the service: a stray permission on the account opens no door."""
    staff = user_with_permissions("staff", "add_announcement", is_staff=True)
    body = problem(post(client, valid_payload(), token_for(staff)), 403)
    assert body["detail"] == "此操作需要“编辑”角色。"
    assert not Announcement.objects.exists()


def test_an_editor_may_not_publish_directly(client: Client, editor_token: str) -> None:
    body = problem(post(client, valid_payload(status="published"), editor_token), 403)
    assert body["detail"] == "此操作需要“发布”角色。"
    assert not Announcement.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "loc", "message"),
    [
        ({"category": "nope"}, ["body", "category"], "栏目“nope”不存在。"),
        ({"title": ""}, ["body", "title"], "不能为空。"),
        ({"title": "   "}, ["body", "title"], "此字段不能为空。"),
        ({"title": "长" * 201}, ["body", "title"], "最多 200 个字符。"),
        ({"body": ""}, ["body", "body"], "不能为空。"),
        ({"body": "  \n "}, ["body", "body"], "正文不能为空。"),
        ({"kind": "gossip"}, ["body", "kind"], "必须是以下之一："),
        ({"status": "archived"}, ["body", "status"], "必须是以下之一："),
        ({"published_at": "2025-02-30T10:00:00+08:00"}, ["body", "published_at"], "不是有效的日期时间"),
        ({"published_at": "2025-02-10T10:00:00"}, ["body", "published_at"], "必须带时区"),
        ({"source_url": "javascript:alert(1)"}, ["body", "source_url"], "输入一个有效的 URL。"),
        ({"title": None}, ["body", "title"], "必须是字符串。"),
        ({"published_at": 0}, ["body", "published_at"], "不是有效的日期时间"),
    ],
)
def test_bad_input_is_a_422_problem_naming_the_field_and_stores_nothing(
    client: Client, editor_token: str, overrides: dict[str, Any], loc: list[str], message: str
) -> None:
    body = problem(post(client, valid_payload(**overrides), editor_token), 422)
    assert [error["loc"] for error in body["errors"]] == [loc]
    assert body["errors"][0]["msg"].startswith(message)
    assert not Announcement.objects.exists()


def test_every_missing_field_is_reported_at_once(client: Client, editor_token: str) -> None:
    body = problem(post(client, {}, editor_token), 422)
    assert {tuple(error["loc"]) for error in body["errors"]} == {
        ("body", "title"),
        ("body", "body"),
        ("body", "category"),
    }
    assert {error["msg"] for error in body["errors"]} == {"缺少此字段。"}
    assert body["detail"] == "请求中有 3 处错误，详见 errors。"


def test_field_errors_in_english(client: Client, editor_token: str) -> None:
    response = post(client, {}, editor_token, **{"Accept-Language": "en"})
    body = problem(response, 422)
    assert body["title"] == "Invalid request"
    assert {error["msg"] for error in body["errors"]} == {"This field is required."}


@pytest.mark.parametrize("raw", ["{not json", '["a list"]', '"text"'])
def test_a_body_that_is_not_a_json_object_is_a_problem(client: Client, editor_token: str, raw: str) -> None:
    response = client.post(LIST, raw, content_type="application/json", headers=bearer(editor_token))
    assert response.status_code in (400, 422)
    problem(response, response.status_code)
    assert not Announcement.objects.exists()


def test_unparsable_json_is_a_400_problem(client: Client, editor_token: str) -> None:
    response = client.post(LIST, "{not json", content_type="application/json", headers=bearer(editor_token))
    assert problem(response, 400)["detail"] == "请求体不是有效的 JSON。"


# --- Idempotency-Key ---------------------------------------------------------------------------------


def test_the_same_idempotency_key_creates_once_and_answers_the_same(
    client: Client, editor_token: str
) -> None:
    payload = valid_payload()
    first = post(client, payload, editor_token, **{"Idempotency-Key": "req-1"})
    again = post(client, payload, editor_token, **{"Idempotency-Key": "req-1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Announcement.objects.count() == 1


def test_an_idempotency_key_reused_for_another_request_is_a_422_problem(
    client: Client, editor_token: str
) -> None:
    post(client, valid_payload(), editor_token, **{"Idempotency-Key": "req-1"})
    body = problem(
        post(client, valid_payload(title="另一条"), editor_token, **{"Idempotency-Key": "req-1"}), 422
    )
    assert body["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert Announcement.objects.count() == 1


def test_idempotency_keys_belong_to_one_user(client: Client, editor_token: str) -> None:
    other = token_for(user_create("editor2", roles=(Role.EDITOR,)))
    payload = valid_payload()
    post(client, payload, editor_token, **{"Idempotency-Key": "shared"})
    post(client, payload, other, **{"Idempotency-Key": "shared"})
    assert Announcement.objects.count() == 2


def test_a_refused_write_is_not_remembered(client: Client, editor_token: str) -> None:
    """A 422 wrote nothing, so the same key may be used again once the input is fixed."""
    problem(post(client, valid_payload(category="nope"), editor_token, **{"Idempotency-Key": "k"}), 422)
    assert not IdempotentRequest.objects.exists()
    assert post(client, valid_payload(), editor_token, **{"Idempotency-Key": "k"}).status_code == 201


def test_a_request_racing_another_with_the_same_key_is_a_409_problem_and_writes_nothing(
    client: Client, editor: User, editor_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests with one key: the one that commits second is refused and its write rolled back."""
    payload = valid_payload()
    IdempotentRequest.objects.create(
        user=editor,
        key="race",
        operation="announcement_create",
        fingerprint="x",
        status=201,
        response_body="{}",
    )
    # As if the other request committed between this one's lookup and its insert.
    monkeypatch.setattr(idempotency, "_stored", lambda user, key: None)
    body = problem(post(client, payload, editor_token, **{"Idempotency-Key": "race"}), 409)
    assert "正在处理" in body["detail"]
    assert not Announcement.objects.exists()


def test_an_expired_idempotency_key_may_be_used_afresh(client: Client, editor_token: str) -> None:
    payload = valid_payload()
    post(client, payload, editor_token, **{"Idempotency-Key": "old"})
    IdempotentRequest.objects.update(created_at=timezone.now() - timedelta(days=2))
    again = post(client, payload, editor_token, **{"Idempotency-Key": "old"})
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert Announcement.objects.count() == 2


def test_expired_idempotency_keys_are_forgotten_as_new_ones_arrive(
    client: Client, editor: User, editor_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idempotency, "PRUNE_BATCH", 3)
    for n in range(5):
        IdempotentRequest.objects.create(
            user=editor, key=f"old-{n}", operation="x", fingerprint="x", status=201, response_body="{}"
        )
    IdempotentRequest.objects.update(created_at=timezone.now() - timedelta(days=2))
    post(client, valid_payload(), editor_token, **{"Idempotency-Key": "new-1"})
    assert IdempotentRequest.objects.count() == 3  # 5 expired - 3 + the new one
    post(client, valid_payload(title="第二条"), editor_token, **{"Idempotency-Key": "new-2"})
    assert sorted(IdempotentRequest.objects.values_list("key", flat=True)) == ["new-1", "new-2"]


def test_every_endpoint_has_a_url_name() -> None:
    assert reverse("api:announcement-list") == LIST
    assert reverse("api:announcement-detail", args=[7]) == f"{LIST}/7"
    assert reverse("api:announcement-create") == LIST
    assert reverse("api:announcement-update", args=[7]) == f"{LIST}/7"
    assert reverse("api:announcement-delete", args=[7]) == f"{LIST}/7"
    assert reverse("api:announcement-approve", args=[7]) == f"{LIST}/7/approve"
    assert reverse("api:announcement-send-back", args=[7]) == f"{LIST}/7/send-back"
    assert reverse("api:announcement-publish", args=[7]) == f"{LIST}/7/publish"
    assert reverse("api:announcement-withdraw", args=[7]) == f"{LIST}/7/withdraw"
    assert reverse("api:openapi-json") == "/api/v1/openapi.json"
