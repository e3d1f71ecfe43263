"""A pytest plugin (loaded by the root conftest.py): refusing triggers are lifted while Django flushes a test database.

Between transactional tests (`transactional_db`, `live_server`, the browser tests) Django empties every table
— `DELETE FROM` on SQLite, `TRUNCATE` on PostgreSQL — which is exactly what the audit tables' append-only
triggers refuse, by design. Rather than give the triggers a way out that production would carry too (a
session flag, a magic row: anyone with a connection could use it), the tests wrap Django's flush: inside one
transaction every trigger named `*_refuse_*` is dropped, the tables are emptied, and each trigger is created
again from the database's own definition of it (`sqlite_master.sql`, `pg_get_triggerdef`), so what the next
test runs against is exactly what the migrations made. Only the test process is patched; nothing in the
application knows about it. Other apps whose triggers refuse deletes get the same by naming them `*_refuse_*`.
"""

from collections.abc import Iterator

import pytest

from rulecenter.common.triggers import refusing_triggers


@pytest.fixture(autouse=True, scope="session")
def _refusing_triggers_lifted_during_flush() -> Iterator[None]:
    from django.db import transaction
    from django.db.backends.base.operations import BaseDatabaseOperations

    flush = BaseDatabaseOperations.execute_sql_flush

    def execute_sql_flush(self: BaseDatabaseOperations, sql_list: list[str]) -> None:
        connection = self.connection
        with transaction.atomic(using=connection.alias):
            triggers = refusing_triggers(connection)
            with connection.cursor() as cursor:
                for drop, _create in triggers:
                    cursor.execute(drop)
            flush(self, sql_list)
            with connection.cursor() as cursor:
                for _drop, create in triggers:
                    cursor.execute(create)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseDatabaseOperations, "execute_sql_flush", execute_sql_flush)
        yield
