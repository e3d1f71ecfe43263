"""The actor of a write: roles from the groups, narrowed by a token, refused with the role named."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import translation

from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import RoleRequired, actor_for, role_require, role_require_any
from rulecenter.common.actors import SYSTEM

from .factories import user_create

pytestmark = pytest.mark.django_db


def test_a_user_acts_in_the_roles_of_their_groups_only() -> None:
    user = user_create("both", roles=(Role.EDITOR, Role.REVIEWER))
    actor = actor_for(user)
    assert (actor.user_id, actor.name) == (user.pk, "both")
    assert actor.roles == {"editor", "reviewer"}
    assert actor.has("editor")
    assert not actor.has("publisher")
    assert not actor.superuser


def test_a_token_narrows_the_roles_and_never_widens_them() -> None:
    user = user_create("editor", roles=(Role.EDITOR,))
    assert actor_for(user, roles_limit=["editor", "publisher"]).roles == {"editor"}
    assert actor_for(user, roles_limit=[]).roles == frozenset()


def test_a_superuser_holds_every_staff_role_but_not_through_a_narrowed_token() -> None:
    admin = user_create("root", is_superuser=True)
    assert actor_for(admin).roles == {"editor", "reviewer", "publisher"}
    assert actor_for(admin).superuser
    assert not actor_for(admin, roles_limit=["editor"]).superuser


def test_anonymous_and_disabled_users_hold_no_role() -> None:
    assert actor_for(AnonymousUser()).roles == frozenset()
    disabled = user_create("gone", roles=(Role.PUBLISHER,), is_active=False)
    assert actor_for(disabled).roles == frozenset()


def test_the_system_may_do_everything_and_says_so() -> None:
    assert all(SYSTEM.has(role.value) for role in Role)
    assert SYSTEM.is_system
    assert SYSTEM.user_id is None


def test_a_refusal_names_the_missing_role_in_chinese_and_english() -> None:
    editor = actor_for(user_create("editor", roles=(Role.EDITOR,)))
    role_require(editor, Role.EDITOR)
    with pytest.raises(RoleRequired) as refused:
        role_require(editor, Role.PUBLISHER)
    assert str(refused.value) == "此操作需要“发布”角色。"
    with translation.override("en"), pytest.raises(RoleRequired) as refused:
        role_require_any(editor, Role.REVIEWER, Role.PUBLISHER)
    assert str(refused.value) == "This action needs one of these roles: Reviewer, Publisher."
