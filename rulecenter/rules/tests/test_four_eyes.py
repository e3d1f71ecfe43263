"""Four eyes on rule versions: who wrote a text, who approved it, and that only an approved text is noticed."""

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import actor_for
from rulecenter.announcements.models import Announcement
from rulecenter.common.actors import SYSTEM
from rulecenter.common.changes import ChangeAction, ContentChange, content_changed
from rulecenter.rules import services
from rulecenter.rules.demo import load_demo_rules
from rulecenter.rules.lifecycle import lifecycle_run_due
from rulecenter.rules.models import ChangeBundle, LifecycleEvent, RuleVersion

from .conftest import Person, person
from .factories import NEW_TEXT, OLD_TEXT, rule_create, shanghai

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"
NOW = shanghai(2025, 3, 1, 10)
NOTICE, EFFECTIVE = shanghai(2025, 3, 10, 10), shanghai(2025, 3, 18, 10)
JSON = "application/json"


def draft_by(
    author: Person, *, slug: str = "shipping", title: str = "1688商家发货行为管理规范"
) -> RuleVersion:
    return services.rule_version_create(
        actor=actor_for(author.user), rule=rule_create(slug=slug, title=title), text=OLD_TEXT
    )


def approve(version: RuleVersion, reviewer: Person) -> RuleVersion:
    return services.rule_version_approve(actor=actor_for(reviewer.user), version=version)


def schedule(version: RuleVersion, publisher: Person) -> RuleVersion:
    return services.rule_version_schedule(
        actor=actor_for(publisher.user), version=version, notice_at=NOTICE, effective_at=EFFECTIVE
    )


@pytest.fixture
def changes() -> Iterator[list[ContentChange]]:
    """The change hook's announcements during the test."""
    seen: list[ContentChange] = []

    def receive(*, change: ContentChange, **kwargs: object) -> None:
        seen.append(change)

    content_changed.connect(receive)
    yield seen
    content_changed.disconnect(receive)


# The services ------------------------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_an_edit_withdraws_the_approval_and_makes_the_editor_the_author(staff: dict[str, Person]) -> None:
    version = approve(draft_by(staff["writer"]), staff["checker"])
    assert (version.author, version.approved_by) == (staff["writer"].user, staff["checker"].user)
    same = services.rule_version_update(
        actor=actor_for(staff["editor"].user), version=version, text=OLD_TEXT, summary="", major=False
    )
    assert same.approved_by == staff["checker"].user  # nothing changed, the approval of this text stands
    edited = services.rule_version_update(
        actor=actor_for(staff["editor"].user), version=version, text=NEW_TEXT, summary="", major=False
    )
    assert (edited.author, edited.approved_by, edited.approved_at) == (staff["editor"].user, None, None)
    assert edited.review_state_at(NOW) == RuleVersion.ReviewState.AWAITING_REVIEW
    with pytest.raises(services.ReviewStateConflict, match="尚未审核通过"):
        schedule(edited, staff["publisher"])


@time_machine.travel(NOW, tick=False)
def test_an_author_approving_their_own_text_is_refused_even_as_a_reviewer(
    client: Client, staff: dict[str, Person]
) -> None:
    both = person("both", Role.EDITOR, Role.REVIEWER)
    version = draft_by(both)
    response = client.post(f"/api/v1/rules/shipping/versions/{version.number}/approve", headers=both.headers)
    assert response.status_code == 403
    assert response["Content-Type"].startswith(PROBLEM)
    assert response.json()["detail"] == services.OWN_DRAFT_APPROVAL
    version.refresh_from_db()
    assert version.approved_at is None
    # The same person, in the admin: no 审核通过 button, and a forged press is refused on the page.
    client.force_login(both.user)
    page = client.get(f"/admin/rules/ruleversion/{version.pk}/change/").content.decode()
    assert 'name="_send_back"' in page
    assert 'name="_approve"' not in page
    form = {"text": OLD_TEXT, "summary": "", "comment": "", "_approve": "1"}
    refused = client.post(f"/admin/rules/ruleversion/{version.pk}/change/", form)
    assert refused.status_code == 200
    assert services.OWN_DRAFT_APPROVAL in refused.content.decode()
    version.refresh_from_db()
    assert version.approved_at is None
    # Someone else approves it.
    assert approve(version, staff["checker"]).approved_by == staff["checker"].user


@time_machine.travel(NOW, tick=False)
def test_single_person_mode_lets_an_author_approve_but_still_needs_an_approval(
    staff: dict[str, Person], settings
) -> None:
    settings.RULECENTER_FOUR_EYES = False
    alone = person("alone", Role.EDITOR, Role.REVIEWER, Role.PUBLISHER)
    version = draft_by(alone)
    with pytest.raises(services.ReviewStateConflict, match="须经审核角色审核通过"):
        schedule(version, alone)
    schedule(approve(version, alone), alone)
    version.refresh_from_db()
    assert version.notice_at == NOTICE


@time_machine.travel(NOW, tick=False)
def test_an_authors_own_approval_stops_counting_once_four_eyes_is_on(
    staff: dict[str, Person], settings
) -> None:
    alone = person("alone", Role.EDITOR, Role.REVIEWER, Role.PUBLISHER)
    settings.RULECENTER_FOUR_EYES = False
    version = approve(draft_by(alone), alone)
    settings.RULECENTER_FOUR_EYES = True
    with pytest.raises(services.ReviewStateConflict, match="不符合四眼原则"):
        schedule(version, alone)


@time_machine.travel(NOW, tick=False)
def test_a_bundle_is_scheduled_only_when_every_version_is_approved(staff: dict[str, Person]) -> None:
    first = approve(draft_by(staff["writer"]), staff["checker"])
    second = draft_by(staff["writer"], slug="returns", title="退货规则")
    with pytest.raises(services.ReviewStateConflict, match="《退货规则》第 1 版尚未审核通过"):
        services.change_bundle_schedule(
            actor=actor_for(staff["publisher"].user),
            title="发货与退货",
            versions=[first, second],
            notice_at=NOTICE,
            effective_at=EFFECTIVE,
        )
    assert not ChangeBundle.objects.exists()
    assert not RuleVersion.objects.filter(notice_at__isnull=False).exists()
    approve(second, staff["checker"])
    bundle = services.change_bundle_schedule(
        actor=actor_for(staff["publisher"].user),
        title="发货与退货",
        versions=[first, second],
        notice_at=NOTICE,
        effective_at=EFFECTIVE,
    )
    assert bundle.versions.count() == 2


def test_the_platform_itself_needs_no_approval_and_the_demo_loads() -> None:
    """SYSTEM records history already public elsewhere (loaddemo, imports): no reviewer stood behind it."""
    load_demo_rules()
    noticed = RuleVersion.objects.filter(notice_at__isnull=False)
    assert noticed.exists()
    assert not noticed.filter(approved_at__isnull=False).exists()
    assert not RuleVersion.objects.filter(author__isnull=False).exists()  # the platform wrote them


@time_machine.travel(NOW, tick=False)
def test_sending_back_needs_a_comment_and_withdraws_the_approval(
    client: Client, staff: dict[str, Person]
) -> None:
    version = approve(draft_by(staff["writer"]), staff["checker"])
    url = f"/api/v1/rules/shipping/versions/{version.number}/send-back"
    for comment, status in (("", 422), ("   ", 422), ("改" * (services.REVIEW_COMMENT_MAX_CHARS + 1), 422)):
        refused = client.post(url, {"comment": comment}, content_type=JSON, headers=staff["reviewer"].headers)
        assert refused.status_code == status, comment[:10]
        assert refused.json()["errors"][0]["loc"] == ["body", "comment"]
    version.refresh_from_db()
    assert version.approved_by == staff["checker"].user
    returned = client.post(
        url, {"comment": "请补充第三条的计算方式。"}, content_type=JSON, headers=staff["reviewer"].headers
    )
    assert returned.status_code == 200
    assert returned.json()["review_state"] == "awaiting_review"
    drafts = client.get("/api/v1/rules/shipping/drafts", headers=staff["writer"].headers).json()
    assert drafts["items"][0]["review_comment"] == "请补充第三条的计算方式。"
    assert drafts["items"][0]["approved_by"] is None
    # Approval clears the comment.
    approved = client.post(
        f"/api/v1/rules/shipping/versions/{version.number}/approve", headers=staff["reviewer"].headers
    ).json()
    assert (approved["review_comment"], approved["approved_by"]) == ("", "reviewer")


@time_machine.travel(NOW, tick=False)
def test_a_scheduled_version_is_unscheduled_before_it_is_edited_or_deleted(
    client: Client, staff: dict[str, Person]
) -> None:
    version = schedule(approve(draft_by(staff["writer"]), staff["checker"]), staff["publisher"])
    one = f"/api/v1/rules/shipping/versions/{version.number}"
    editor = staff["editor"].headers
    for response in (
        client.patch(one, {"text": NEW_TEXT}, content_type=JSON, headers=editor),
        client.delete(one, headers=editor),
        client.post(f"{one}/approve", headers=staff["reviewer"].headers),
        client.post(
            f"{one}/send-back", {"comment": "再看看"}, content_type=JSON, headers=staff["reviewer"].headers
        ),
    ):
        assert response.status_code == 409, response.content.decode()
        assert response["Content-Type"].startswith(PROBLEM)
        assert "请先由发布角色撤回排期" in response.json()["detail"]
    assert client.get("/api/v1/rules/shipping/drafts", headers=editor).json()["items"][0]["review_state"] == (
        "scheduled"
    )
    unscheduled = client.post(f"{one}/unschedule", headers=staff["publisher"].headers)
    assert unscheduled.status_code == 200
    assert unscheduled.json()["notice_at"] is None
    assert not LifecycleEvent.objects.exists()
    assert client.post(f"{one}/unschedule", headers=staff["publisher"].headers).status_code == 409
    edited = client.patch(one, {"text": NEW_TEXT}, content_type=JSON, headers=editor)
    assert edited.status_code == 200
    assert (edited.json()["author"], edited.json()["approved_by"]) == ("editor", None)


def test_a_noticed_version_can_no_longer_be_unscheduled(client: Client, staff: dict[str, Person]) -> None:
    with time_machine.travel(NOW, tick=False):
        version = schedule(approve(draft_by(staff["writer"]), staff["checker"]), staff["publisher"])
    with time_machine.travel(NOTICE + timedelta(seconds=1), tick=False):
        lifecycle_run_due()
        response = client.post(
            f"/api/v1/rules/shipping/versions/{version.number}/unschedule", headers=staff["publisher"].headers
        )
    assert response.status_code == 409
    assert "不能修改或删除" in response.json()["detail"]
    version.refresh_from_db()
    assert version.notice_at == NOTICE


@time_machine.travel(NOW, tick=False)
def test_unscheduling_a_bundle_member_leaves_the_others_scheduled(staff: dict[str, Person]) -> None:
    first = approve(draft_by(staff["writer"]), staff["checker"])
    second = approve(draft_by(staff["writer"], slug="returns", title="退货规则"), staff["checker"])
    publisher = actor_for(staff["publisher"].user)
    bundle = services.change_bundle_schedule(
        actor=publisher,
        title="发货与退货",
        versions=[first, second],
        notice_at=NOTICE,
        effective_at=EFFECTIVE,
    )
    services.rule_version_unschedule(actor=publisher, version=second)
    second.refresh_from_db()
    assert (second.bundle, second.notice_at) == (None, None)
    assert list(bundle.versions.all()) == [first]
    assert LifecycleEvent.objects.filter(version=first).count() == 2


# The whole path, and how it is told ------------------------------------------------------------------------


def test_draft_approve_schedule_notice_effective_end_to_end(client: Client, staff: dict[str, Person]) -> None:
    """The allowed path through the API with three people, then the lifecycle makes it public and in force."""
    with time_machine.travel(NOW, tick=False):
        rule_create()
        draft = client.post(
            "/api/v1/rules/shipping/versions",
            {"text": NEW_TEXT, "summary": "发货时限缩短为24小时"},
            content_type=JSON,
            headers=staff["editor"].headers,
        )
        assert draft.status_code == 201
        number = draft.json()["number"]
        one = f"/api/v1/rules/shipping/versions/{number}"
        assert client.post(f"{one}/approve", headers=staff["reviewer"].headers).status_code == 200
        body = {"notice_at": NOTICE.isoformat(), "effective_at": EFFECTIVE.isoformat()}
        scheduled = client.post(
            f"{one}/schedule", body, content_type=JSON, headers=staff["publisher"].headers
        )
        assert scheduled.status_code == 200
        assert scheduled.json()["status"] == "scheduled"
        # Not public before its notice: a rule with no noticed version is not even named.
        assert client.get("/api/v1/rules/shipping/versions").status_code == 404
    with time_machine.travel(NOTICE, tick=False):
        lifecycle_run_due()
        public = client.get("/api/v1/rules/shipping/versions").json()
        assert [(v["number"], v["status"]) for v in public["items"]] == [(number, "noticed")]
        assert Announcement.objects.filter(title="《1688商家发货行为管理规范》的更新公示").exists()
        assert client.get("/api/v1/rules/shipping").json()["in_force_version"] is None
    with time_machine.travel(EFFECTIVE, tick=False):
        lifecycle_run_due()
        assert client.get("/api/v1/rules/shipping").json()["in_force_version"] == number
    version = RuleVersion.objects.get(number=number)
    assert (version.author, version.approved_by) == (staff["editor"].user, staff["reviewer"].user)


@time_machine.travel(NOW, tick=False)
def test_review_steps_are_announced_with_their_actor_and_data(
    staff: dict[str, Person], changes: list[ContentChange]
) -> None:
    version = draft_by(staff["writer"])
    services.rule_version_send_back(actor=actor_for(staff["checker"].user), version=version, comment="请改")
    approve(version, staff["checker"])
    schedule(version, staff["publisher"])
    services.rule_version_unschedule(actor=actor_for(staff["publisher"].user), version=version)
    review = [
        c
        for c in changes
        if c.action in {ChangeAction.SENT_BACK, ChangeAction.APPROVED, ChangeAction.UNSCHEDULED}
    ]
    assert [(c.action, c.actor.name) for c in review] == [
        (ChangeAction.SENT_BACK, "checker"),
        (ChangeAction.APPROVED, "checker"),
        (ChangeAction.UNSCHEDULED, "publisher"),
    ]
    assert review[0].data["review_comment"] == "请改"
    assert review[1].data["approved_by"] == staff["checker"].user.pk
    assert review[1].data["author"] == staff["writer"].user.pk
    was = review[2].data["unscheduled"]
    assert isinstance(was, dict)
    assert datetime.fromisoformat(was["notice_at"]) == NOTICE
    assert datetime.fromisoformat(was["effective_at"]) == EFFECTIVE
    assert all(c.ids == (version.pk,) and c.rule_ids == (version.rule_id,) for c in review)


@time_machine.travel(NOW, tick=False)
def test_refusals_are_in_english_when_asked(client: Client, staff: dict[str, Person]) -> None:
    version = draft_by(staff["writer"])
    one = f"/api/v1/rules/shipping/versions/{version.number}"
    english = {"Accept-Language": "en"}
    forbidden = client.post(f"{one}/approve", headers=staff["editor"].headers | english)
    assert forbidden.json()["detail"] == "This action needs the “Reviewer” role."
    body = {"notice_at": NOTICE.isoformat(), "effective_at": EFFECTIVE.isoformat()}
    conflict = client.post(
        f"{one}/schedule", body, content_type=JSON, headers=staff["publisher"].headers | english
    )
    assert conflict.status_code == 409
    assert conflict.json()["detail"] == (
        "Version 1 of “1688商家发货行为管理规范” has not been approved: before it is scheduled for notice, "
        "a reviewer other than its author must approve it."
    )
    assert conflict["Content-Language"] == "en"


@time_machine.travel(NOW, tick=False)
def test_an_approval_retried_with_its_idempotency_key_is_answered_once(
    client: Client, staff: dict[str, Person], changes: list[ContentChange]
) -> None:
    version = draft_by(staff["writer"])
    url = f"/api/v1/rules/shipping/versions/{version.number}/approve"
    headers = staff["reviewer"].headers | {"Idempotency-Key": "approve-shipping-1"}
    first = client.post(url, headers=headers)
    again = client.post(url, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert [c.action for c in changes].count(ChangeAction.APPROVED) == 1
    # Without the key the repeat is refused: it is already approved.
    assert client.post(url, headers=staff["reviewer"].headers).status_code == 409


@time_machine.travel(NOW, tick=False)
def test_the_drafts_list_costs_the_same_however_many_drafts(client: Client, staff: dict[str, Person]) -> None:
    version = draft_by(staff["writer"])
    headers = staff["editor"].headers

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/v1/rules/shipping/drafts", headers=headers).status_code == 200
        return len(captured)

    queries()  # a token's use is written down at most once a minute: not part of the list's cost
    one = queries()
    for _ in range(4):
        services.rule_version_create(actor=actor_for(staff["writer"].user), rule=version.rule, text=NEW_TEXT)
    approve(RuleVersion.objects.get(number=3), staff["checker"])
    schedule(RuleVersion.objects.get(number=3), staff["publisher"])
    assert queries() == one


# The admin -------------------------------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_each_role_sees_its_own_buttons_and_fields_on_a_version(
    client: Client, staff: dict[str, Person]
) -> None:
    version = draft_by(staff["writer"])
    url = f"/admin/rules/ruleversion/{version.pk}/change/"

    def page(who: str) -> str:
        client.force_login(staff[who].user)
        return client.get(url).content.decode()

    editor, reviewer, publisher = page("editor"), page("reviewer"), page("publisher")
    assert 'name="text"' in editor
    assert 'name="_approve"' not in editor
    assert 'name="_approve"' in reviewer
    assert 'name="_send_back"' in reviewer
    assert 'name="comment"' in reviewer
    assert 'name="text"' not in reviewer
    assert 'name="_schedule"' not in publisher  # not approved yet
    assert 'name="notice_at_0"' not in publisher
    assert "writer" in reviewer  # the author, shown read-only
    approve(version, staff["checker"])
    publisher = page("publisher")
    assert 'name="_schedule"' in publisher
    assert 'name="notice_at_0"' in publisher
    assert "checker" in publisher
    schedule(version, staff["publisher"])
    assert 'name="_unschedule"' in page("publisher")
    assert 'name="text"' not in page("editor")  # scheduled: unschedule before editing


@time_machine.travel(NOW, tick=False)
def test_sending_back_in_the_admin_without_a_comment_is_a_form_error(
    client: Client, staff: dict[str, Person]
) -> None:
    version = approve(draft_by(staff["writer"]), staff["checker"])
    client.force_login(staff["reviewer"].user)
    url = f"/admin/rules/ruleversion/{version.pk}/change/"
    refused = client.post(url, {"comment": "", "_send_back": "1"})
    assert refused.status_code == 200
    assert services.COMMENT_REQUIRED in refused.content.decode()
    version.refresh_from_db()
    assert version.approved_at is not None
    sent = client.post(url, {"comment": "第三条请举例。", "_send_back": "1"}, follow=True)
    assert "已退回修改" in sent.content.decode()
    returned = RuleVersion.objects.get(pk=version.pk)
    assert (returned.review_comment, returned.approved_at) == ("第三条请举例。", None)


def test_exit_requests_cannot_be_deleted_in_the_admin(client: Client) -> None:
    """A member's exit is a record the platform keeps: no delete action, no delete page, even for a superuser."""
    from django.contrib.auth.models import User

    from rulecenter.accounts.services import member_create
    from rulecenter.rules.models import ExitRequest

    with time_machine.travel(NOW, tick=False) as clock:
        version = services.rule_version_create(actor=SYSTEM, rule=rule_create(), text=OLD_TEXT)
        bundle = services.change_bundle_schedule(
            actor=SYSTEM, title="发货规范变更", versions=[version], notice_at=NOTICE, effective_at=EFFECTIVE
        )
        clock.move_to(NOTICE + timedelta(hours=1))
        member = member_create(actor=SYSTEM, username="shop-a", shop_name="甲店")
        request = services.exit_request_create(actor=SYSTEM, bundle=bundle, user=member.user, reason="不接受")
    client.force_login(User.objects.create_superuser("operator", "op@example.com", "pw-operator-1"))
    page = client.get("/admin/rules/exitrequest/").content.decode()
    assert 'value="export_csv"' in page  # the actions are there
    assert 'value="delete_selected"' not in page
    assert client.post(f"/admin/rules/exitrequest/{request.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ExitRequest.objects.count() == 1


# Production ----------------------------------------------------------------------------------------------


def test_production_settings_refuse_single_person_mode() -> None:
    root = Path(__file__).resolve().parents[3]
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "example.org",
        "RULECENTER_FOUR_EYES": "false",
    }
    code = "import django; django.setup()"
    result = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "RULECENTER_FOUR_EYES" in result.stderr
    ok = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env=env | {"RULECENTER_FOUR_EYES": "true"},
        capture_output=True,
    )
    assert ok.returncode == 0, ok.stderr


def test_scheduling_an_unapproved_version_changes_nothing(staff: dict[str, Person]) -> None:
    with time_machine.travel(NOW, tick=False):
        version = draft_by(staff["writer"])
        with pytest.raises(ValidationError):
            schedule(version, staff["publisher"])
    version.refresh_from_db()
    assert version.notice_at is None
    assert not LifecycleEvent.objects.exists()
