"""/api/v1/cases with a member's token: the contract, the member's own cases only, refusals as problems."""

from typing import Any

import pytest
from django.test import Client

from rulecenter.accounts.roles import actor_for
from rulecenter.accounts.tests.factories import bearer, token_for, user_create
from rulecenter.cases import services
from rulecenter.cases.models import Case

from .factories import DURING_V1, case_file, member, reviewer, shipping_rule

pytestmark = pytest.mark.django_db
API = "/api/v1/cases"


@pytest.fixture(autouse=True)
def rule() -> None:
    shipping_rule()


def post(client: Client, headers: dict[str, str], **body: object) -> Any:
    payload = {
        "rule": "shipping",
        "at": DURING_V1.isoformat(),
        "clause": "article-2",
        "text": "延迟发货的判定有误。",
    }
    return client.post(API, {**payload, **body}, content_type="application/json", headers=headers)


def test_a_member_files_through_the_api_as_the_contract_says(client: Client) -> None:
    shop = member()
    headers = bearer(token_for(shop.user))
    created = post(client, headers)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["number"].startswith("SS")
    assert (body["version"], body["status"], body["clause"], body["rule"]) == (
        1,
        "received",
        "article-2",
        "shipping",
    )
    assert [step["kind"] for step in body["steps"]] == ["filed"]
    listed = client.get(API, headers=headers).json()
    assert (listed["count"], listed["items"][0]["number"]) == (1, body["number"])
    assert (
        client.get(f"{API}/{body['number']}", headers=headers)
        .json()["version_url"]
        .endswith("/rules/shipping/versions/1/")
    )
    null_clause = post(client, headers, clause=None, at="2025-09-01T09:00:00+08:00")
    assert (null_clause.status_code, null_clause.json()["version"], null_clause.json()["clause"]) == (
        201,
        2,
        None,
    )


def test_no_one_else_s_case_is_visible(client: Client) -> None:
    case = case_file(member("shop"))
    other = bearer(token_for(member("other").user))
    assert client.get(API, headers=other).json() == {"count": 0, "items": []}
    assert client.get(f"{API}/{case.number}", headers=other).status_code == 404
    assert client.post(f"{API}/{case.number}/close", headers=other).status_code == 404
    assert client.get(API).status_code == 401
    assert post(client, {}).status_code == 401
    assert Case.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"at": "2023-01-01T00:00:00+08:00"}, "at", "还没有生效的版本"),
        ({"rule": "nope"}, "rule", "没有标识为“nope”的公开规则"),
        ({"clause": "article-9"}, "clause", "没有条款“article-9”"),
        ({"at": "yesterday"}, "at", ""),
        ({"text": ""}, "text", ""),
    ],
)
def test_bad_cases_are_422_problems_naming_the_field(
    client: Client, body: dict[str, Any], field: str, message: str
) -> None:
    refused = post(client, bearer(token_for(member().user)), **body)
    assert refused.status_code == 422, refused.content
    assert refused["Content-Type"].startswith("application/problem+json")
    errors = {error["loc"][-1]: error["msg"] for error in refused.json()["errors"]}
    assert message in errors[field]
    assert not Case.objects.exists()


def test_a_staff_token_without_a_member_cannot_file(client: Client) -> None:
    staff = bearer(token_for(user_create("ops")))
    refused = post(client, staff)
    assert refused.status_code == 403
    assert "只有会员" in refused.json()["detail"]


def test_escalate_and_close_answer_409_when_the_case_is_not_there_yet(client: Client) -> None:
    case = case_file(member(), automated=True)
    headers = bearer(token_for(case.member))
    assert client.post(f"{API}/{case.number}/close", headers=headers).status_code == 409
    early = client.post(f"{API}/{case.number}/escalate", {}, content_type="application/json", headers=headers)
    assert early.status_code == 409
    assert "尚未答复" in early.json()["detail"]
    services.case_answer(actor=actor_for(reviewer()), case=case, outcome="rejected", answer="系统判定无误。")
    escalated = client.post(
        f"{API}/{case.number}/escalate",
        {"reason": "请人工复核"},
        content_type="application/json",
        headers=headers,
    )
    assert (escalated.status_code, escalated.json()["status"]) == (200, "escalated")
    assert [step["by"] for step in escalated.json()["steps"]] == ["member", "platform", "member"]
