import pytest
import time_machine
from django.test import Client

from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import actor_for
from rulecenter.accounts.tests.factories import bearer, token_for, user_create
from rulecenter.common.actors import SYSTEM
from rulecenter.rules import services
from rulecenter.rules.demo import load_demo_rules
from rulecenter.rules.models import LifecycleEvent, Rule, RuleVersion

from .factories import OLD_TEXT, category_create, rule_create, shanghai

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


@pytest.fixture
def demo() -> None:
    load_demo_rules()


@pytest.fixture
def editor_headers() -> dict[str, str]:
    return bearer(token_for(user_create("editor", roles=(Role.EDITOR,))))


@pytest.fixture
def drafting_publisher_headers() -> dict[str, str]:
    """One person who both drafts and schedules (and still needs someone else's approval)."""
    return bearer(token_for(user_create("both", roles=(Role.EDITOR, Role.PUBLISHER))))


@pytest.fixture
def publisher_headers() -> dict[str, str]:
    return bearer(token_for(user_create("publisher", roles=(Role.PUBLISHER,))))


def test_rules_list_with_the_version_in_force(client: Client, demo: None, django_assert_num_queries) -> None:
    with django_assert_num_queries(1):
        data = client.get("/api/v1/rules").json()
    by_slug = {rule["slug"]: rule for rule in data["items"]}
    assert data["count"] == 5
    assert by_slug["prohibited-goods"]["in_force_version"] == 2
    assert by_slug["prohibited-goods"]["title"] == "1688指定渠道禁限售规则"
    assert by_slug["prohibited-goods"]["url"].endswith("/rules/prohibited-goods/")


def test_at_answers_the_version_in_force_at_an_instant(client: Client, demo: None) -> None:
    before = client.get("/api/v1/rules/prohibited-goods/at", {"time": "2025-02-17T23:59:59+08:00"}).json()
    after = client.get("/api/v1/rules/prohibited-goods/at", {"time": "2025-02-18T00:00:00+08:00"}).json()
    assert before["number"] == 1
    assert before["status"] == "superseded"
    assert after["number"] == 2
    assert after["status"] == "in_force"
    assert after["notice_at"] == "2025-02-10T10:00:00+08:00"
    assert after["effective_at"] == "2025-02-18T00:00:00+08:00"
    assert set(after) >= {"number", "text", "summary", "notice_at", "effective_at", "major", "status"}
    assert after["downloads"]["json"].endswith("/rules/prohibited-goods/versions/2.json")


def test_at_before_the_first_version_is_a_404_problem(client: Client, demo: None) -> None:
    response = client.get("/api/v1/rules/prohibited-goods/at", {"time": "2020-01-01T00:00:00+08:00"})
    assert response.status_code == 404
    assert response["Content-Type"].startswith(PROBLEM)
    assert "尚无生效版本" in response.json()["detail"]


@pytest.mark.parametrize("time", ["", "soon", "2025-13-01T00:00:00"])
def test_at_with_a_bad_time_is_a_422_problem(client: Client, demo: None, time: str) -> None:
    response = client.get("/api/v1/rules/prohibited-goods/at", {"time": time})
    assert response.status_code == 422
    assert response["Content-Type"].startswith(PROBLEM)


def test_versions_lists_public_versions_newest_first(client: Client, demo: None) -> None:
    data = client.get("/api/v1/rules/shipping-conduct/versions").json()
    assert data["count"] == 2
    assert [v["number"] for v in data["items"]] == [2, 1]
    assert client.get("/api/v1/rules/shipping-conduct/versions", {"page": 2}).status_code == 404


def test_diff_compares_two_versions_clause_by_clause(client: Client, demo: None) -> None:
    data = client.get("/api/v1/rules/shipping-conduct/diff", {"from": 1, "to": 2}).json()
    assert data["from"] == 1
    assert data["to"] == 2
    assert data["added"] == 1
    changed = {c["anchor"]: c for c in data["clauses"] if c["status"] == "changed"}
    assert "article-3" in changed
    ops = changed["article-3"]["ops"]
    assert "".join(text for op, text in ops if op != "insert").endswith("订单金额的5%，最高不超过50元。")
    assert "".join(text for op, text in ops if op != "delete").endswith("订单金额的10%，最高不超过100元。")
    assert client.get("/api/v1/rules/shipping-conduct/diff", {"from": 1, "to": 9}).status_code == 404


def test_unknown_rule_is_a_404_problem(client: Client) -> None:
    response = client.get("/api/v1/rules/nope")
    assert response.status_code == 404
    assert response["Content-Type"].startswith(PROBLEM)


@time_machine.travel(shanghai(2025, 2, 1), tick=False)
def test_six_days_of_notice_is_refused_over_the_api_and_nothing_is_stored(
    client: Client, publisher_headers: dict[str, str]
) -> None:
    rule = rule_create()
    draft = services.rule_version_create(actor=SYSTEM, rule=rule, text=OLD_TEXT)
    reviewer = user_create("reviewer", roles=(Role.REVIEWER,))
    services.rule_version_approve(actor=actor_for(reviewer), version=draft)
    response = client.post(
        f"/api/v1/rules/{rule.slug}/versions/1/schedule",
        {"notice_at": "2025-02-10T10:00:00+08:00", "effective_at": "2025-02-16T10:00:00+08:00"},
        content_type="application/json",
        headers=publisher_headers,
    )
    assert response.status_code == 422
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    messages = " ".join(error["msg"] for error in body["errors"])
    assert "电子商务法" in messages
    assert "7 日" in messages
    assert "2025-02-17 10:00" in messages
    draft.refresh_from_db()
    assert draft.notice_at is None
    assert not LifecycleEvent.objects.exists()


@time_machine.travel(shanghai(2025, 2, 1), tick=False)
def test_editors_create_rules_and_drafts_that_cannot_be_scheduled_as_they_are_written(
    client: Client, editor_headers: dict[str, str], drafting_publisher_headers: dict[str, str]
) -> None:
    category_create(slug="trade", name="交易规则")
    created = client.post(
        "/api/v1/rules",
        {"slug": "returns", "title": "《退货规则》", "category": "trade"},
        content_type="application/json",
        headers=editor_headers,
    )
    assert created.status_code == 201
    assert Rule.objects.get(slug="returns").title == "退货规则"
    scheduled = {
        "text": OLD_TEXT,
        "summary": "首次发布",
        "major": True,
        "notice_at": "2025-02-10T10:00:00+08:00",
        "effective_at": "2025-02-25T10:00:00+08:00",
    }
    url = "/api/v1/rules/returns/versions"
    refused = client.post(url, scheduled, content_type="application/json", headers=editor_headers)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "此操作需要“发布”角色。"
    unreviewed = client.post(
        url, scheduled, content_type="application/json", headers=drafting_publisher_headers
    )
    assert unreviewed.status_code == 409
    assert unreviewed["Content-Type"].startswith(PROBLEM)
    assert "由作者以外的审核角色审核通过" in unreviewed.json()["detail"]
    assert not RuleVersion.objects.exists()
    draft = {key: value for key, value in scheduled.items() if not key.endswith("_at")}
    version = client.post(url, draft, content_type="application/json", headers=drafting_publisher_headers)
    assert version.status_code == 201
    assert version.json()["status"] == "draft"
    assert version.json()["review_state"] == "awaiting_review"
    assert version.json()["author"] == "both"
    assert version.json()["major"] is True


def test_writes_need_a_token_and_the_editor_role(client: Client) -> None:
    category_create(slug="trade")
    body = {"slug": "x", "title": "某规则", "category": "trade"}
    anonymous = client.post("/api/v1/rules", body, content_type="application/json")
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"].startswith(PROBLEM)
    reader = bearer(token_for(user_create("reader")))
    forbidden = client.post("/api/v1/rules", body, content_type="application/json", headers=reader)
    assert forbidden.status_code == 403
    assert not Rule.objects.exists()


def test_bad_rule_input_is_a_422_with_field_errors(client: Client, editor_headers: dict[str, str]) -> None:
    category_create(slug="trade")
    for body in (
        {"slug": "bad slug!", "title": "某规则", "category": "trade"},
        {"slug": "ok", "title": "", "category": "trade"},
        {"slug": "ok", "title": "某规则", "category": "nope"},
        {"slug": "ok", "title": "某规则", "category": "trade", "kind": "poem"},
    ):
        response = client.post("/api/v1/rules", body, content_type="application/json", headers=editor_headers)
        assert response.status_code == 422, body
        assert response.json()["errors"]
    assert not Rule.objects.exists()


def test_only_one_date_is_refused(client: Client, editor_headers: dict[str, str]) -> None:
    rule = rule_create()
    response = client.post(
        f"/api/v1/rules/{rule.slug}/versions",
        {"text": OLD_TEXT, "notice_at": "2099-02-10T10:00:00+08:00"},
        content_type="application/json",
        headers=editor_headers,
    )
    assert response.status_code == 422
    assert not RuleVersion.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"slug": "x", "title": "某\x00规则", "category": "trade"},
        {"slug": "x", "title": "某规则", "category": "tr\x00ade"},
    ],
)
def test_a_nul_character_is_a_400_not_a_database_error(
    client: Client, editor_headers: dict[str, str], body: dict[str, str]
) -> None:
    """PostgreSQL refuses NUL in text with an error; the API refuses it first, with a message."""
    category_create(slug="trade")
    response = client.post("/api/v1/rules", body, content_type="application/json", headers=editor_headers)
    assert response.status_code == 400
    assert "空字符" in response.json()["detail"]
    assert not Rule.objects.exists()
    assert client.get("/api/v1/rules/a%00b").status_code == 404
