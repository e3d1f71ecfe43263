"""Every role × every write on rules, through the API and through the admin (issue 11's 'done when').

An editor, a reviewer, a publisher and a member each try each step — create a rule, create a draft, edit it,
delete it, approve it, send it back, schedule it, unschedule it. The role the step needs succeeds; every
other is refused naming that role and changes nothing (every rule, version and lifecycle row compared).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import actor_for
from rulecenter.rules import services
from rulecenter.rules.models import LifecycleEvent, Rule, RuleVersion

from .conftest import Person
from .factories import NEW_TEXT, OLD_TEXT, category_create, rule_create, shanghai

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"
NOW = shanghai(2025, 3, 1, 10)
NOTICE, EFFECTIVE = shanghai(2025, 3, 10, 10), shanghai(2025, 3, 18, 10)
COMMENT = "第二条请写明发货时限的起算时间。"
ROLES = ["editor", "reviewer", "publisher", "member"]


def role_refused(role: Role) -> str:
    return f"此操作需要“{role.label}”角色。"


def version_in(state: str, staff: dict[str, Person]) -> RuleVersion:
    """A rule with one version, written by `writer`: a draft, approved by `checker`, or also scheduled."""
    category_create(slug="trade", name="交易规则")
    rule = rule_create()
    version = services.rule_version_create(actor=actor_for(staff["writer"].user), rule=rule, text=OLD_TEXT)
    if state in ("approved", "scheduled"):
        version = services.rule_version_approve(actor=actor_for(staff["checker"].user), version=version)
    if state == "scheduled":
        version = services.rule_version_schedule(
            actor=actor_for(staff["publisher"].user),
            version=version,
            notice_at=NOTICE,
            effective_at=EFFECTIVE,
        )
    return version


def snapshot() -> tuple[list[Any], ...]:
    """Everything a rules write could touch, row by row."""
    return (
        list(Rule.objects.order_by("pk").values()),
        list(RuleVersion.objects.order_by("pk").values()),
        list(LifecycleEvent.objects.order_by("pk").values()),
    )


def stored(version: RuleVersion) -> RuleVersion | None:
    return RuleVersion.objects.filter(pk=version.pk).first()


@dataclass(frozen=True)
class Step:
    role: Role  # the one role that may take it
    state: str  # the version's state before it
    effect: Callable[[RuleVersion, Person], None]  # what the allowed step changed


def created_rule(version: RuleVersion, actor: Person) -> None:
    assert Rule.objects.get(slug="returns").title == "退货规则"


def created_draft(version: RuleVersion, actor: Person) -> None:
    draft = RuleVersion.objects.get(rule=version.rule, number=2)
    assert (draft.text, draft.author, draft.approved_at) == (NEW_TEXT, actor.user, None)


def edited(version: RuleVersion, actor: Person) -> None:
    now = stored(version)
    assert now is not None
    assert (now.text, now.author) == (NEW_TEXT, actor.user)


def deleted(version: RuleVersion, actor: Person) -> None:
    assert stored(version) is None


def approved(version: RuleVersion, actor: Person) -> None:
    now = stored(version)
    assert now is not None
    assert now.approved_by == actor.user
    assert now.review_state_at(NOW) == RuleVersion.ReviewState.APPROVED


def sent_back(version: RuleVersion, actor: Person) -> None:
    now = stored(version)
    assert now is not None
    assert (now.review_comment, now.approved_at) == (COMMENT, None)


def scheduled(version: RuleVersion, actor: Person) -> None:
    now = stored(version)
    assert now is not None
    assert (now.notice_at, now.effective_at) == (NOTICE, EFFECTIVE)
    assert set(LifecycleEvent.objects.filter(version=now).values_list("kind", flat=True)) == {
        "notice",
        "effective",
    }


def unscheduled(version: RuleVersion, actor: Person) -> None:
    now = stored(version)
    assert now is not None
    assert (now.notice_at, now.effective_at) == (None, None)
    assert not LifecycleEvent.objects.filter(version=now).exists()
    assert now.review_state_at(NOW) == RuleVersion.ReviewState.APPROVED  # the approval stands


STEPS = {
    "create rule": Step(Role.EDITOR, "draft", created_rule),
    "create draft": Step(Role.EDITOR, "draft", created_draft),
    "edit draft": Step(Role.EDITOR, "draft", edited),
    "delete draft": Step(Role.EDITOR, "draft", deleted),
    "approve": Step(Role.REVIEWER, "draft", approved),
    "send back": Step(Role.REVIEWER, "draft", sent_back),
    "schedule": Step(Role.PUBLISHER, "approved", scheduled),
    "unschedule": Step(Role.PUBLISHER, "scheduled", unscheduled),
}
CELLS = [(step, role) for step in STEPS for role in ROLES]


# Through the API ---------------------------------------------------------------------------------------


def api_call(client: Client, step: str, version: RuleVersion, headers: dict[str, str]) -> Any:
    base = f"/api/v1/rules/{version.rule.slug}/versions"
    one = f"{base}/{version.number}"
    json = "application/json"
    if step == "create rule":
        body = {"slug": "returns", "title": "《退货规则》", "category": "trade"}
        return client.post("/api/v1/rules", body, content_type=json, headers=headers)
    if step == "create draft":
        return client.post(base, {"text": NEW_TEXT}, content_type=json, headers=headers)
    if step == "edit draft":
        return client.patch(one, {"text": NEW_TEXT}, content_type=json, headers=headers)
    if step == "delete draft":
        return client.delete(one, headers=headers)
    if step == "approve":
        return client.post(f"{one}/approve", headers=headers)
    if step == "send back":
        return client.post(f"{one}/send-back", {"comment": COMMENT}, content_type=json, headers=headers)
    if step == "schedule":
        body = {"notice_at": NOTICE.isoformat(), "effective_at": EFFECTIVE.isoformat()}
        return client.post(f"{one}/schedule", body, content_type=json, headers=headers)
    assert step == "unschedule"
    return client.post(f"{one}/unschedule", headers=headers)


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(("step", "role"), CELLS)
def test_every_role_and_step_through_the_api(
    client: Client, staff: dict[str, Person], step: str, role: str
) -> None:
    """The step's role succeeds; any other token gets a 403 problem naming that role, and nothing changes."""
    rule_step = STEPS[step]
    version = version_in(rule_step.state, staff)
    before = snapshot()
    response = api_call(client, step, version, staff[role].headers)
    if role == rule_step.role.value:
        assert response.status_code in (200, 201, 204), response.content.decode()
        rule_step.effect(version, staff[role])
    else:
        assert response.status_code == 403, response.content.decode()
        assert response["Content-Type"].startswith(PROBLEM)
        assert response.json()["detail"] == role_refused(rule_step.role)
        assert snapshot() == before


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("role", ROLES)
def test_drafts_are_read_by_staff_only(client: Client, staff: dict[str, Person], role: str) -> None:
    """Drafts are not public: any staff token lists them with their review state; a member's is refused."""
    version = version_in("draft", staff)
    response = client.get(f"/api/v1/rules/{version.rule.slug}/drafts", headers=staff[role].headers)
    if role == "member":
        assert response.status_code == 403
        assert response.json()["detail"] == "此操作需要以下角色之一：编辑、审核、发布。"
        return
    assert response.status_code == 200
    [draft] = response.json()["items"]
    assert (draft["number"], draft["review_state"], draft["author"]) == (1, "awaiting_review", "writer")


# Through the admin ---------------------------------------------------------------------------------------


def admin_call(client: Client, step: str, version: RuleVersion) -> Any:
    """What the page's form sends; a forged request sends every field, whatever the page offered."""
    if step == "create rule":
        form = {
            "title": "退货规则",
            "slug": "returns",
            "kind": "rule",
            "category": str(Rule.objects.get(pk=version.rule_id).category_id),
            "versions-TOTAL_FORMS": "0",
            "versions-INITIAL_FORMS": "0",
        }
        return client.post(reverse("admin:rules_rule_add"), form, follow=True)
    if step == "create draft":
        form = {"rule": str(version.rule_id), "text": NEW_TEXT, "summary": ""}
        return client.post(reverse("admin:rules_ruleversion_add"), form, follow=True)
    if step == "delete draft":
        return client.post(
            reverse("admin:rules_ruleversion_delete", args=[version.pk]), {"post": "yes"}, follow=True
        )
    form = {
        "text": NEW_TEXT if step == "edit draft" else version.text,
        "summary": version.summary,
        "comment": COMMENT,
        "notice_at_0": f"{NOTICE:%Y-%m-%d}",
        "notice_at_1": f"{NOTICE:%H:%M:%S}",
        "effective_at_0": f"{EFFECTIVE:%Y-%m-%d}",
        "effective_at_1": f"{EFFECTIVE:%H:%M:%S}",
        "buffer_ends_at_0": "",
        "buffer_ends_at_1": "",
    }
    button = {"edit draft": "_save", "approve": "_approve", "send back": "_send_back"}
    button |= {"schedule": "_schedule", "unschedule": "_unschedule"}
    form[button[step]] = "1"
    return client.post(reverse("admin:rules_ruleversion_change", args=[version.pk]), form, follow=True)


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(("step", "role"), CELLS)
def test_every_role_and_step_through_the_admin(
    client: Client, staff: dict[str, Person], step: str, role: str
) -> None:
    """Only the step's role gets it done; others get the page refusing it by role (never a 500), unchanged.

    A member is no staff: the admin sends them to its login page. Pages an account cannot open at all (adding
    a rule without the editor's permissions) are Django's 403; every refusal by a service is shown on the page.
    """
    rule_step = STEPS[step]
    version = version_in(rule_step.state, staff)
    client.force_login(staff[role].user)
    before = snapshot()
    response = admin_call(client, step, version)
    page = response.content.decode()
    if role == rule_step.role.value:
        assert response.status_code == 200, page[:3000]
        assert "errorlist" not in page, page[:3000]
        rule_step.effect(version, staff[role])
        return
    assert snapshot() == before
    if role == "member":
        assert response.redirect_chain[-1][0].startswith(reverse("admin:login"))
    elif step in ("create rule", "create draft"):
        assert response.status_code == 403  # the add page itself is not theirs to open
    else:
        assert response.status_code == 200
        assert role_refused(rule_step.role) in page
