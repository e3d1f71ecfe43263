"""A draft inside a consultation that has opened is frozen, in the database too.

Once members can read and vote on a draft, its text is what they vote on: the services refuse editing or
deleting it (consultations.receivers, asked through `content_changing_check`), and these triggers refuse
a raw write as well, on SQLite and on PostgreSQL:

- UPDATE of a version's content (text, summary, major, its rule or number) while an opened consultation
  holds it. Its dates and review fields stay writable: a draft is scheduled for notice after the
  consultation that discussed it, which is the point of consulting.
- DELETE of such a version, and DELETE or UPDATE of its row in consultations_consultation_versions (the
  version would silently drop out of what members voted on).

What "opened" means inside the database: `opens_at <=` the database's clock. Unlike a version's notice,
a consultation's opening has no event that a runner marks done, so there is no clock-free marker to
read; in production the database's and the application's clocks agree to within the servers' skew
(seconds). Tests move the application's clock (time-machine) but not the database's: a consultation a
test opens in 2025 is, to the database, already open from the moment it is created — so a test must not
edit a draft or take it out of a consultation it created in the past (the suite's do not; the
application-level check, on the application's clock, is tested on its own). Adding a version to a
consultation is not refused here: `record_past` imports create consultations that opened long ago, and the
admin allows no such change once one has opened.

Both databases report a refusal as an integrity error (SQLite RAISE(ABORT), PostgreSQL SQLSTATE 23001),
raised by Django as django.db.IntegrityError. They are named `*_refuse_*` so the test suite's flush plugin
lifts them while it empties the test database (see rules migration 0006).
"""

from django.db import migrations

DRAFT_FROZEN = (
    "rules_ruleversion: this rule version is a draft of a consultation that has opened; members read and "
    "vote on its text, so it can no longer be edited or deleted. Create a new version instead."
)
LINK_FROZEN = (
    "consultations_consultation_versions: this consultation has opened; its drafts can no longer be "
    "taken out of it."
)

# SQLite stores aware datetimes as naive UTC text ('YYYY-MM-DD HH:MM:SS[.ffffff]'), which compares with
# datetime('now') (UTC) as text.
SQLITE_OPENED = (
    "SELECT 1 FROM consultations_consultation_versions cv "
    "JOIN consultations_consultation c ON c.id = cv.consultation_id "
    "WHERE cv.ruleversion_id = OLD.id AND c.opens_at <= datetime('now')"
)
SQLITE_CHANGED = (
    "NEW.text IS NOT OLD.text OR NEW.summary IS NOT OLD.summary OR NEW.major IS NOT OLD.major "
    "OR NEW.rule_id IS NOT OLD.rule_id OR NEW.number IS NOT OLD.number"
)
SQLITE = [
    f"""
    CREATE TRIGGER ruleversion_refuse_consulted_update
    BEFORE UPDATE OF text, summary, major, rule_id, number ON rules_ruleversion
    WHEN ({SQLITE_CHANGED}) AND EXISTS ({SQLITE_OPENED})
    BEGIN
        SELECT RAISE(ABORT, '{DRAFT_FROZEN}');
    END
    """,
    f"""
    CREATE TRIGGER ruleversion_refuse_consulted_delete BEFORE DELETE ON rules_ruleversion
    WHEN EXISTS ({SQLITE_OPENED})
    BEGIN
        SELECT RAISE(ABORT, '{DRAFT_FROZEN}');
    END
    """,
    f"""
    CREATE TRIGGER consultationversions_refuse_opened_delete BEFORE DELETE ON consultations_consultation_versions
    WHEN EXISTS (
        SELECT 1 FROM consultations_consultation
        WHERE id = OLD.consultation_id AND opens_at <= datetime('now')
    )
    BEGIN
        SELECT RAISE(ABORT, '{LINK_FROZEN}');
    END
    """,
    f"""
    CREATE TRIGGER consultationversions_refuse_opened_update BEFORE UPDATE ON consultations_consultation_versions
    WHEN EXISTS (
        SELECT 1 FROM consultations_consultation
        WHERE id = OLD.consultation_id AND opens_at <= datetime('now')
    )
    BEGIN
        SELECT RAISE(ABORT, '{LINK_FROZEN}');
    END
    """,
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS ruleversion_refuse_consulted_update",
    "DROP TRIGGER IF EXISTS ruleversion_refuse_consulted_delete",
    "DROP TRIGGER IF EXISTS consultationversions_refuse_opened_delete",
    "DROP TRIGGER IF EXISTS consultationversions_refuse_opened_update",
]

POSTGRESQL = [
    f"""
    CREATE FUNCTION consultations_draft_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND (NEW.text, NEW.summary, NEW.major, NEW.rule_id, NEW.number)
                IS NOT DISTINCT FROM (OLD.text, OLD.summary, OLD.major, OLD.rule_id, OLD.number) THEN
            RETURN NEW;
        END IF;
        IF EXISTS (
            SELECT 1 FROM consultations_consultation_versions cv
            JOIN consultations_consultation c ON c.id = cv.consultation_id
            WHERE cv.ruleversion_id = OLD.id AND c.opens_at <= now()
        ) THEN
            RAISE EXCEPTION '{DRAFT_FROZEN}'
                USING ERRCODE = 'restrict_violation', DETAIL = 'rule version id ' || OLD.id;
        END IF;
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END
    $$
    """,
    """
    CREATE TRIGGER ruleversion_refuse_consulted BEFORE UPDATE OR DELETE ON rules_ruleversion
    FOR EACH ROW EXECUTE FUNCTION consultations_draft_frozen()
    """,
    f"""
    CREATE FUNCTION consultations_versions_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (
            SELECT 1 FROM consultations_consultation WHERE id = OLD.consultation_id AND opens_at <= now()
        ) THEN
            RAISE EXCEPTION '{LINK_FROZEN}'
                USING ERRCODE = 'restrict_violation', DETAIL = 'consultation id ' || OLD.consultation_id;
        END IF;
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END
    $$
    """,
    """
    CREATE TRIGGER consultationversions_refuse_opened BEFORE UPDATE OR DELETE ON consultations_consultation_versions
    FOR EACH ROW EXECUTE FUNCTION consultations_versions_frozen()
    """,
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS consultationversions_refuse_opened ON consultations_consultation_versions",
    "DROP FUNCTION IF EXISTS consultations_versions_frozen()",
    "DROP TRIGGER IF EXISTS ruleversion_refuse_consulted ON rules_ruleversion",
    "DROP FUNCTION IF EXISTS consultations_draft_frozen()",
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
        ("consultations", "0004_option_key_rule"),
        ("rules", "0006_frozen_versions"),
    ]

    operations = [
        migrations.RunPython(create_triggers, drop_triggers),
    ]
