"""Audit rows cannot be changed or deleted: the database refuses, whoever asks — Django, `sqlite3`, `psql`.

The client tests run the real command-line clients (Debian's `sqlite3` and `psql` packages) on committed
data: on SQLite a file copy of the test database (pytest-django keeps it in memory, out of other processes'
reach), on PostgreSQL the test database itself.
"""

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from rulecenter.audit import selectors, services
from rulecenter.audit.models import AuditCheckpoint, AuditEntry, AuditSubject

from .factories import raw, writes

REFUSED = [
    "UPDATE audit_auditentry SET data = '{}' WHERE seq = 1",
    "UPDATE audit_auditentry SET seq = 99 WHERE seq = 2",
    "DELETE FROM audit_auditentry WHERE seq = 2",
    "DELETE FROM audit_auditentry",
    "UPDATE audit_auditsubject SET object_id = 0",
    "DELETE FROM audit_auditsubject",
    "UPDATE audit_auditcheckpoint SET hash = 'x'",
    "DELETE FROM audit_auditcheckpoint",
]
POSTGRESQL_ONLY = ["TRUNCATE audit_auditentry CASCADE", "TRUNCATE audit_auditcheckpoint"]


def statements() -> list[str]:
    return REFUSED + (POSTGRESQL_ONLY if connection.vendor == "postgresql" else [])


@pytest.mark.django_db
def test_updates_and_deletes_through_django_are_refused_and_change_nothing() -> None:
    writes(3)
    services.audit_checkpoint_make()
    before = list(AuditEntry.objects.values_list("seq", "hash", "data"))

    for sql in REFUSED:  # TRUNCATE is tried by psql below: here the test's own inserts are still pending
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
            raw(sql)

    assert list(AuditEntry.objects.values_list("seq", "hash", "data")) == before
    assert AuditSubject.objects.count() == 3
    assert AuditCheckpoint.objects.count() == 2
    assert selectors.audit_chain_verify().ok


@pytest.mark.django_db
def test_the_orm_cannot_delete_or_edit_an_entry_either() -> None:
    writes(1)
    entry = AuditEntry.objects.get(seq=1)

    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEntry.objects.filter(seq=1).update(actor_name="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditSubject.objects.filter(entry=entry).delete()


def client(sql: str, sqlite_file: Path | None) -> subprocess.CompletedProcess[str]:
    """Run one statement with the database's own command-line client, as an operator would."""
    if sqlite_file is not None:
        command = ["sqlite3", "-bail", str(sqlite_file), sql]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    settings = connection.settings_dict
    command = ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-d", settings["NAME"], "-c", sql]
    for flag, key in (("-h", "HOST"), ("-p", "PORT"), ("-U", "USER")):
        if settings.get(key):
            command += [flag, str(settings[key])]
    env = {**os.environ, "PGPASSWORD": str(settings.get("PASSWORD") or "")}
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, env=env)


@pytest.mark.django_db(transaction=True)
def test_the_command_line_client_cannot_edit_or_delete_audit_rows(tmp_path: Path) -> None:
    writes(3)
    services.audit_checkpoint_make()
    sqlite_file = None
    if connection.vendor == "sqlite":
        sqlite_file = tmp_path / "copy.sqlite3"
        with sqlite3.connect(sqlite_file) as copy:
            connection.connection.backup(copy)
    before = client("SELECT seq, hash, data FROM audit_auditentry ORDER BY seq", sqlite_file).stdout

    for sql in statements():
        result = client(sql, sqlite_file)
        assert result.returncode != 0, f"{sql} was not refused: {result.stdout}"
        assert "append-only" in result.stderr, result.stderr

    after = client("SELECT seq, hash, data FROM audit_auditentry ORDER BY seq", sqlite_file)
    assert after.returncode == 0
    assert after.stdout == before
    assert "3" in client("SELECT count(*) FROM audit_auditsubject", sqlite_file).stdout
    if sqlite_file is None:
        assert selectors.audit_chain_verify().ok


@pytest.mark.django_db(transaction=True)
def test_the_test_suites_flush_empties_audit_tables_and_the_triggers_hold_again_after_it() -> None:
    """The flush between transactional tests (tests/flushing.py) lifts the triggers for itself alone."""
    writes(2)

    call_command("flush", interactive=False, verbosity=0)

    assert not AuditEntry.objects.exists()
    writes(1)  # the head row went with the flush: rebuilt, the chain starts again at 1
    assert list(AuditEntry.objects.values_list("seq", "prev_hash")) == [(1, "0" * 64)]
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        raw("DELETE FROM audit_auditentry")
