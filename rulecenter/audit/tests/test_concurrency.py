"""Writers at once, each on its own connection: the chain stays gapless and every link holds.

On PostgreSQL the head row's lock is what serialises them (without it two writers would read the same head
and write the same seq); on SQLite the IMMEDIATE transactions do. Same test on both (DATABASE_URL).
"""

from pathlib import Path

import pytest

from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import actor_for
from rulecenter.accounts.tests.factories import user_create
from rulecenter.announcements import services as announcement_services
from rulecenter.announcements.tests.factories import category_create
from rulecenter.audit import selectors
from rulecenter.audit.models import AuditEntry
from rulecenter.common.actors import Actor
from rulecenter.consultations.tests.concurrency import at_once, concurrent_database, in_thread

pytestmark = pytest.mark.django_db(transaction=True)
WRITERS = 24


def test_concurrent_writers_leave_a_gapless_verified_chain_one_entry_each(tmp_path: Path) -> None:
    category = category_create()
    actors = [actor_for(user_create(f"editor-{n}", roles=(Role.EDITOR,))) for n in range(WRITERS)]

    def write(actor: Actor) -> int:
        announcement = announcement_services.announcement_create(
            actor=actor, title=f"并发写入 {actor.name}", body="正文", category=category
        )
        return announcement.pk

    with concurrent_database(tmp_path):
        created = at_once(write, actors)
        rows = in_thread(lambda: list(AuditEntry.objects.order_by("seq").values_list("seq", "actor_name")))
        links = in_thread(lambda: list(AuditEntry.objects.order_by("seq").values_list("prev_hash", "hash")))
        verified = in_thread(selectors.audit_chain_verify)

    assert [seq for seq, _name in rows] == list(range(1, WRITERS + 1))
    assert sorted(name for _seq, name in rows) == sorted(actor.name for actor in actors)
    assert all(links[n][0] == links[n - 1][1] for n in range(1, WRITERS))
    assert verified.ok
    assert verified.checked == WRITERS
    assert len(set(created)) == WRITERS
