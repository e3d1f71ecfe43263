"""Who does a write: every write service takes an `Actor` and records it; the roles decide what it may do.

An actor is a value, not a user row: services check its roles, the change hook carries it, and the audit
chain records its name and roles as they were at that moment (a later rename or role change does not alter
the record). `accounts.roles.actor_for` builds one from a signed-in user or an API token; `SYSTEM` is the
platform itself — the lifecycle runner, `loaddemo`, imports of history already public elsewhere.
"""

from dataclasses import dataclass

# The staff roles' values (accounts.models.Role holds their labels) and the system's own.
EDITOR, REVIEWER, PUBLISHER, SYSTEM_ROLE = "editor", "reviewer", "publisher", "system"


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int | None
    name: str
    roles: frozenset[str] = frozenset()
    superuser: bool = False  # manages accounts and tokens of others (the admin's superuser)

    def has(self, role: str) -> bool:
        return role in self.roles or self.is_system

    @property
    def is_system(self) -> bool:
        return SYSTEM_ROLE in self.roles


SYSTEM = Actor(user_id=None, name="system", roles=frozenset({SYSTEM_ROLE}))
