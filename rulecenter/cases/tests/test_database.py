"""The database guards a case too, whatever door writes: its timeline and files are written once, what it
was filed about never changes, a human review is never the first answerer's, an answer is complete."""

from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from rulecenter.accounts.roles import actor_for
from rulecenter.cases import services

from .factories import PNG, case_file, member, reviewer, shipping_rule, upload

pytestmark = pytest.mark.django_db


def refused(sql: str, *params: Any) -> str:
    with pytest.raises(IntegrityError) as error, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    return str(error.value)


@pytest.fixture
def case() -> Any:
    shipping_rule()
    return case_file(member(), automated=True, uploads=[upload("a.png", PNG)])


def test_the_timeline_and_the_files_are_written_once(case: Any) -> None:
    assert "written once" in refused(
        "UPDATE cases_casestep SET note = 'rewritten' WHERE case_id = %s", case.pk
    )
    assert "written once" in refused("DELETE FROM cases_casestep WHERE case_id = %s", case.pk)
    assert "kept as sent" in refused(
        "UPDATE cases_caseattachment SET name = 'x.png' WHERE case_id = %s", case.pk
    )
    assert "kept as sent" in refused("DELETE FROM cases_caseattachment WHERE case_id = %s", case.pk)
    assert "never deleted" in refused("DELETE FROM cases_case WHERE id = %s", case.pk)


@pytest.mark.parametrize(
    "assignment",
    ["text = 'another text'", "at = '2020-01-01 00:00:00'", "clause = 'article-3'", "number = 'SS1'"],
)
def test_what_a_case_was_filed_about_never_changes(case: Any, assignment: str) -> None:
    assert "never changes" in refused(f"UPDATE cases_case SET {assignment} WHERE id = %s", case.pk)  # noqa: S608


def test_the_version_pinned_never_changes(case: Any) -> None:
    other = case.rule.versions.exclude(pk=case.version_id).get()
    assert "never changes" in refused(
        "UPDATE cases_case SET version_id = %s WHERE id = %s", other.pk, case.pk
    )


def test_an_answer_is_complete_and_a_review_is_another_person_s(case: Any) -> None:
    assert "case_answer_complete" in refused(
        "UPDATE cases_case SET status = 'answered' WHERE id = %s", case.pk
    )
    rita = reviewer()
    services.case_answer(actor=actor_for(rita), case=case, outcome="rejected", answer="理由")
    services.case_escalate(actor=actor_for(case.member), case=case)
    assert "case_review_by_another" in refused(
        "UPDATE cases_case SET answered_by_id = %s WHERE id = %s", rita.pk, case.pk
    )
    assert "case_status_known" in refused("UPDATE cases_case SET status = 'lost' WHERE id = %s", case.pk)
