"""Audit test helpers: the entries as written, and an attacker who owns the database."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection

from rulecenter.audit.models import AuditEntry
from rulecenter.common.actors import SYSTEM
from rulecenter.common.triggers import refusing_triggers


def entries() -> list[AuditEntry]:
    return list(AuditEntry.objects.order_by("seq"))


def entries_after(seq: int) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(seq__gt=seq).order_by("seq"))


def head_seq() -> int:
    last = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    return last or 0


@contextmanager
def triggers_dropped() -> Iterator[None]:
    """What someone with the database owner's rights can do: drop the triggers, write, put them back."""
    triggers = refusing_triggers(connection)
    with connection.cursor() as cursor:
        for drop, _create in triggers:
            cursor.execute(drop)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for _drop, create in triggers:
                cursor.execute(create)


def raw(sql: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def writes(count: int) -> None:
    """`count` announced changes (announcement drafts by the platform), one entry each."""
    from rulecenter.announcements import services
    from rulecenter.announcements.tests.factories import category_create

    category = category_create()
    for n in range(count):
        services.announcement_create(actor=SYSTEM, title=f"审计测试{n}", body=f"正文{n}", category=category)
