"""An option's key follows one rule wherever it is written: the API, the admin, the services, the database."""

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.db import DataError, IntegrityError, connection, transaction
from django.test import Client

from rulecenter.accounts.models import Role
from rulecenter.accounts.tests.factories import bearer, token_for, user_create
from rulecenter.consultations import services
from rulecenter.consultations.models import Consultation, ConsultationOption, Opinion, Vote, VoteHistory
from rulecenter.rules.tests.factories import shanghai

from .factories import DURING, consultation_create, draft_version, member_create

pytestmark = pytest.mark.django_db

BEFORE_OPENING = shanghai(2025, 1, 10)
REFUSED_KEY = "No-Vote"  # a slug, so the admin took it before the rule lived in the model
normalised = importlib.import_module("rulecenter.consultations.migrations.0003_option_keys_normalised")


def admin_form(consultation: Consultation, extra_key: str) -> dict[str, Any]:
    """The change form as the admin posts it: the consultation, its two options and one option more."""
    form: dict[str, Any] = {
        "title": consultation.title,
        "explanation": "",
        "versions": [version.pk for version in consultation.versions.all()],
        "opens_at_0": "2025-01-15",
        "opens_at_1": "10:00:00",
        "closes_at_0": "2025-01-22",
        "closes_at_1": "18:00:00",
        "options-TOTAL_FORMS": "3",
        "options-INITIAL_FORMS": "2",
        "options-MIN_NUM_FORMS": "0",
        "options-MAX_NUM_FORMS": "1000",
    }
    rows = [(option.pk, option.key, option.label) for option in consultation.options.all()]
    for index, (pk, key, label) in enumerate([*rows, ("", extra_key, "弃权")]):
        form |= {
            f"options-{index}-id": pk,
            f"options-{index}-consultation": consultation.pk,
            f"options-{index}-position": index,
            f"options-{index}-key": key,
            f"options-{index}-label": label,
        }
    return form


@time_machine.travel(BEFORE_OPENING, tick=False)
def test_the_admin_refuses_the_key_the_api_refuses(client: Client) -> None:
    editor = user_create("editor", roles=(Role.EDITOR,), is_staff=True)
    draft = draft_version()
    body = {
        "title": "发货规范意见征集",
        "opens_at": "2025-01-15T10:00:00+08:00",
        "closes_at": "2025-01-22T18:00:00+08:00",
        "versions": [{"rule": "shipping", "number": draft.number}],
        "options": [{"key": "support", "label": "支持"}, {"key": REFUSED_KEY, "label": "反对"}],
    }
    api = client.post(
        "/api/v1/consultations", body, content_type="application/json", headers=bearer(token_for(editor))
    )
    assert api.status_code == 422
    assert api.json()["errors"][0]["loc"] == ["body", "options", 1, "key"]

    consultation = consultation_create(versions=[draft])
    client.force_login(editor)
    url = f"/admin/consultations/consultation/{consultation.pk}/change/"
    refused = client.post(url, admin_form(consultation, REFUSED_KEY))
    assert refused.status_code == 200
    assert f"选项标识“{REFUSED_KEY}”无效" in refused.content.decode()
    assert [o.key for o in consultation.options.all()] == ["support", "reevaluate"]

    saved = client.post(url, admin_form(consultation, "abstain"))
    assert saved.status_code == 302
    assert [o.key for o in consultation.options.all()] == ["support", "reevaluate", "abstain"]


@time_machine.travel(BEFORE_OPENING, tick=False)
def test_the_database_refuses_a_bad_key_written_past_the_validators() -> None:
    consultation = consultation_create()
    for key in (REFUSED_KEY, "1st", "_x", "a" * 33, "yes\n"):
        with pytest.raises((IntegrityError, DataError)), transaction.atomic():
            ConsultationOption.objects.create(consultation=consultation, key=key, label=f"选项{key!r}")
    ConsultationOption.objects.create(consultation=consultation, key="abstain_2", label="弃权")


@pytest.mark.parametrize(
    ("key", "taken", "expected"),
    [
        ("No-Vote", set(), "no_vote"),
        ("No-Vote", {"no_vote", "no_vote_2"}, "no_vote_3"),
        ("1st", set(), "k_1st"),
        ("支持", set(), "k___"),
        ("Long-" * 10, set(), ("long_" * 7)[:32]),
        ("Long-" * 10, {("long_" * 7)[:32]}, ("long_" * 7)[:30] + "_2"),
    ],
)
def test_the_migration_gives_an_old_bad_key_a_valid_one(key: str, taken: set[str], expected: str) -> None:
    assert normalised.valid_key(key, taken) == expected
    assert normalised.VALID.fullmatch(expected)


@contextmanager
def key_check_off() -> Iterator[None]:
    """The database as it was before 0004, no check on the keys, until the test's transaction ends.

    Entered before the test writes anything: PostgreSQL alters no table with deferred checks pending.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA ignore_check_constraints = ON")
            try:
                yield
            finally:
                cursor.execute("PRAGMA ignore_check_constraints = OFF")
        else:  # the test's transaction puts the check back
            table = ConsultationOption._meta.db_table
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT consultationoption_key_format")
            yield


def test_the_migration_renames_an_old_bad_key_and_its_votes_follow() -> None:
    with key_check_off():
        with time_machine.travel(BEFORE_OPENING, tick=False):
            consultation = consultation_create()
        ConsultationOption.objects.filter(consultation=consultation, key="reevaluate").update(
            key="Re-Evaluate"
        )
        with time_machine.travel(DURING, tick=False):
            member = member_create()
            services.vote_cast(
                consultation=consultation, user=member.user, choice="Re-Evaluate", reason="再看看"
            )
        services.opinions_collect(consultation=consultation)
        normalised.normalise(apps, None)
    assert [o.key for o in consultation.options.all()] == ["support", "re_evaluate"]
    for model in (Vote, VoteHistory, Opinion):
        assert list(model.objects.values_list("choice", flat=True)) == ["re_evaluate"]
