"""Frozen means frozen, in the database: a noticed rule version can no longer be updated or deleted.

The services refuse it already (`_refuse_if_frozen`); these triggers make a raw `UPDATE`/`DELETE`, a bulk
queryset write or a forgotten admin path fail too, on SQLite and on PostgreSQL.

What "noticed" means inside the database: a done NOTICE row in rules_lifecycleevent (kind = 'notice' and
done_at IS NOT NULL), not `notice_at <= CURRENT_TIMESTAMP`. The application decides with its own clock
(`timezone.now()`), which tests move with time-machine while the database's clock does not; a trigger on
the database's clock would freeze versions the application still considers scheduled (and rightly lets
a publisher reschedule) and would disagree with it whenever the two clocks do. The done NOTICE row is
written by the lifecycle runner when the notice is published, and by `record_past` imports when they log
a notice that happened before — so it exists exactly when the platform has noticed the version, whatever
any clock says. Between `notice_at` and the runner's run (seconds, the worker's wake-up) the services'
clock check is the guard; from the run on, both are.

The marker then needs guarding itself: a done lifecycle event can be neither changed (un-done, moved) nor
deleted — otherwise `DELETE FROM rules_lifecycleevent` would thaw a version. Pending events stay free:
rescheduling rewrites and deletes them, the runner marks them done.

The tally triggers of migration 0003 are AFTER triggers; these run BEFORE and abort the statement, so a
refused write never reaches the tally. Both databases report the refusal as an integrity error
(SQLite RAISE(ABORT) is SQLITE_CONSTRAINT_TRIGGER, PostgreSQL SQLSTATE 23001 restrict_violation), which
Django raises as django.db.IntegrityError.

The triggers are named `*_refuse_*`: between transactional tests, Django's `flush` empties every table
(row by row on SQLite), and the test suite's flush plugin (rulecenter/audit/tests/flushing.py) lifts
triggers so named around it — in the test process only.
"""

from django.db import migrations

VERSION_FROZEN = (
    "rules_ruleversion: this rule version has been noticed (公示) and is frozen; it can no longer be "
    "updated or deleted. Create a new version instead."
)
EVENT_DONE = (
    "rules_lifecycleevent: this lifecycle transition has run and is part of the record; it can no longer "
    "be changed or deleted."
)

NOTICED = (
    "SELECT 1 FROM rules_lifecycleevent WHERE version_id = OLD.id AND kind = 'notice' AND done_at IS NOT NULL"
)

SQLITE = [
    f"""
    CREATE TRIGGER ruleversion_refuse_noticed_update BEFORE UPDATE ON rules_ruleversion
    WHEN EXISTS ({NOTICED})
    BEGIN
        SELECT RAISE(ABORT, '{VERSION_FROZEN}');
    END
    """,
    f"""
    CREATE TRIGGER ruleversion_refuse_noticed_delete BEFORE DELETE ON rules_ruleversion
    WHEN EXISTS ({NOTICED})
    BEGIN
        SELECT RAISE(ABORT, '{VERSION_FROZEN}');
    END
    """,
    f"""
    CREATE TRIGGER lifecycleevent_refuse_done_update BEFORE UPDATE ON rules_lifecycleevent
    WHEN OLD.done_at IS NOT NULL
    BEGIN
        SELECT RAISE(ABORT, '{EVENT_DONE}');
    END
    """,
    f"""
    CREATE TRIGGER lifecycleevent_refuse_done_delete BEFORE DELETE ON rules_lifecycleevent
    WHEN OLD.done_at IS NOT NULL
    BEGIN
        SELECT RAISE(ABORT, '{EVENT_DONE}');
    END
    """,
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS ruleversion_refuse_noticed_update",
    "DROP TRIGGER IF EXISTS ruleversion_refuse_noticed_delete",
    "DROP TRIGGER IF EXISTS lifecycleevent_refuse_done_update",
    "DROP TRIGGER IF EXISTS lifecycleevent_refuse_done_delete",
]

POSTGRESQL = [
    f"""
    CREATE FUNCTION rules_ruleversion_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS ({NOTICED}) THEN
            RAISE EXCEPTION '{VERSION_FROZEN}'
                USING ERRCODE = 'restrict_violation', DETAIL = 'rule version id ' || OLD.id;
        END IF;
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END
    $$
    """,
    """
    CREATE TRIGGER ruleversion_refuse_noticed BEFORE UPDATE OR DELETE ON rules_ruleversion
    FOR EACH ROW EXECUTE FUNCTION rules_ruleversion_frozen()
    """,
    f"""
    CREATE FUNCTION rules_lifecycleevent_done() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{EVENT_DONE}'
            USING ERRCODE = 'restrict_violation', DETAIL = 'lifecycle event id ' || OLD.id;
    END
    $$
    """,
    """
    CREATE TRIGGER lifecycleevent_refuse_done BEFORE UPDATE OR DELETE ON rules_lifecycleevent
    FOR EACH ROW WHEN (OLD.done_at IS NOT NULL) EXECUTE FUNCTION rules_lifecycleevent_done()
    """,
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS lifecycleevent_refuse_done ON rules_lifecycleevent",
    "DROP FUNCTION IF EXISTS rules_lifecycleevent_done()",
    "DROP TRIGGER IF EXISTS ruleversion_refuse_noticed ON rules_ruleversion",
    "DROP FUNCTION IF EXISTS rules_ruleversion_frozen()",
]


def _statements(vendor: str, *, create: bool) -> list[str]:
    if vendor == "sqlite":
        return SQLITE if create else SQLITE_DROP
    if vendor == "postgresql":
        return POSTGRESQL if create else POSTGRESQL_DROP
    raise NotImplementedError(f"rulecenter supports SQLite and PostgreSQL, not {vendor}")


def create_triggers(apps, schema_editor):
    for statement in _statements(schema_editor.connection.vendor, create=True):
        schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    for statement in _statements(schema_editor.connection.vendor, create=False):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("rules", "0005_version_review"),
    ]

    operations = [
        migrations.RunPython(create_triggers, drop_triggers),
    ]
