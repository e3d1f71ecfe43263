"""A rule change may target segments (issue 13): set until its notice, frozen from then on — by the service and
by the database — marked on the public pages and in the API, and asking only its segments' members to
acknowledge it."""

import json
from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.test import Client

from rulecenter.accounts import services as account_services
from rulecenter.accounts.models import Member, Role, Segment
from rulecenter.accounts.roles import actor_for
from rulecenter.accounts.tests.factories import user_create
from rulecenter.announcements.models import Announcement
from rulecenter.audit.models import AuditEntry
from rulecenter.common.actors import SYSTEM
from rulecenter.common.tests.pages import unmarked
from rulecenter.rules import lifecycle, selectors, services
from rulecenter.rules.models import RuleVersion
from rulecenter.rules.tests.factories import NEW_TEXT, OLD_TEXT, rule_create, shanghai

pytestmark = pytest.mark.django_db

NOTICE = shanghai(2026, 3, 1, 10)
EFFECTIVE = NOTICE + timedelta(days=16)
DURING = NOTICE + timedelta(days=2)


@pytest.fixture
def segments() -> list[Segment]:
    return [
        account_services.segment_create(
            actor=SYSTEM, slug="apparel", name="服装商家", industries=["apparel"]
        ),
        account_services.segment_create(actor=SYSTEM, slug="newcomers", name="新开店商家", max_shop_days=90),
    ]


def merchant(username: str, *, industry: str = "", joined_on: date = date(2024, 1, 1)) -> Member:
    return account_services.member_create(
        actor=SYSTEM, username=username, industry=industry, joined_on=joined_on
    )


def slugs_of(version: RuleVersion) -> list[str]:
    return sorted(version.segments.values_list("slug", flat=True))


def refused(sql: str, *params: Any) -> str:
    """Run `sql` as a database client would and return the database's refusal."""
    with pytest.raises(IntegrityError) as error, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    return str(error.value)


def scheduled(
    slug: str = "shipping", *, major: bool = False, ask: bool = False, **segments: Any
) -> RuleVersion:
    """A version of a rule noticed at NOTICE (scheduled the day before), targeted at `segments['to']`."""
    with time_machine.travel(NOTICE - timedelta(days=1), tick=False):
        rule = rule_create(slug=slug, title=f"{slug}规范")
        version = services.rule_version_create(
            actor=SYSTEM,
            rule=rule,
            text=OLD_TEXT,
            major=major,
            acknowledgment_required=ask,
            summary="时限缩短",
        )
        if segments.get("to"):
            services.rule_version_segments_set(actor=SYSTEM, version=version, segments=segments["to"])
        return services.rule_version_schedule(
            actor=SYSTEM, version=version, notice_at=NOTICE, effective_at=EFFECTIVE
        )


def noticed() -> None:
    with time_machine.travel(NOTICE, tick=False):
        lifecycle.lifecycle_run_due()


def test_an_editor_targets_a_version_until_its_notice_and_the_change_is_recorded(
    segments: list[Segment],
) -> None:
    version = scheduled()  # scheduled: targeting is not the text, an approval and a schedule stand
    editor = actor_for(user_create("eddie", roles=(Role.EDITOR,)))
    with time_machine.travel(NOTICE - timedelta(hours=1), tick=False):
        services.rule_version_segments_set(actor=editor, version=version, segments=["apparel", "newcomers"])
    assert slugs_of(version) == ["apparel", "newcomers"]
    version.refresh_from_db()
    assert version.notice_at == NOTICE
    entry = AuditEntry.objects.filter(kind="rule_version", action="updated").get()
    assert (entry.actor_name, json.loads(entry.data or "{}")["segments"]) == (
        "eddie",
        ["newcomers", "apparel"],
    )


def test_only_editors_target_a_version(segments: list[Segment]) -> None:
    version = scheduled()
    publisher = actor_for(user_create("pat", roles=(Role.PUBLISHER, Role.REVIEWER)))
    with time_machine.travel(NOTICE - timedelta(hours=1)), pytest.raises(PermissionDenied, match="“编辑”"):
        services.rule_version_segments_set(actor=publisher, version=version, segments=["apparel"])
    assert slugs_of(version) == []


def test_an_unknown_segment_is_refused_by_name_and_nothing_changes(segments: list[Segment]) -> None:
    version = scheduled(to=["apparel"])
    with time_machine.travel(NOTICE - timedelta(hours=1)), pytest.raises(ValidationError) as error:
        services.rule_version_segments_set(actor=SYSTEM, version=version, segments=["newcomers", "nope"])
    assert error.value.message_dict["segments"] == ["没有标识为“nope”的商家分群。"]
    assert slugs_of(version) == ["apparel"]


def test_from_the_notice_on_the_service_refuses_and_nothing_changes(segments: list[Segment]) -> None:
    version = scheduled(to=["apparel"])
    with time_machine.travel(NOTICE + timedelta(minutes=1)), pytest.raises(ValidationError) as error:
        services.rule_version_segments_set(actor=SYSTEM, version=version, segments=["newcomers"])
    assert error.value.messages == [
        "该版本已于 2026-03-01 10:00 公示，不能修改或删除；如需更正，请新建版本。"
    ]
    assert slugs_of(version) == ["apparel"]


def test_the_database_refuses_changing_a_noticed_version_s_segments(segments: list[Segment]) -> None:
    version = scheduled(to=["apparel"])
    apparel, newcomers = segments
    insert = "INSERT INTO rules_ruleversion_segments (ruleversion_id, segment_id) VALUES (%s, %s)"
    # Before the notice the database lets them change (the service decides who may).
    with connection.cursor() as cursor:
        cursor.execute(insert, [version.pk, newcomers.pk])
        cursor.execute("DELETE FROM rules_ruleversion_segments WHERE segment_id = %s", [newcomers.pk])
    noticed()
    assert "frozen" in refused(insert, version.pk, newcomers.pk)
    assert "frozen" in refused("DELETE FROM rules_ruleversion_segments WHERE ruleversion_id = %s", version.pk)
    assert "frozen" in refused(
        "UPDATE rules_ruleversion_segments SET segment_id = %s WHERE ruleversion_id = %s",
        newcomers.pk,
        version.pk,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        apparel.delete()  # it would take the version's row with it
    assert slugs_of(version) == ["apparel"]


def test_the_version_s_other_triggers_still_hold() -> None:
    """The segments' migration adds a table and leaves rules_ruleversion as it was: its triggers stay."""
    version = scheduled()
    noticed()
    assert "frozen" in refused("UPDATE rules_ruleversion SET text = %s WHERE id = %s", NEW_TEXT, version.pk)
    assert "frozen" in refused("DELETE FROM rules_ruleversion WHERE id = %s", version.pk)


def test_the_public_pages_mark_a_targeted_change_and_stay_public(
    client: Client, segments: list[Segment]
) -> None:
    version = scheduled(to=["apparel", "newcomers"])
    plain = scheduled("returns")
    line = "本变更主要涉及：新开店商家、服装商家（规则对所有人公开；通知只发给相关商家）"
    with time_machine.travel(DURING):
        page = client.get("/rules/shipping/versions/1/")  # anonymous
        assert page.status_code == 200
        assert line in unmarked(page.content.decode())
        rule_page = unmarked(client.get("/rules/shipping/").content.decode())  # the upcoming banner
        assert "banner-upcoming" in rule_page
        assert line in rule_page
        assert "本变更主要涉及" not in client.get("/rules/returns/versions/1/").content.decode()
        english = client.get(
            "/rules/shipping/versions/1/", headers={"accept-language": "en"}
        ).content.decode()
        assert "This change mainly concerns: 新开店商家, 服装商家" in unmarked(english)
    with time_machine.travel(EFFECTIVE + timedelta(days=1)):
        assert line in unmarked(
            client.get("/rules/shipping/").content.decode()
        )  # in force: on the rule's page
    assert plain.pk != version.pk


def test_the_api_answers_the_segments(client: Client, segments: list[Segment]) -> None:
    scheduled(to=["apparel"])
    scheduled("returns")
    expected = [{"slug": "apparel", "name": "服装商家"}]
    with time_machine.travel(DURING):
        history = client.get("/api/v1/rules/shipping/versions").json()
        assert [item["segments"] for item in history["items"]] == [expected]
        at = client.get("/api/v1/rules/shipping/at", {"time": EFFECTIVE.isoformat()}).json()
        assert at["segments"] == expected
        assert client.get("/api/v1/rules/returns/versions").json()["items"][0]["segments"] == []


def test_the_notice_announcement_of_a_targeted_change_targets_its_segments(segments: list[Segment]) -> None:
    scheduled(to=["apparel"])
    scheduled("returns")
    noticed()
    notices = {a.title: sorted(a.segments.values_list("slug", flat=True)) for a in Announcement.objects.all()}
    assert notices == {"《shipping规范》的更新公示": ["apparel"], "《returns规范》的更新公示": []}


def test_a_bundle_s_notice_is_targeted_only_when_each_of_its_versions_is(segments: list[Segment]) -> None:
    def bundle(*targets: list[str]) -> Announcement:
        with time_machine.travel(NOTICE - timedelta(days=1), tick=False):
            versions = []
            for n, target in enumerate(targets):
                rule = rule_create(slug=f"r{len(targets)}-{n}", title=f"规则{len(targets)}-{n}")
                version = services.rule_version_create(actor=SYSTEM, rule=rule, text=OLD_TEXT)
                services.rule_version_segments_set(actor=SYSTEM, version=version, segments=target)
                versions.append(version)
            made = services.change_bundle_schedule(
                actor=SYSTEM, title="变更包", versions=versions, notice_at=NOTICE, effective_at=EFFECTIVE
            )
        noticed()
        found = selectors.bundle_notice_announcement(bundle_id=made.pk)
        assert found is not None
        return found

    assert sorted(bundle(["apparel"], ["newcomers"]).segments.values_list("slug", flat=True)) == [
        "apparel",
        "newcomers",
    ]
    assert list(bundle(["apparel"], [], []).segments.values_list("slug", flat=True)) == []


def test_a_targeted_change_asks_only_its_segments_members_to_acknowledge(segments: list[Segment]) -> None:
    scheduled(major=True, ask=True, to=["apparel"])
    everyone = scheduled("returns", major=True, ask=True)
    with time_machine.travel(DURING):
        concerned = merchant("concerned", industry="apparel")
        other = merchant("other", industry="food")
        young = merchant("young", industry="food", joined_on=date(2026, 2, 1))  # in newcomers, not apparel
        staff = user_create("staff")
        pending = {
            person: [v.rule.slug for v in selectors.acknowledgments_pending(user_id=user.pk, at=DURING)]
            for person, user in (("concerned", concerned.user), ("other", other.user), ("young", young.user),
                                 ("staff", staff))
        }  # fmt: skip
    assert pending == {
        "concerned": ["shipping", "returns"],
        "other": ["returns"],
        "young": ["returns"],
        "staff": ["returns"],  # staff are not asked anyway (the pages say only members acknowledge)
    }
    assert everyone.rule.slug == "returns"


def test_the_pending_list_is_right_whichever_versions_come_first(segments: list[Segment]) -> None:
    """With a limit of one: an untargeted version first needs one query; a targeted one first is left out
    for a member outside its segments, and the next one shown."""
    scheduled(major=True, ask=True, to=["apparel"])  # shipping: effective first
    with time_machine.travel(NOTICE - timedelta(days=1), tick=False):
        rule = rule_create(slug="later", title="later规范")
        version = services.rule_version_create(
            actor=SYSTEM, rule=rule, text=OLD_TEXT, major=True, acknowledgment_required=True
        )
        services.rule_version_schedule(
            actor=SYSTEM, version=version, notice_at=NOTICE, effective_at=EFFECTIVE + timedelta(days=1)
        )
    with time_machine.travel(DURING):
        outside = merchant("outside", industry="food")
        inside = merchant("inside", industry="apparel")
    first = selectors.acknowledgments_pending(user_id=outside.user_id, at=DURING, limit=1)
    assert [v.rule.slug for v in first] == ["later"]
    assert [
        v.rule.slug for v in selectors.acknowledgments_pending(user_id=inside.user_id, at=DURING, limit=1)
    ] == ["shipping"]


def test_reminders_are_due_only_for_the_segment_s_members(segments: list[Segment]) -> None:
    targeted = scheduled(major=True, ask=True, to=["apparel", "newcomers"])
    with time_machine.travel(DURING):
        people = {
            "apparel": merchant("apparel-shop", industry="apparel"),
            "new": merchant("new-shop", industry="food", joined_on=date(2026, 2, 1)),
            "other": merchant("other-shop", industry="food"),
        }
        for person in people.values():
            person.user.email = f"{person.user.username}@shop.example"
            person.user.save()
        due = set(selectors.acknowledgment_reminders_due(version=targeted, at=DURING))
    assert due == {people["apparel"].user_id, people["new"].user_id}
    # Shop age is judged when reminding: 91 days after joining (90 is the segment's last), no longer new.
    assert set(selectors.acknowledgment_reminders_due(version=targeted, at=shanghai(2026, 5, 2, 10))) == due
    late = shanghai(2026, 5, 3, 10)
    assert set(selectors.acknowledgment_reminders_due(version=targeted, at=late)) == {
        people["apparel"].user_id
    }


def test_the_admin_sets_segments_through_the_service_until_the_notice(segments: list[Segment]) -> None:
    editor = user_create("eddie", roles=(Role.EDITOR,), is_staff=True)
    client = Client()
    client.force_login(editor)
    version = scheduled()
    url = f"/admin/rules/ruleversion/{version.pk}/change/"
    form = {"segments": [segments[0].pk], "_save": "1"}  # scheduled: the text is read-only, the segments not
    with time_machine.travel(NOTICE - timedelta(hours=1)):
        assert 'name="segments"' in client.get(url).content.decode()
        response = client.post(url, form)
        assert response.status_code == 302, response.content.decode()[:3000]
    assert slugs_of(version) == ["apparel"]
    assert AuditEntry.objects.filter(kind="rule_version", action="updated", actor_name="eddie").exists()
    noticed()
    with time_machine.travel(DURING):
        page = client.get(url).content.decode()
        assert 'name="segments"' not in page  # shown, not offered
        client.post(url, {"segments": [segments[1].pk], "_save": "1"})
    assert slugs_of(version) == ["apparel"]


def test_an_editor_targets_a_version_through_the_api_until_its_notice(
    client: Client, segments: list[Segment]
) -> None:
    """Targeting alone is not an edit: the approval and the schedule stand; from the notice on it is 409."""
    editor = user_create("eddie", roles=(Role.EDITOR,))
    headers = {"Authorization": f"Bearer {account_services.api_token_create(actor=SYSTEM, user=editor)[1]}"}
    with time_machine.travel(NOTICE - timedelta(days=2), tick=False):
        rule_create(slug="returns", title="退货规范")
        created = client.post(
            "/api/v1/rules/returns/versions", {"text": OLD_TEXT, "segments": ["apparel"]},
            content_type="application/json", headers=headers,
        )  # fmt: skip
        assert created.status_code == 201, created.content
        assert created.json()["segments"] == [{"slug": "apparel", "name": "服装商家"}]
        unknown = client.post(
            "/api/v1/rules/returns/versions", {"text": OLD_TEXT, "segments": ["nobody"]},
            content_type="application/json", headers=headers,
        )  # fmt: skip
        assert unknown.status_code == 422
        assert RuleVersion.objects.filter(rule__slug="returns").count() == 1  # nothing half-written
    version = scheduled(to=["apparel"])
    url = "/api/v1/rules/shipping/versions/1"
    with time_machine.travel(NOTICE - timedelta(hours=1), tick=False):
        retarget = client.patch(
            url, {"segments": ["newcomers"]}, content_type="application/json", headers=headers
        )
        assert retarget.status_code == 200, retarget.content
        assert retarget.json()["review_state"] == "scheduled"
        assert slugs_of(version) == ["newcomers"]
        bad = client.patch(url, {"segments": ["BAD SLUG"]}, content_type="application/json", headers=headers)
        assert bad.status_code == 422
    with time_machine.travel(DURING, tick=False):
        frozen = client.patch(url, {"segments": []}, content_type="application/json", headers=headers)
        assert frozen.status_code == 409
    assert slugs_of(version) == ["newcomers"]
