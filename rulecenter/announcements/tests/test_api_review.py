"""The review path through the API: every role × action cell, four eyes, corrections, withdrawal (issue 11)."""

from typing import Any

import pytest
from django.test import Client

from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import actor_for
from rulecenter.accounts.tests.factories import bearer, token_for, user_create
from rulecenter.announcements import services
from rulecenter.announcements.models import Announcement

from .factories import approved_draft, category_create, draft_announcement, published_announcement
from .matrix import (
    CELLS,
    COMMENT,
    CORRECTED_BODY,
    EDITED_TITLE,
    NEW_TITLE,
    REASON,
    Cell,
    assert_done,
    cell_setup,
    snapshot,
)
from .test_api import problem

pytestmark = pytest.mark.django_db

LIST = "/api/v1/announcements"


def call(client: Client, cell: Cell, token: str) -> Any:
    """The API request that performs the cell's action."""
    headers = bearer(token)
    url = f"{LIST}/{cell.subject.pk}" if cell.subject else LIST
    json = "application/json"
    match cell.action:
        case "create_draft":
            payload = {"title": NEW_TITLE, "body": "欢迎提出意见。", "category": cell.category.slug}
            return client.post(LIST, payload, content_type=json, headers=headers)
        case "edit_draft":
            return client.patch(url, {"title": EDITED_TITLE}, content_type=json, headers=headers)
        case "approve":
            return client.post(f"{url}/approve", headers=headers)
        case "send_back":
            return client.post(f"{url}/send-back", {"comment": COMMENT}, content_type=json, headers=headers)
        case "publish":
            return client.post(f"{url}/publish", headers=headers)
        case "correct":
            return client.patch(url, {"body": CORRECTED_BODY}, content_type=json, headers=headers)
        case "withdraw":
            return client.post(f"{url}/withdraw", {"reason": REASON}, content_type=json, headers=headers)
        case "delete":
            return client.delete(url, headers=headers)
    raise AssertionError(cell.action)


@pytest.mark.parametrize(("actor_name", "action"), CELLS)
def test_every_role_and_action(client: Client, actor_name: str, action: str) -> None:
    """Allowed: the step is done. Forbidden: a 403 problem naming the role the step needs, and nothing changed."""
    cell = cell_setup(actor_name, action)
    before = snapshot()
    response = call(client, cell, token_for(cell.user))
    if cell.allowed:
        expected = {"create_draft": 201, "delete": 204}.get(action, 200)
        assert response.status_code == expected, response.content.decode()
        assert_done(cell)
    else:
        assert problem(response, 403)["detail"] == cell.refusal
        assert snapshot() == before


@pytest.fixture
def team() -> dict[str, str]:
    """Tokens of an editor, a second editor, a reviewer and a publisher."""
    users = {
        "editor": user_create("editor", roles=(Role.EDITOR,)),
        "editor2": user_create("editor2", roles=(Role.EDITOR,)),
        "reviewer": user_create("reviewer", roles=(Role.REVIEWER,)),
        "publisher": user_create("publisher", roles=(Role.PUBLISHER,)),
        "all": user_create("chief", roles=(Role.EDITOR, Role.REVIEWER, Role.PUBLISHER)),
    }
    return {name: token_for(user) for name, user in users.items()}


def test_the_path_from_draft_to_published_with_four_eyes(client: Client, team: dict[str, str]) -> None:
    """Draft by an editor → approved by a reviewer → published by a publisher: on the listing and its page."""
    category = category_create(slug="guides", name="规则解读")
    published_announcement(title="旧公告", category=category)
    created = client.post(
        LIST,
        {"title": "《发货规则》解读", "body": "解读正文。", "category": "guides"},
        content_type="application/json",
        headers=bearer(team["editor"]),
    ).json()
    pk = created["id"]
    assert created["approved_at"] is None
    publish = client.post(f"{LIST}/{pk}/publish", headers=bearer(team["publisher"]))
    assert "尚未审核通过" in problem(publish, 409)["detail"]
    approved = client.post(f"{LIST}/{pk}/approve", headers=bearer(team["reviewer"]))
    assert approved.status_code == 200
    assert approved.json()["approved_at"] is not None
    published = client.post(f"{LIST}/{pk}/publish", headers=bearer(team["publisher"]))
    assert published.status_code == 200
    assert published.json()["status"] == "published"
    assert published.json()["url"] == f"http://testserver/news/{pk}/"
    assert client.get(LIST).json()["items"][0]["title"] == "《发货规则》解读"
    assert client.get(f"/news/{pk}/").status_code == 200


def test_the_author_cannot_approve_their_own_draft_even_holding_every_role(
    client: Client, team: dict[str, str]
) -> None:
    created = client.post(
        LIST,
        {"title": "自审", "body": "正文。", "category": draft_announcement().category.slug},
        content_type="application/json",
        headers=bearer(team["all"]),
    ).json()
    before = snapshot()
    body = problem(client.post(f"{LIST}/{created['id']}/approve", headers=bearer(team["all"])), 403)
    assert body["detail"] == services.OWN_DRAFT_APPROVAL
    assert snapshot() == before


def test_an_edit_after_approval_needs_a_new_approval(client: Client, team: dict[str, str]) -> None:
    """The editor who changes an approved draft becomes its author; the approval is gone."""
    editor = user_create("writer", roles=(Role.EDITOR,))
    draft = approved_draft(actor=actor_for(editor))
    edited = client.patch(
        f"{LIST}/{draft.pk}",
        {"body": "改过的正文。"},
        content_type="application/json",
        headers=bearer(team["editor2"]),
    )
    assert edited.status_code == 200
    assert edited.json()["approved_at"] is None
    assert (
        "尚未审核通过"
        in problem(client.post(f"{LIST}/{draft.pk}/publish", headers=bearer(team["publisher"])), 409)[
            "detail"
        ]
    )


def test_four_eyes_may_be_turned_off_for_a_one_person_demo(
    client: Client, team: dict[str, str], settings: Any
) -> None:
    settings.RULECENTER_FOUR_EYES = False
    created = client.post(
        LIST,
        {"title": "演示", "body": "正文。", "category": draft_announcement().category.slug},
        content_type="application/json",
        headers=bearer(team["all"]),
    ).json()
    assert client.post(f"{LIST}/{created['id']}/approve", headers=bearer(team["all"])).status_code == 200
    assert client.post(f"{LIST}/{created['id']}/publish", headers=bearer(team["all"])).status_code == 200
    settings.RULECENTER_FOUR_EYES = True
    # An approval by the author no longer counts once four eyes are back on.
    again = client.post(
        LIST,
        {"title": "演示二", "body": "正文。", "category": draft_announcement().category.slug},
        content_type="application/json",
        headers=bearer(team["all"]),
    ).json()
    settings.RULECENTER_FOUR_EYES = False
    client.post(f"{LIST}/{again['id']}/approve", headers=bearer(team["all"]))
    settings.RULECENTER_FOUR_EYES = True
    refused = client.post(f"{LIST}/{again['id']}/publish", headers=bearer(team["publisher"]))
    assert "四眼原则" in problem(refused, 409)["detail"]


def test_send_back_needs_a_comment_and_withdraw_a_reason(client: Client, team: dict[str, str]) -> None:
    draft = draft_announcement()
    item = published_announcement()
    before = snapshot()
    for url, token, field in (
        (f"{LIST}/{draft.pk}/send-back", team["reviewer"], "comment"),
        (f"{LIST}/{item.pk}/withdraw", team["publisher"], "reason"),
    ):
        for payload in ({}, {field: ""}, {field: "   "}):
            response = client.post(url, payload, content_type="application/json", headers=bearer(token))
            assert response.status_code == 422, response.content.decode()
            assert problem(response, 422)["errors"][0]["loc"] == ["body", field]
    assert snapshot() == before


def test_a_withdrawn_announcement_answers_410_with_the_reason(client: Client, team: dict[str, str]) -> None:
    item = published_announcement(title="将被撤回")
    response = client.post(
        f"{LIST}/{item.pk}/withdraw",
        {"reason": REASON},
        content_type="application/json",
        headers=bearer(team["publisher"]),
    )
    assert response.json()["status"] == "withdrawn"
    body = problem(client.get(f"{LIST}/{item.pk}"), 410)
    assert REASON in body["detail"]
    assert body["type"] == "urn:rulecenter:problem:gone"
    english = problem(client.get(f"{LIST}/{item.pk}", headers={"accept-language": "en"}), 410)
    assert english["detail"].startswith("This announcement was withdrawn on ")
    assert REASON in english["detail"]
    assert client.get(LIST).json()["count"] == 0
    # Withdrawn is final: not published again, not withdrawn twice, not deleted.
    problem(client.post(f"{LIST}/{item.pk}/publish", headers=bearer(team["publisher"])), 409)
    patch = client.patch(
        f"{LIST}/{item.pk}", {"body": "x"}, content_type="application/json", headers=bearer(team["publisher"])
    )
    problem(patch, 409)
    again = client.post(
        f"{LIST}/{item.pk}/withdraw",
        {"reason": REASON},
        content_type="application/json",
        headers=bearer(team["publisher"]),
    )
    problem(again, 409)
    problem(client.delete(f"{LIST}/{item.pk}", headers=bearer(team["editor"])), 409)
    assert Announcement.objects.get(pk=item.pk).status == Announcement.Status.WITHDRAWN


def test_a_statutory_notice_is_refused_every_change(client: Client, team: dict[str, str]) -> None:
    notice = published_announcement(title="《规则》的更新公示", statutory=True)
    before = snapshot()
    withdraw = client.post(
        f"{LIST}/{notice.pk}/withdraw",
        {"reason": REASON},
        content_type="application/json",
        headers=bearer(team["publisher"]),
    )
    assert "法定公示" in problem(withdraw, 409)["detail"]
    body = problem(
        client.patch(
            f"{LIST}/{notice.pk}",
            {"body": "改写"},
            content_type="application/json",
            headers=bearer(team["publisher"]),
        ),
        409,
    )
    assert "法定公示" in body["detail"]
    problem(client.delete(f"{LIST}/{notice.pk}", headers=bearer(team["editor"])), 409)
    assert snapshot() == before
    assert client.get(f"{LIST}/{notice.pk}").json()["statutory"] is True


def test_a_correction_is_answered_with_its_time(client: Client, team: dict[str, str]) -> None:
    item = published_announcement()
    corrected = client.patch(
        f"{LIST}/{item.pk}",
        {"body": CORRECTED_BODY},
        content_type="application/json",
        headers=bearer(team["publisher"]),
    ).json()
    assert corrected["corrected_at"] is not None
    assert client.get(f"{LIST}/{item.pk}").json()["body"] == CORRECTED_BODY


def test_an_unknown_id_is_a_404_for_every_write(client: Client, team: dict[str, str]) -> None:
    for method, suffix in (("post", "/approve"), ("post", "/publish"), ("patch", ""), ("delete", "")):
        response = getattr(client, method)(
            f"{LIST}/999999{suffix}", {}, content_type="application/json", headers=bearer(team["publisher"])
        )
        problem(response, 404)


def test_approve_with_the_same_idempotency_key_answers_the_same(client: Client, team: dict[str, str]) -> None:
    draft = draft_announcement()
    headers = {**bearer(team["reviewer"]), "Idempotency-Key": "approve-1"}
    first = client.post(f"{LIST}/{draft.pk}/approve", headers=headers)
    again = client.post(f"{LIST}/{draft.pk}/approve", headers=headers)
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert first.json() == again.json()
    # Without the key a second approval is a conflict: it is approved already.
    problem(client.post(f"{LIST}/{draft.pk}/approve", headers=bearer(team["reviewer"])), 409)
