"""An editor's English title and change summary for a rule version (issue 15): shown to English readers from the
version's notice on, marked as a translation with the Chinese title beside it; never before the notice."""

from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.test import Client

from rulecenter.accounts.models import Role
from rulecenter.accounts.tests.factories import bearer, token_for, user_create
from rulecenter.common.actors import SYSTEM
from rulecenter.rules import services
from rulecenter.rules.models import RuleVersionTranslation

from .factories import NEW_TEXT, rule_create, scheduled_version, shanghai

pytestmark = pytest.mark.django_db
ENGLISH = {"accept-language": "en"}
TITLE = "1688 Merchant Shipping Conduct Rules"
NOTICE = shanghai(2025, 2, 10, 10)
DURING = NOTICE + timedelta(days=2)


def translate(client: Client, number: int, token: str, **payload: str) -> object:
    return client.post(
        f"/api/v1/rules/shipping/versions/{number}/translations",
        {"language": "en", "title": TITLE, "summary": "Orders ship within 24 hours.", **payload},
        content_type="application/json",
        headers=bearer(token),
    )


def test_a_noticed_version_s_translation_is_shown_to_english_readers_only(client: Client) -> None:
    rule = rule_create()
    with time_machine.travel(shanghai(2024, 2, 1)):
        scheduled_version(rule, notice_at=shanghai(2024, 2, 20, 10), summary="首次发布。")
    with time_machine.travel(NOTICE - timedelta(days=2)):
        second = scheduled_version(rule, text=NEW_TEXT, notice_at=NOTICE, summary="发货时限缩短为24小时。")
    publisher = token_for(user_create("publisher", roles=(Role.PUBLISHER,)))
    with time_machine.travel(NOTICE - timedelta(days=1)):
        response = translate(client, second.number, publisher)
        assert response.status_code == 201  # type: ignore[attr-defined]
        # Before its notice the version is not public, nor is its translation.
        assert client.get("/rules/shipping/versions/2/", headers=ENGLISH).status_code == 404
    with time_machine.travel(DURING):
        version_page = client.get("/rules/shipping/versions/2/", headers=ENGLISH).content.decode()
        assert f"“{TITLE}”, version 2" in version_page
        assert '<span lang="zh-Hans">1688商家发货行为管理规范</span>' in version_page
        assert "Change summary (translation)" in version_page
        assert "Orders ship within 24 hours." in version_page
        chinese = client.get("/rules/shipping/versions/2/").content.decode()
        assert TITLE not in chinese
        assert "发货时限缩短为24小时。" in chinese
        # The rule's page shows the version in force (1, untranslated) — in Chinese, marked as such.
        rule_page = client.get("/rules/shipping/", headers=ENGLISH).content.decode()
        assert TITLE not in rule_page.split("<h1>")[1].split("</h1>")[0]
        diff = client.get("/rules/shipping/diff/?from=1&to=2", headers=ENGLISH).content.decode()
        assert f"“{TITLE}”: version 1 → version 2" in diff
        assert TITLE not in client.get("/rules/shipping/diff/?from=1&to=2").content.decode()
        versions = client.get("/api/v1/rules/shipping/versions").json()["items"]
        assert {v["number"]: [t["title"] for t in v["translations"]] for v in versions} == {1: [], 2: [TITLE]}
    with time_machine.travel(NOTICE + timedelta(days=9)):
        in_force = client.get("/rules/shipping/", headers=ENGLISH).content.decode()
        assert f'<h1>“<span lang="en">{TITLE}</span>”</h1>' in in_force


def test_scheduling_makes_translating_a_publisher_s_step(client: Client) -> None:
    rule = rule_create()
    draft = services.rule_version_create(actor=SYSTEM, rule=rule, text=NEW_TEXT)
    editor = token_for(user_create("editor", roles=(Role.EDITOR,)))
    with time_machine.travel(NOTICE - timedelta(days=3)):
        assert translate(client, draft.number, editor).status_code == 201  # type: ignore[attr-defined]
        services.rule_version_schedule(
            actor=SYSTEM, version=draft, notice_at=NOTICE, effective_at=NOTICE + timedelta(days=8)
        )
        assert translate(client, draft.number, editor).status_code == 403  # type: ignore[attr-defined]
    assert RuleVersionTranslation.objects.filter(version=draft).count() == 1


def test_bad_input_stores_nothing_and_the_database_refuses_a_rewrite(client: Client) -> None:
    with time_machine.travel(NOTICE - timedelta(days=2)):
        version = scheduled_version(rule_create(), notice_at=NOTICE)
    publisher = token_for(user_create("publisher", roles=(Role.PUBLISHER,)))
    response = translate(client, version.number, publisher, title="")
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert response.json()["errors"][0]["loc"] == ["body", "title"]  # type: ignore[attr-defined]
    assert not RuleVersionTranslation.objects.exists()
    services.rule_version_translate(actor=SYSTEM, version=version, language="en", title=TITLE)
    with (
        pytest.raises(IntegrityError, match="written once"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE rules_ruleversiontranslation SET title = 'x'")
    assert RuleVersionTranslation.objects.get().title == TITLE
