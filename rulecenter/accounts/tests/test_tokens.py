"""API tokens with a role subset and an expiry: what the holder of each kind of token can and cannot do."""

import re
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from rulecenter.accounts import services, token_cache
from rulecenter.accounts.models import ApiToken, Role
from rulecenter.accounts.services import TOKEN_PREFIX, api_token_create, token_hash
from rulecenter.announcements.models import Announcement
from rulecenter.announcements.tests.factories import category_create
from rulecenter.common.actors import SYSTEM
from rulecenter.common.changes import ChangeAction, ContentChange, ContentKind, content_changed
from rulecenter.common.problems import PROBLEM_MEDIA_TYPE

from .factories import bearer, user_create

pytestmark = pytest.mark.django_db

NEWS = "/api/v1/announcements"
NOW = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content.decode()
    assert response["Content-Type"].startswith(PROBLEM_MEDIA_TYPE)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


@pytest.fixture(autouse=True)
def category() -> None:
    category_create(slug="rules", name="规则变更")


def draft_post(client: Client, token: str, title: str = "草稿", **fields: str) -> Any:
    """An editor's ordinary write: a draft announcement."""
    payload = {"title": title, "body": "正文", "category": "rules", **fields}
    return client.post(NEWS, payload, content_type="application/json", headers=bearer(token))


@pytest.fixture
def editor() -> User:
    return user_create("editor", roles=(Role.EDITOR,))


def test_a_token_without_a_scope_acts_in_all_of_its_users_roles(client: Client, editor: User) -> None:
    _record, token = api_token_create(actor=SYSTEM, user=editor)
    assert draft_post(client, token).status_code == 201


def test_a_read_only_token_of_an_editor_reads_but_a_write_is_a_403_naming_the_role(
    client: Client, editor: User
) -> None:
    record, token = api_token_create(actor=SYSTEM, user=editor, roles=[])
    assert record.roles == []
    assert record.is_read_only
    assert client.get(NEWS, headers=bearer(token)).status_code == 200
    body = problem(draft_post(client, token), 403)
    assert "编辑" in body["detail"]
    assert not Announcement.objects.exists()
    payload = {"title": "second", "body": "正文", "category": "rules"}
    headers = {**bearer(token), "Accept-Language": "en"}
    english = problem(client.post(NEWS, payload, content_type="application/json", headers=headers), 403)
    assert "editor" in english["detail"].lower()


def test_a_token_narrowed_to_one_role_acts_in_that_role_only(client: Client) -> None:
    """A chief who edits and publishes hands out an editing-only token: it drafts but cannot publish."""
    chief = user_create("chief", roles=(Role.EDITOR, Role.PUBLISHER))
    _record, token = api_token_create(actor=SYSTEM, user=chief, roles=["editor"])
    assert draft_post(client, token).status_code == 201
    refused = draft_post(client, token, title="直接发布", status="published")
    assert "发布" in problem(refused, 403)["detail"]
    assert not Announcement.objects.filter(status=Announcement.Status.PUBLISHED).exists()


def test_a_token_cannot_carry_a_role_its_user_does_not_hold(editor: User) -> None:
    with pytest.raises(ValidationError) as refused:
        api_token_create(actor=SYSTEM, user=editor, roles=["editor", "publisher"])
    assert refused.value.message_dict == {"roles": ["用户“editor”没有“发布”角色，令牌不能带有该角色。"]}
    with pytest.raises(ValidationError, match="没有“owner”这个角色"):
        api_token_create(actor=SYSTEM, user=editor, roles=["owner"])
    assert not ApiToken.objects.exists()


def test_a_member_gets_a_read_only_token_but_no_role(client: Client) -> None:
    member = user_create("partner")
    _record, token = api_token_create(actor=SYSTEM, user=member, roles=[])
    assert client.get(NEWS, headers=bearer(token)).status_code == 200
    with pytest.raises(ValidationError):
        api_token_create(actor=SYSTEM, user=member, roles=["reviewer"])


def test_losing_a_role_takes_it_from_the_token_too(client: Client, editor: User) -> None:
    """A token's roles narrow its user's roles as they are at each request; they never add one back."""
    _record, token = api_token_create(actor=SYSTEM, user=editor, roles=["editor"])
    editor.groups.clear()
    assert "编辑" in problem(draft_post(client, token), 403)["detail"]


def test_an_expired_token_is_a_401_problem_that_says_when_it_expired(client: Client, editor: User) -> None:
    with time_machine.travel(NOW, tick=False):
        _record, token = api_token_create(actor=SYSTEM, user=editor, expires_at=NOW + timedelta(days=30))
        assert draft_post(client, token).status_code == 201
    with time_machine.travel(NOW + timedelta(days=30) - timedelta(seconds=1), tick=False):
        assert draft_post(client, token, title="最后一秒").status_code == 201
    with time_machine.travel(NOW + timedelta(days=30), tick=False):
        response = draft_post(client, token, title="过期")
        body = problem(response, 401)
    assert body["detail"] == "API 令牌已于 2026-04-01 12:00 过期。"
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert Announcement.objects.count() == 2


def test_a_revoked_token_is_still_a_401_even_before_it_expires(client: Client, editor: User) -> None:
    record, token = api_token_create(actor=SYSTEM, user=editor, expires_at=timezone.now() + timedelta(days=1))
    services.api_token_revoke(actor=SYSTEM, token=record)
    assert problem(draft_post(client, token), 401)["detail"] == "API 令牌无效或已被吊销。"


def test_the_active_token_is_read_in_one_query(editor: User, django_assert_num_queries: Any) -> None:
    _record, token = api_token_create(
        actor=SYSTEM, user=editor, expires_at=timezone.now() + timedelta(days=1)
    )
    token_cache.token_grant(token="rc_not-a-token-of-ours")  # the generation, read once a second
    with django_assert_num_queries(1):
        found = token_cache.token_grant(token=token)
    assert found is not None
    assert found.user().username == "editor"
    assert found.actor.roles == {"editor"}
    assert token_cache.token_grant(token=token, at=timezone.now() + timedelta(days=2)) is None


def test_an_expiry_in_the_past_is_refused(editor: User) -> None:
    with pytest.raises(ValidationError) as refused:
        api_token_create(actor=SYSTEM, user=editor, expires_at=timezone.now() - timedelta(minutes=1))
    assert "已经过去" in refused.value.message_dict["expires_at"][0]
    assert not ApiToken.objects.exists()


def test_issuing_announces_the_scope_but_never_the_token(editor: User) -> None:
    seen: list[ContentChange] = []

    def receiver(*, change: ContentChange, **kwargs: Any) -> None:
        seen.append(change)

    content_changed.connect(receiver)
    try:
        record, token = api_token_create(actor=SYSTEM, user=editor, roles=[], name="合作方")
    finally:
        content_changed.disconnect(receiver)
    [change] = seen
    assert (change.kind, change.action, change.ids) == (
        ContentKind.API_TOKEN,
        ChangeAction.ISSUED,
        (record.pk,),
    )
    assert change.data["roles"] == []
    assert token not in repr(change.data)
    assert record.key_hash not in repr(change.data)


# --- issue_token -------------------------------------------------------------------------------------


def issue(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("issue_token", *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def test_issue_token_with_roles_and_an_expiry() -> None:
    user_create("chief", roles=(Role.EDITOR, Role.REVIEWER, Role.PUBLISHER))
    with time_machine.travel(NOW, tick=False):
        token, err = issue("chief", "--role", "editor", "--role", "reviewer", "--expires-in-days", "90")
    record = ApiToken.objects.get(key_hash=token_hash(token))
    assert record.roles == ["editor", "reviewer"]
    assert record.expires_at == NOW + timedelta(days=90)
    assert "editor, reviewer" in err
    assert "2026-05-31 12:00 过期" in err


def test_issue_token_read_only_for_a_partner() -> None:
    user_create("partner")
    token, err = issue("partner", "--read-only", "--name", "合作方A")
    assert token.startswith(TOKEN_PREFIX)
    record = ApiToken.objects.get()
    assert record.roles == []
    assert record.expires_at is None
    assert "只读" in err
    assert "永不过期" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "publisher"], "没有“发布”角色"),
        (["--role", "editor", "--read-only"], "不能同时使用"),
        (["--expires-in-days", "0"], "1 到 3650"),
        (["--expires-in-days", "soon"], "1 到 3650"),
        (["--expires-in-days", "99999"], "1 到 3650"),
    ],
)
def test_issue_token_refuses_a_bad_scope_and_issues_nothing(args: list[str], message: str) -> None:
    user_create("editor", roles=(Role.EDITOR,))
    with pytest.raises(CommandError, match=message):
        issue("editor", *args)
    assert not ApiToken.objects.exists()


# --- the admin -------------------------------------------------------------------------------------------


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(user_create("root", is_staff=True, is_superuser=True))
    return client


def test_the_admin_issues_a_read_only_expiring_token_shown_once_and_never_in_a_cookie_or_session(
    admin_client: Client,
) -> None:
    """The token is on the page answering the form and nowhere else: no cookie, no session, no cache."""
    partner = user_create("partner")
    expires = timezone.localtime() + timedelta(days=10)
    response = admin_client.post(
        "/admin/accounts/apitoken/add/",
        {
            "user": partner.pk,
            "name": "合作方A",
            "scope": "read_only",
            "expires_at_0": expires.strftime("%Y-%m-%d"),
            "expires_at_1": expires.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    match = re.search(rf'id="issued-token"[^>]*>({TOKEN_PREFIX}[\w-]+)<', html)
    assert match is not None
    token = match.group(1)
    record = ApiToken.objects.get()
    assert token_hash(token) == record.key_hash
    assert record.roles == []
    assert record.expires_at is not None
    assert "只读" in html
    assert "no-store" in response["Cache-Control"]
    assert all(token not in morsel.value for morsel in response.cookies.values())
    assert all(token not in morsel.value for morsel in admin_client.cookies.values())
    assert token not in repr(list(admin_client.session.items()))
    assert token not in admin_client.get("/admin/accounts/apitoken/").content.decode()
    assert token not in admin_client.get(f"/admin/accounts/apitoken/{record.pk}/change/").content.decode()


def test_the_admin_refuses_a_role_the_user_does_not_hold(admin_client: Client) -> None:
    editor = user_create("editor", roles=(Role.EDITOR,))
    response = admin_client.post(
        "/admin/accounts/apitoken/add/",
        {"user": editor.pk, "scope": "roles", "scope_roles": ["publisher"]},
    )
    assert response.status_code == 200
    assert "没有“发布”角色" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_the_admin_lists_each_tokens_roles_and_expiry(admin_client: Client) -> None:
    chief = user_create("chief", roles=(Role.EDITOR, Role.PUBLISHER))
    api_token_create(actor=SYSTEM, user=chief, name="全部")
    api_token_create(actor=SYSTEM, user=chief, name="只读", roles=[])
    api_token_create(
        actor=SYSTEM,
        user=chief,
        name="发布",
        roles=["publisher"],
        expires_at=datetime(2099, 1, 1, tzinfo=UTC),
    )
    html = admin_client.get("/admin/accounts/apitoken/").content.decode()
    assert "用户的全部角色" in html
    assert "只读" in html
    assert "2099" in html


def test_the_admin_form_offers_the_scope_and_the_expiry(admin_client: Client) -> None:
    form = admin_client.get("/admin/accounts/apitoken/add/").content.decode()
    for value in ("all", "roles", "read_only"):
        assert f'name="scope" value="{value}"' in form
    assert 'name="scope_roles" value="publisher"' in form
    assert 'name="expires_at_0"' in form
    record, _token = api_token_create(actor=SYSTEM, user=user_create("partner"), roles=[])
    change = admin_client.get(f"/admin/accounts/apitoken/{record.pk}/change/").content.decode()
    assert "只读" in change
    assert 'name="scope"' not in change
