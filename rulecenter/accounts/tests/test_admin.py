import re

import pytest
from django.test import Client

from rulecenter.accounts.models import ApiToken, Member
from rulecenter.accounts.services import TOKEN_PREFIX, api_token_create, token_hash
from rulecenter.common.actors import SYSTEM

from .factories import bearer, user_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(user_create("root", is_staff=True, is_superuser=True))
    return client


def test_token_list_shows_prefixes_never_hashes(admin_client: Client) -> None:
    record, token = api_token_create(actor=SYSTEM, user=user_create("alice"), name="同步")
    html = admin_client.get("/admin/accounts/apitoken/").content.decode()
    assert f"{record.prefix}…" in html
    assert record.key_hash not in html
    assert token not in html
    change = admin_client.get(f"/admin/accounts/apitoken/{record.pk}/change/").content.decode()
    assert record.key_hash not in change
    assert token not in change
    assert f"{record.prefix}…" in change


def test_creating_a_token_in_the_admin_shows_it_once(admin_client: Client) -> None:
    """The page answering the form shows the token; no later page does."""
    alice = user_create("alice")
    response = admin_client.post(
        "/admin/accounts/apitoken/add/", {"user": alice.pk, "name": "后台签发", "scope": "all"}
    )
    assert response.status_code == 200
    record = ApiToken.objects.get()
    assert record.user == alice
    assert record.name == "后台签发"
    assert record.roles is None
    first = response.content.decode()
    assert "只显示这一次，请立即复制保存" in first
    match = re.search(rf'id="issued-token"[^>]*>({TOKEN_PREFIX}[\w-]+)<', first)
    assert match is not None
    assert token_hash(match.group(1)) == record.key_hash
    assert match.group(1) not in admin_client.get("/admin/accounts/apitoken/").content.decode()


def test_revoking_in_the_admin_stops_the_token_working(admin_client: Client, client: Client) -> None:
    alice = user_create("alice", is_superuser=True)
    record, token = api_token_create(actor=SYSTEM, user=alice)
    payload = {"title": "标题", "body": "正文", "category": "nope"}
    assert (
        client.post("/api/v1/announcements", payload, "application/json", headers=bearer(token)).status_code
        == 422
    )
    response = admin_client.post(
        "/admin/accounts/apitoken/", {"action": "revoke_selected", "_selected_action": [record.pk]}
    )
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.revoked_at is not None
    refused = client.post("/api/v1/announcements", payload, "application/json", headers=bearer(token))
    assert refused.status_code == 401


def test_tokens_cannot_be_deleted_in_the_admin(admin_client: Client) -> None:
    record, _ = api_token_create(actor=SYSTEM, user=user_create("alice"))
    assert admin_client.get(f"/admin/accounts/apitoken/{record.pk}/delete/").status_code == 403
    assert ApiToken.objects.filter(pk=record.pk).exists()


def test_only_the_name_of_a_token_is_editable(admin_client: Client) -> None:
    record, _ = api_token_create(actor=SYSTEM, user=user_create("alice"), name="旧名")
    other = user_create("bob")
    admin_client.post(f"/admin/accounts/apitoken/{record.pk}/change/", {"name": "新名", "user": other.pk})
    record.refresh_from_db()
    assert record.name == "新名"
    assert record.user.username == "alice"


def test_members_are_listed_and_searchable(admin_client: Client) -> None:
    Member.objects.create(user=user_create("shop1"), shop_name="义乌小百货", joined_on="2024-03-01")
    html = admin_client.get("/admin/accounts/member/?q=义乌").content.decode()
    assert "义乌小百货" in html
