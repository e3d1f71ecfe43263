from typing import Any

from django.contrib.auth.models import Group, Permission, User

from rulecenter.accounts import services
from rulecenter.accounts.models import Role
from rulecenter.common.actors import SYSTEM


def user_create(username: str = "alice", *, roles: tuple[Role, ...] = (), **fields: Any) -> User:
    """A user in the given role groups (the groups come from the accounts data migration)."""
    user = User.objects.create_user(username=username, password="pw-for-tests-only", **fields)
    for role in roles:
        user.groups.add(Group.objects.get(name=role.value))
    return user


def user_with_permissions(username: str, *codenames: str, **fields: Any) -> User:
    user = user_create(username, **fields)
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


def token_for(user: User, name: str = "") -> str:
    _record, token = services.api_token_create(actor=SYSTEM, user=user, name=name)
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
