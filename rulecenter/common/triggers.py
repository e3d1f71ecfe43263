"""The database's refusing triggers (append-only records, frozen versions and notices), found by their name.

Every trigger that refuses a write is named `*_refuse_*`. Only tools that own a throwaway database lift them:
the test suite's flush between transactional tests, and the benchmark's corpus rebuild. The application never
does; it has no code path that drops a trigger.
"""

from typing import Any

MARK = "_refuse_"


def refusing_triggers(connection: Any) -> list[tuple[str, str]]:
    """(drop statement, create statement) of every refusing trigger in the connection's database."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            return [(f'DROP TRIGGER "{name}"', sql) for name, sql in cursor.fetchall() if MARK in name]
        cursor.execute(
            "SELECT t.tgname, c.relname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal AND pg_table_is_visible(c.oid)"
        )
        return [
            (f'DROP TRIGGER "{name}" ON "{table}"', definition)
            for name, table, definition in cursor.fetchall()
            if MARK in name
        ]
