"""`rulecenter create_staff`: a platform sets up its team (editor, reviewer, publisher) without the admin."""

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import translation

from rulecenter.accounts import auth, services
from rulecenter.accounts.management.commands import create_staff as create_staff_command
from rulecenter.accounts.management.commands import issue_token as issue_token_command
from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import actor_for, user_roles
from rulecenter.common.changes import ChangeAction, ContentChange, ContentKind, content_changed

from .factories import user_create

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture
def password_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RULECENTER_STAFF_PASSWORD", PASSWORD)


def create_staff(*args: str) -> str:
    out = StringIO()
    call_command("create_staff", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.usefixtures("password_env")
def test_create_staff_makes_a_staff_user_in_exactly_those_roles_who_signs_in_to_the_admin(
    client: Client,
) -> None:
    out = create_staff("wang", "--role", "editor", "--role", "reviewer")
    user = User.objects.get(username="wang")
    assert user.is_staff
    assert not user.is_superuser
    assert user_roles(user) == {"editor", "reviewer"}
    assert set(user.groups.values_list("name", flat=True)) == {"editor", "reviewer"}
    assert "已创建后台人员“wang”，角色：编辑、审核" in out
    assert PASSWORD not in out
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "wang", "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


@pytest.mark.usefixtures("password_env")
def test_a_repeated_role_counts_once() -> None:
    create_staff("li", "--role", "publisher", "--role", "publisher")
    assert user_roles(User.objects.get(username="li")) == {"publisher"}


def test_at_least_one_role_is_required(password_env: None) -> None:
    with pytest.raises(CommandError, match="--role"):
        create_staff("zhao")
    with pytest.raises(CommandError, match="owner"):
        create_staff("zhao", "--role", "owner")
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1", "此密码太短，至少要包含 8 个字符"),
        ("password123", "这个密码太常见了"),
        ("83649175302", "密码只包含数字"),
        ("zhangsan-staff", "密码跟 用户名 太相似"),
    ],
)
def test_a_weak_password_is_refused_with_the_validators_messages(
    monkeypatch: pytest.MonkeyPatch, password: str, message: str
) -> None:
    monkeypatch.setenv("RULECENTER_STAFF_PASSWORD", password)
    with pytest.raises(CommandError, match=message):
        create_staff("zhangsan", "--role", "editor")
    assert not User.objects.exists()


@pytest.mark.usefixtures("password_env")
def test_an_existing_username_is_refused_and_left_alone() -> None:
    existing = user_create("taken", roles=(Role.REVIEWER,))
    with pytest.raises(CommandError, match="用户“taken”已存在。"):
        create_staff("taken", "--role", "publisher")
    existing.refresh_from_db()
    assert user_roles(existing) == {"reviewer"}
    assert not existing.is_staff


def test_without_the_variable_and_without_a_terminal_it_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RULECENTER_STAFF_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", StringIO(PASSWORD + "\n" + PASSWORD + "\n"))
    with pytest.raises(CommandError, match="RULECENTER_STAFF_PASSWORD"):
        create_staff("zhou", "--role", "editor")
    assert not User.objects.exists()


class FakeTerminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_at_a_terminal_the_password_is_typed_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RULECENTER_STAFF_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", FakeTerminal())
    typed = iter([PASSWORD, PASSWORD])
    prompts: list[str] = []

    def getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(typed)

    monkeypatch.setattr("getpass.getpass", getpass)
    create_staff("wu", "--role", "publisher")
    assert prompts == ["密码：", "再次输入密码："]
    assert User.objects.get(username="wu").check_password(PASSWORD)


def test_two_different_passwords_at_the_terminal_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RULECENTER_STAFF_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", FakeTerminal())
    typed = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(typed))
    with pytest.raises(CommandError, match="两次输入的密码不一致。"):
        create_staff("wu", "--role", "publisher")
    assert not User.objects.exists()


def test_staff_create_announces_the_roles_and_never_the_password() -> None:
    seen: list[ContentChange] = []

    def receiver(*, change: ContentChange, **kwargs: Any) -> None:
        seen.append(change)

    content_changed.connect(receiver)
    try:
        user = services.staff_create(
            actor=actor_for(user_create("root", is_superuser=True)),
            username="qian",
            password=PASSWORD,
            roles=["reviewer", "editor"],
        )
    finally:
        content_changed.disconnect(receiver)
    [change] = seen
    assert (change.kind, change.action, change.ids) == (ContentKind.USER, ChangeAction.CREATED, (user.pk,))
    assert change.data == {"username": "qian", "staff": True, "roles": ["editor", "reviewer"]}
    assert change.actor.name == "root"
    assert PASSWORD not in repr(change)
    assert user.password not in repr(change)


def test_only_the_platform_or_a_superuser_creates_staff() -> None:
    publisher = user_create("publisher", roles=(Role.PUBLISHER,), is_staff=True)
    with pytest.raises(PermissionDenied, match="只有超级管理员"):
        services.staff_create(
            actor=actor_for(publisher), username="mallory", password=PASSWORD, roles=["publisher"]
        )
    assert not User.objects.filter(username="mallory").exists()


def test_the_refusals_read_in_english(monkeypatch: pytest.MonkeyPatch) -> None:
    """With LANGUAGE_CODE=en (or any English session) the commands and services answer in English."""
    monkeypatch.delenv("RULECENTER_STAFF_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", StringIO())
    with translation.override("en"):
        with pytest.raises(CommandError, match="No password: set the environment variable"):
            create_staff("zhou", "--role", "editor")
        with pytest.raises(PermissionDenied, match=r"Only a superuser may create staff accounts\."):
            services.staff_create(
                actor=actor_for(user_create("ed", roles=(Role.EDITOR,))),
                username="x",
                password=PASSWORD,
                roles=["editor"],
            )


@pytest.mark.parametrize(
    "message",
    [
        services.TOKEN_ROLE_NOT_HELD,
        services.TOKEN_EXPIRES_IN_PAST,
        services.ROLE_UNKNOWN,
        services.STAFF_ROLES_EMPTY,
        services.STAFF_CREATE_FORBIDDEN,
        services.USER_UNKNOWN,
        services.USER_EXISTS,
        auth.TOKEN_EXPIRED,
        create_staff_command.PASSWORD_UNAVAILABLE,
        create_staff_command.PASSWORDS_DIFFER,
        create_staff_command.STAFF_CREATED,
        issue_token_command.TOKEN_ISSUED,
        issue_token_command.DAYS_INVALID,
        issue_token_command.ROLE_AND_READ_ONLY,
    ],
)
def test_every_message_has_its_english(message: str) -> None:
    with translation.override("en"):
        assert translation.gettext(message) != message
