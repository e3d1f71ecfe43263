"""A draft inside a consultation that has opened is frozen; before it opens, the consultation is not public.

The services ask before editing or deleting a version (`content_changing_check`) and consultations refuse
on the application's clock (receivers.py); the database refuses on its own clock (migration 0005). Tests
that need a consultation the database does not yet consider open create one in the real future, without
travelling: the database's clock does not travel with time-machine.
"""

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils import timezone, translation

from rulecenter.accounts.models import Role
from rulecenter.accounts.tests.factories import bearer, token_for, user_create
from rulecenter.common.actors import SYSTEM
from rulecenter.consultations.models import Consultation
from rulecenter.rules import services as rule_services
from rulecenter.rules.models import RuleVersion
from rulecenter.rules.tests.factories import NEW_TEXT, shanghai

from .factories import AFTER, DURING, OPENS, consultation_create, draft_version

pytestmark = pytest.mark.django_db

TITLE = "《1688商家发货行为管理规范》变更意见征集"
OPENED = f"该版本是意见征集“{TITLE}”的草案，征集已于 2025-01-15 10:00 开始，不能再修改或删除；如需修改，请新建版本。"
DRAFT_FROZEN = "draft of a consultation that has opened"
LINK_FROZEN = "its drafts can no longer be taken out of it"


@pytest.fixture
def opened() -> Consultation:
    """A consultation that opened on 2025-01-15 (for the database, long since)."""
    with time_machine.travel(shanghai(2025, 1, 10), tick=False):
        return consultation_create()


@pytest.fixture
def upcoming() -> Consultation:
    """A consultation opening tomorrow by the real clock: not open for the application or the database."""
    opens_at = timezone.now() + timedelta(days=1)
    return consultation_create(opens_at=opens_at, closes_at=opens_at + timedelta(days=10))


def draft_of(consultation: Consultation) -> RuleVersion:
    return consultation.versions.get()


def raw(sql: str, *params: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def refused(sql: str, *params: Any) -> str:
    with pytest.raises(IntegrityError) as error, transaction.atomic():
        raw(sql, *params)
    return str(error.value)


# The services --------------------------------------------------------------------------------------------


@time_machine.travel(DURING, tick=False)
def test_the_services_refuse_editing_or_deleting_a_draft_members_are_voting_on(opened: Consultation) -> None:
    draft = draft_of(opened)
    with pytest.raises(ValidationError) as edit:
        rule_services.rule_version_update(
            actor=SYSTEM, version=draft, text=NEW_TEXT + "\n\n第五条 新增。", summary="", major=False
        )
    assert edit.value.messages == [OPENED]
    with pytest.raises(ValidationError) as delete:
        rule_services.rule_version_delete(actor=SYSTEM, version=draft)
    assert delete.value.messages == [OPENED]
    draft.refresh_from_db()
    assert draft.text == NEW_TEXT
    assert list(opened.versions.all()) == [draft]


@time_machine.travel(DURING, tick=False)
def test_the_refusal_speaks_english_too(opened: Consultation) -> None:
    with translation.override("en"), pytest.raises(ValidationError) as refused_edit:
        rule_services.rule_version_update(
            actor=SYSTEM, version=draft_of(opened), text="第一条 改。", summary="", major=False
        )
    assert refused_edit.value.messages == [
        f"This version is a draft of the consultation “{TITLE}”, which opened at 2025-01-15 10:00: it can no "
        "longer be edited or deleted. To change it, create a new version."
    ]


@time_machine.travel(DURING, tick=False)
def test_over_the_api_an_edit_or_delete_of_a_consulted_draft_is_a_409_that_says_why(
    client: Client, opened: Consultation
) -> None:
    headers = bearer(token_for(user_create("editor", roles=(Role.EDITOR,))))
    draft = draft_of(opened)
    one = f"/api/v1/rules/{draft.rule.slug}/versions/{draft.number}"
    edit = client.patch(one, {"text": "第一条 改写。"}, content_type="application/json", headers=headers)
    delete = client.delete(one, headers=headers)
    for response in (edit, delete):
        assert response.status_code == 409, response.content.decode()
        assert response.json()["detail"] == OPENED
    assert RuleVersion.objects.get(pk=draft.pk).text == NEW_TEXT


def test_before_it_opens_a_draft_can_be_edited_but_not_deleted_from_under_the_consultation(
    upcoming: Consultation,
) -> None:
    draft = draft_of(upcoming)
    rule_services.rule_version_update(
        actor=SYSTEM, version=draft, text=NEW_TEXT + "\n\n第五条 新增。", summary="", major=False
    )
    with pytest.raises(ValidationError, match="不能删除：请先将它移出该意见征集"):
        rule_services.rule_version_delete(actor=SYSTEM, version=draft)
    assert list(upcoming.versions.all()) == [draft]
    upcoming.versions.remove(draft)  # what the admin does while the consultation has not opened
    rule_services.rule_version_delete(actor=SYSTEM, version=draft)
    assert not RuleVersion.objects.filter(pk=draft.pk).exists()


def test_after_the_consultation_the_draft_is_scheduled_for_notice(opened: Consultation) -> None:
    """Only its content is frozen: scheduling the consulted draft is the next step, not an edit."""
    notice = shanghai(2025, 2, 1, 10)
    with time_machine.travel(AFTER, tick=False):
        scheduled = rule_services.rule_version_schedule(
            actor=SYSTEM, version=draft_of(opened), notice_at=notice, effective_at=notice + timedelta(days=8)
        )
    assert scheduled.notice_at == notice
    assert scheduled.text == NEW_TEXT


# The database ----------------------------------------------------------------------------------------------


def test_the_database_refuses_a_raw_edit_or_delete_of_an_opened_consultation_s_draft(
    opened: Consultation,
) -> None:
    draft = draft_of(opened)
    assert DRAFT_FROZEN in refused("UPDATE rules_ruleversion SET text = %s WHERE id = %s", "改写", draft.pk)
    assert DRAFT_FROZEN in refused(
        "UPDATE rules_ruleversion SET summary = %s WHERE id = %s", "改写", draft.pk
    )
    assert DRAFT_FROZEN in refused("DELETE FROM rules_ruleversion WHERE id = %s", draft.pk)
    assert LINK_FROZEN in refused(
        "DELETE FROM consultations_consultation_versions WHERE ruleversion_id = %s", draft.pk
    )
    other = draft_version(slug="other", title="其他规则")
    assert LINK_FROZEN in refused(
        "UPDATE consultations_consultation_versions SET ruleversion_id = %s WHERE ruleversion_id = %s",
        other.pk,
        draft.pk,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        draft.delete()  # Django takes the draft out of the consultation first: refused, not silent
    assert list(opened.versions.all()) == [draft]
    assert RuleVersion.objects.get(pk=draft.pk).text == NEW_TEXT
    # Its dates are not content: the database lets the draft be scheduled after the consultation.
    notice = shanghai(2025, 2, 1, 10)
    raw(
        "UPDATE rules_ruleversion SET notice_at = %s, effective_at = %s WHERE id = %s",
        notice,
        notice + timedelta(days=8),
        draft.pk,
    )
    assert RuleVersion.objects.get(pk=draft.pk).notice_at == notice


def test_the_database_lets_a_draft_change_before_its_consultation_opens(upcoming: Consultation) -> None:
    draft = draft_of(upcoming)
    raw("UPDATE rules_ruleversion SET text = %s WHERE id = %s", "第一条 开始前仍可修改。", draft.pk)
    raw("DELETE FROM consultations_consultation_versions WHERE ruleversion_id = %s", draft.pk)
    raw("DELETE FROM rules_ruleversion WHERE id = %s", draft.pk)
    assert not RuleVersion.objects.filter(pk=draft.pk).exists()


# Not public before it opens ----------------------------------------------------------------------------


@pytest.mark.parametrize(("moment", "public"), [(OPENS - timedelta(seconds=1), False), (OPENS, True)])
def test_a_consultation_and_its_drafts_are_public_from_its_opening_second(
    client: Client, opened: Consultation, moment: Any, public: bool
) -> None:
    status = 200 if public else 404
    with time_machine.travel(moment, tick=False):
        page = client.get(f"/consultations/{opened.pk}/")
        assert page.status_code == status
        assert ("24小时" in page.content.decode()) is public  # the draft's text
        assert (TITLE in client.get("/consultations/").content.decode()) is public
        listing = client.get("/api/v1/consultations").json()
        assert listing["count"] == (1 if public else 0)
        detail = client.get(f"/api/v1/consultations/{opened.pk}")
        assert detail.status_code == status
        assert not public or "24小时" in detail.json()["drafts"][0]["text"]
        assert client.get(f"/api/v1/consultations/{opened.pk}/tally").status_code == status
        assert client.get("/api/v1/consultations", {"status": "scheduled"}).json()["count"] == 0
