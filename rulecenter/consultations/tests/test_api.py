from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client

from rulecenter.accounts.models import Role
from rulecenter.accounts.tests.factories import bearer, token_for, user_create
from rulecenter.common.problems import PROBLEM_MEDIA_TYPE
from rulecenter.consultations.models import Consultation, Vote, VoteHistory
from rulecenter.rules.tests.factories import shanghai

from .factories import AFTER, CLOSES, DURING, OPENS, consultation_create, draft_version, member_create

pytestmark = pytest.mark.django_db

LIST = "/api/v1/consultations"


def problem(response: Any, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.content.decode()
    assert response["Content-Type"].startswith(PROBLEM_MEDIA_TYPE)
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:rulecenter:problem:{kind}"
    assert body["status"] == status
    assert body["detail"]
    return body


@pytest.fixture
def consultation() -> Consultation:
    with time_machine.travel(shanghai(2025, 1, 10), tick=False):
        return consultation_create()


@pytest.fixture
def member_headers() -> dict[str, str]:
    return bearer(token_for(member_create().user))


def vote(client: Client, consultation: Consultation, headers: dict[str, str], **body: str) -> Any:
    return client.post(
        f"{LIST}/{consultation.pk}/votes", body, content_type="application/json", headers=headers
    )


def raw_counts(consultation: Consultation) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT choice, count(*) FROM consultations_vote WHERE consultation_id = %s GROUP BY choice",
            [consultation.pk],
        )
        return dict(cursor.fetchall())


@time_machine.travel(DURING, tick=False)
def test_a_vote_then_a_revote_through_the_api(
    client: Client, consultation: Consultation, member_headers: dict[str, str]
) -> None:
    first = vote(client, consultation, member_headers, choice="support")
    assert first.status_code == 201, first.content
    assert first.json()["label"] == "支持"
    assert first.json()["submitted_at"] == "2025-01-18T12:00:00+08:00"
    second = vote(client, consultation, member_headers, choice="reevaluate", reason="赔付标准过高")
    assert second.status_code == 201
    tally = client.get(f"{LIST}/{consultation.pk}/tally").json()
    assert tally["counts"] == {"support": 0, "reevaluate": 1} == {"support": 0, **raw_counts(consultation)}
    assert tally["total"] == 1
    assert tally["shares"] == {"support": 0, "reevaluate": 100}
    assert tally["final"] is False
    assert VoteHistory.objects.count() == 2


@time_machine.travel(DURING, tick=False)
def test_refused_votes_answer_problems_and_leave_the_tally_unchanged(
    client: Client, consultation: Consultation, member_headers: dict[str, str]
) -> None:
    assert vote(client, consultation, member_headers, choice="support").status_code == 201
    before = client.get(f"{LIST}/{consultation.pk}/tally").json()

    missing = problem(
        vote(client, consultation, member_headers, choice="reevaluate"), 422, "validation-error"
    )
    assert missing["errors"] == [
        {"loc": ["body", "reason"], "msg": "选择“可再评估”须填写理由。", "type": "reason_required"}
    ]
    unknown = problem(vote(client, consultation, member_headers, choice="abstain"), 422, "validation-error")
    assert unknown["errors"][0]["loc"] == ["body", "choice"]
    anonymous = problem(vote(client, consultation, {}, choice="support"), 401, "authentication-required")
    assert "Authorization: Bearer" in anonymous["detail"]
    staff = bearer(token_for(user_create("staff-only")))
    ineligible = problem(vote(client, consultation, staff, choice="support"), 403, "voter-ineligible")
    assert ineligible["detail"] == "只有平台会员（商家）可以投票：当前账户没有会员资料。"
    with time_machine.travel(CLOSES, tick=False):
        closed = problem(
            vote(client, consultation, member_headers, choice="reevaluate", reason="晚了"),
            409,
            "consultation-closed",
        )
    assert closed["detail"] == "意见征集已于 2025-01-22 18:00 截止，不再接受投票。"
    with time_machine.travel(OPENS - timedelta(minutes=1), tick=False):
        problem(vote(client, consultation, member_headers, choice="support"), 409, "consultation-not-open")

    assert client.get(f"{LIST}/{consultation.pk}/tally").json()["counts"] == before["counts"]
    assert raw_counts(consultation) == {"support": 1}
    assert VoteHistory.objects.count() == 1


@time_machine.travel(DURING, tick=False)
def test_a_vote_on_an_unknown_consultation_is_a_404_problem(
    client: Client, member_headers: dict[str, str]
) -> None:
    response = client.post(
        f"{LIST}/999/votes", {"choice": "support"}, content_type="application/json", headers=member_headers
    )
    assert problem(response, 404, "not-found")["detail"] == "意见征集不存在。"


@time_machine.travel(DURING, tick=False)
def test_the_tally_can_be_hidden_until_the_close(
    client: Client, consultation: Consultation, settings
) -> None:
    settings.RULECENTER_CONSULTATION_TALLY_HIDDEN_UNTIL_CLOSE = True
    hidden = problem(client.get(f"{LIST}/{consultation.pk}/tally"), 403, "tally-hidden")
    assert hidden["detail"] == "本次意见征集的计票结果将在 2025-01-22 18:00 截止后公布。"
    assert client.get(f"{LIST}/{consultation.pk}").json()["tally"] is None
    with time_machine.travel(AFTER, tick=False):
        shown = client.get(f"{LIST}/{consultation.pk}/tally").json()
    assert shown["final"] is True


@time_machine.travel(DURING, tick=False)
def test_list_and_detail(client: Client, consultation: Consultation, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(4):  # count, page, options, versions with their rules: whatever the size
        listing = client.get(LIST).json()
    assert listing["count"] == 1
    (item,) = listing["items"]
    assert item["status"] == "open"
    assert item["opens_at"] == "2025-01-15T10:00:00+08:00"
    assert item["rules"] == [
        {
            "slug": "shipping",
            "title": "1688商家发货行为管理规范",
            "number": 2,
            "url": "http://testserver/rules/shipping/",
        }
    ]
    assert client.get(LIST, {"status": "closed"}).json()["count"] == 0
    problem(client.get(LIST, {"page": 2}), 404, "not-found")

    detail = client.get(f"{LIST}/{consultation.pk}").json()
    assert [o["key"] for o in detail["options"]] == ["support", "reevaluate"]
    (draft,) = detail["drafts"]
    assert draft["base_version"] == 1
    assert {change["label"] for change in draft["changes"]} == {"第二条", "第三条", "第四条"}
    assert detail["tally"]["counts"] == {"support": 0, "reevaluate": 0}
    assert detail["ledger"] is None
    problem(client.get(f"{LIST}/12345"), 404, "not-found")


@time_machine.travel(shanghai(2025, 1, 10), tick=False)
def test_editors_create_consultations_on_drafts(client: Client) -> None:
    draft = draft_version()
    editor = bearer(token_for(user_create("editor", roles=(Role.EDITOR,))))
    body = {
        "title": "《1688商家发货行为管理规范》变更意见征集",
        "explanation": "调整发货时限。",
        "opens_at": "2025-01-15T10:00:00+08:00",
        "closes_at": "2025-01-22T18:00:00+08:00",
        "versions": [{"rule": "shipping", "number": draft.number}],
        "options": [
            {"key": "support", "label": "支持"},
            {"key": "reevaluate", "label": "可再评估", "requires_reason": True},
            {"key": "abstain", "label": "弃权"},
        ],
    }
    created = client.post(LIST, body, content_type="application/json", headers=editor)
    assert created.status_code == 201, created.content
    assert created.json()["status"] == "scheduled"
    assert [o["key"] for o in created.json()["options"]] == ["support", "reevaluate", "abstain"]

    short = {**body, "closes_at": "2025-01-20T10:00:00+08:00"}
    refused = problem(
        client.post(LIST, short, content_type="application/json", headers=editor), 422, "validation-error"
    )
    assert refused["errors"][0]["loc"] == ["body", "closes_at"]
    assert "至少需要 7 日" in refused["errors"][0]["msg"]
    unknown = {**body, "versions": [{"rule": "shipping", "number": 9}]}
    refused = problem(
        client.post(LIST, unknown, content_type="application/json", headers=editor), 422, "validation-error"
    )
    assert refused["errors"][0]["loc"] == ["body", "versions", 0]
    member = bearer(token_for(member_create().user))
    problem(
        client.post(LIST, body, content_type="application/json", headers=member), 403, "permission-denied"
    )
    assert Consultation.objects.count() == 1
    assert not Vote.objects.exists()
