"""The staff of the four-eyes tests: one user per role, a member, and their API tokens."""

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User

from rulecenter.accounts.models import Role
from rulecenter.accounts.tests.factories import bearer, token_for, user_create


@dataclass(frozen=True)
class Person:
    user: User
    headers: dict[str, str]  # the Authorization header of the person's API token


def person(username: str, *roles: Role) -> Person:
    """A staff member (admin access) in these roles, or a member without any."""
    user = user_create(username, roles=roles, is_staff=bool(roles))
    return Person(user=user, headers=bearer(token_for(user)))


@pytest.fixture
def staff(db: None) -> dict[str, Person]:
    """editor, reviewer, publisher, member — and `writer`, a second editor who authors the drafts."""
    return {
        "editor": person("editor", Role.EDITOR),
        "reviewer": person("reviewer", Role.REVIEWER),
        "publisher": person("publisher", Role.PUBLISHER),
        "member": person("member"),
        "writer": person("writer", Role.EDITOR),
        "checker": person("checker", Role.REVIEWER),
    }
