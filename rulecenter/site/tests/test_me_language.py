"""A member chooses on /me/ the language the platform writes to them in: their own choice only, a bad value
refused in the page's language with nothing changed, the database refusing any other language too."""

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.test import Client

from rulecenter.accounts import services as account_services
from rulecenter.accounts.models import Member
from rulecenter.accounts.roles import actor_for
from rulecenter.accounts.tests.factories import user_create
from rulecenter.audit.models import AuditEntry
from rulecenter.consultations.tests.factories import member_create

pytestmark = pytest.mark.django_db


def test_a_member_chooses_english_and_it_is_recorded(client: Client) -> None:
    member = member_create("alice")
    client.force_login(member.user)
    page = client.get("/me/").content.decode()
    assert '<option value="zh-hans" lang="zh-hans" selected>简体中文</option>' in page
    saved = client.post("/me/language/", {"language": "en"})
    assert (saved.status_code, saved["Location"]) == (302, "/me/#language")
    member.refresh_from_db()
    assert member.language == "en"
    page = client.get("/me/").content.decode()
    assert "已保存通知语言。" in page
    assert '<option value="en" lang="en" selected>English</option>' in page
    entry = AuditEntry.objects.order_by("seq").last()
    assert entry is not None
    assert (entry.actor_name, entry.kind, json.loads(entry.data or "{}")["language"]) == (
        "alice",
        "user",
        "en",
    )


@pytest.mark.parametrize("bad", ["fr", "", "en" * 40, "zh-hans\x00"])
def test_a_language_we_do_not_write_in_is_refused_and_nothing_changes(client: Client, bad: str) -> None:
    member = member_create("alice")
    client.force_login(member.user)
    refused = client.post("/me/language/", {"language": bad}, headers={"accept-language": "en"})
    assert refused.status_code == 400
    assert "Unsupported language" in refused.content.decode()
    member.refresh_from_db()
    assert member.language == "zh-hans"


def test_only_the_member_chooses_and_a_non_member_has_no_choice(client: Client) -> None:
    alice, bob = member_create("alice"), member_create("bob")
    with pytest.raises(PermissionDenied):
        account_services.member_language_set(actor=actor_for(bob.user), member=alice, language="en")
    assert Member.objects.get(pk=alice.pk).language == "zh-hans"
    client.force_login(user_create("partner"))
    assert 'id="language"' not in client.get("/me/").content.decode()
    assert client.post("/me/language/", {"language": "en"}).status_code == 404
    assert Client().post("/me/language/", {"language": "en"}).status_code == 302  # to sign in


def test_the_database_refuses_a_language_we_do_not_write_in() -> None:
    member = member_create("alice")
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_member SET language = 'fr' WHERE id = %s", [member.pk])
