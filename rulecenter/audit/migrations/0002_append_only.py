"""Append-only in the database itself: UPDATE and DELETE (and TRUNCATE) of audit rows are refused by triggers,
whatever client asks — the admin, a raw SQL session, `sqlite3` or `psql`. The head row is created here.

Someone with the database owner's rights can still drop the triggers; what they then change, `rulecenter
audit verify` reports, and a rewritten tail shows against any checkpoint published before (docs/audit.md).
Test databases: Django's flush between transactional tests empties every table; the test suite's hook
(rulecenter/audit/tests/flushing.py) lifts these triggers around it, never production code.
"""

from django.db import migrations

GUARDED = ["audit_auditentry", "audit_auditsubject", "audit_auditcheckpoint"]
GENESIS_HASH = "0" * 64


def _sqlite() -> list[str]:
    statements = []
    for table in GUARDED:
        for operation in ("UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER {table}_refuse_{operation.lower()} BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {operation} refused'); END"
            )
    return statements


POSTGRESQL_FUNCTION = """
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$
"""


def _postgresql() -> list[str]:
    statements = [POSTGRESQL_FUNCTION]
    for table in GUARDED:
        statements += [
            f"CREATE TRIGGER {table}_refuse_change BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
            # Row triggers do not see TRUNCATE; a statement trigger does.
            f"CREATE TRIGGER {table}_refuse_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()",
        ]
    return statements


def triggers_create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"sqlite": _sqlite, "postgresql": _postgresql}.get(vendor)
    if statements is None:
        raise NotImplementedError(f"audit triggers are written for SQLite and PostgreSQL, not {vendor}")
    for sql in statements():
        schema_editor.execute(sql, None)  # no parameters: the '%' in the function body is literal


def triggers_drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in GUARDED:
        if vendor == "sqlite":
            for operation in ("update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_refuse_{operation}", None)
        else:
            for suffix in ("change", "truncate"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_refuse_{suffix} ON {table}", None)
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS audit_refuse_change()", None)


def head_create(apps, schema_editor):
    head = apps.get_model("audit", "AuditHead")
    head.objects.using(schema_editor.connection.alias).get_or_create(
        pk=1, defaults={"seq": 0, "hash": GENESIS_HASH, "checkpoint_count": 0}
    )


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.RunPython(head_create, migrations.RunPython.noop),
        migrations.RunPython(triggers_create, triggers_drop),
    ]
