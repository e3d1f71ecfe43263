"""Roles that hold: the actor of a request, and the check every write service makes before it writes.

A staff member's roles are their groups (editor, reviewer, publisher; a superuser holds all three). An API
token may carry a subset of its user's roles (a read-only token carries none). Services call
`role_require(actor, Role.X)`; the refusal is a `PermissionDenied` whose message names the missing role, so
the API answers 403 problem+json naming it and the admin shows it.
"""

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext as _

from rulecenter.common.actors import SYSTEM, Actor

from .models import Role

ROLE_REQUIRED = "此操作需要“{role}”角色。"
ROLE_REQUIRED_ANY = "此操作需要以下角色之一：{roles}。"
LIST_SEPARATOR = "、"  # the enumeration comma; ", " in English
STAFF_ROLES = frozenset(role.value for role in Role)

__all__ = [
    "SYSTEM",
    "Actor",
    "RoleRequired",
    "actor_for",
    "actor_of",
    "request_actor",
    "role_require",
    "role_require_any",
]


class RoleRequired(PermissionDenied):
    """The actor lacks a role the action needs; `roles` are the roles that would have allowed it."""

    def __init__(self, *roles: Role) -> None:
        self.roles = roles
        if len(roles) == 1:
            message = _(ROLE_REQUIRED).format(role=roles[0].label)
        else:
            message = _(ROLE_REQUIRED_ANY).format(
                roles=_(LIST_SEPARATOR).join(str(role.label) for role in roles)
            )
        super().__init__(message)


def user_roles(user: AbstractBaseUser | AnonymousUser) -> frozenset[str]:
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    if getattr(user, "is_superuser", False):
        return STAFF_ROLES
    groups = user.groups.values_list("name", flat=True)  # type: ignore[attr-defined]
    return frozenset(groups) & STAFF_ROLES


def actor_for(user: AbstractBaseUser | AnonymousUser, *, roles_limit: Iterable[str] | None = None) -> Actor:
    """The actor behind a request's user; `roles_limit` narrows it to a token's roles."""
    if not user.is_authenticated:
        return Actor(user_id=None, name="anonymous")
    return actor_of(
        user_id=user.pk,
        username=user.get_username(),
        superuser=bool(getattr(user, "is_superuser", False)),
        roles=user_roles(user),
        roles_limit=roles_limit,
    )


def actor_of(
    *, user_id: int, username: str, superuser: bool, roles: Iterable[str], roles_limit: Iterable[str] | None
) -> Actor:
    """The actor of an active user read without its row (a token's grant): `roles` are its role groups."""
    held = STAFF_ROLES if superuser else frozenset(roles) & STAFF_ROLES
    if roles_limit is not None:
        held &= frozenset(roles_limit)
    return Actor(user_id=user_id, name=username, roles=held, superuser=superuser and roles_limit is None)


def role_require(actor: Actor, role: Role) -> None:
    if not actor.has(role.value):
        raise RoleRequired(role)


def role_require_any(actor: Actor, *roles: Role) -> None:
    if not any(actor.has(role.value) for role in roles):
        raise RoleRequired(*roles)


def request_actor(request: HttpRequest) -> Actor:
    """The actor of a request: the API token's (with its role subset) or the signed-in user's."""
    actor = getattr(request, "actor", None)
    return actor if isinstance(actor, Actor) else actor_for(request.user)
