"""A case's record cannot be rewritten by any door: its timeline (steps) and attachments are written once
and never changed or deleted, and what a case was filed about — its member, rule, pinned version, instant,
clause and text — never changes. The triggers are named `*_refuse_*` (common/triggers.py). Reviewers get the
admin permissions to read and answer cases (the services decide who may answer)."""

from django.db import migrations

STEP_ONCE = "cases_casestep: the timeline of a case is written once and never changed or deleted."
FILE_ONCE = "cases_caseattachment: the attachment of a case is kept as sent, never changed or deleted."
PINNED = "cases_case: what a case was filed about (member, rule, version, instant, clause, text) never changes."
PINNED_COLUMNS = ("member_id", "rule_id", "version_id", "at", "clause", "text", "subject", "number")

SQLITE = [
    *(
        f"""
        CREATE TRIGGER {table}_refuse_{op.lower()} BEFORE {op} ON cases_{table}
        BEGIN
            SELECT RAISE(ABORT, '{message}');
        END
        """
        for table, message in (("casestep", STEP_ONCE), ("caseattachment", FILE_ONCE))
        for op in ("UPDATE", "DELETE")
    ),
    """
    CREATE TRIGGER case_refuse_delete BEFORE DELETE ON cases_case
    BEGIN
        SELECT RAISE(ABORT, 'cases_case: a case is a record and is never deleted.');
    END
    """,
    # The number is given once, right after the row has its id (a placeholder until then).
    f"""
    CREATE TRIGGER case_refuse_repin BEFORE UPDATE ON cases_case
    WHEN OLD.member_id IS NOT NEW.member_id OR OLD.rule_id IS NOT NEW.rule_id OR OLD.version_id IS NOT NEW.version_id
      OR OLD.at IS NOT NEW.at OR OLD.clause IS NOT NEW.clause OR OLD.text IS NOT NEW.text
      OR OLD.subject IS NOT NEW.subject OR (OLD.number LIKE 'SS%' AND OLD.number IS NOT NEW.number)
    BEGIN
        SELECT RAISE(ABORT, '{PINNED}');
    END
    """,
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS casestep_refuse_update",
    "DROP TRIGGER IF EXISTS casestep_refuse_delete",
    "DROP TRIGGER IF EXISTS caseattachment_refuse_update",
    "DROP TRIGGER IF EXISTS caseattachment_refuse_delete",
    "DROP TRIGGER IF EXISTS case_refuse_delete",
    "DROP TRIGGER IF EXISTS case_refuse_repin",
]
POSTGRESQL = [
    f"""
    CREATE FUNCTION cases_written_once() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
    END
    $$
    """,
    f"""
    CREATE TRIGGER casestep_refuse_rewrite BEFORE UPDATE OR DELETE ON cases_casestep
    FOR EACH ROW EXECUTE FUNCTION cases_written_once('{STEP_ONCE}')
    """,
    f"""
    CREATE TRIGGER caseattachment_refuse_rewrite BEFORE UPDATE OR DELETE ON cases_caseattachment
    FOR EACH ROW EXECUTE FUNCTION cases_written_once('{FILE_ONCE}')
    """,
    """
    CREATE TRIGGER case_refuse_delete BEFORE DELETE ON cases_case
    FOR EACH ROW EXECUTE FUNCTION cases_written_once('cases_case: a case is a record and is never deleted.')
    """,
    f"""
    CREATE FUNCTION cases_case_pinned() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF OLD.member_id IS DISTINCT FROM NEW.member_id OR OLD.rule_id IS DISTINCT FROM NEW.rule_id
           OR OLD.version_id IS DISTINCT FROM NEW.version_id OR OLD.at IS DISTINCT FROM NEW.at
           OR OLD.clause IS DISTINCT FROM NEW.clause OR OLD.text IS DISTINCT FROM NEW.text
           OR OLD.subject IS DISTINCT FROM NEW.subject
           OR (OLD.number LIKE 'SS%' AND OLD.number IS DISTINCT FROM NEW.number) THEN
            RAISE EXCEPTION '{PINNED}' USING ERRCODE = 'restrict_violation', DETAIL = 'case id ' || OLD.id;
        END IF;
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE TRIGGER case_refuse_repin BEFORE UPDATE ON cases_case
    FOR EACH ROW EXECUTE FUNCTION cases_case_pinned()
    """,
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS casestep_refuse_rewrite ON cases_casestep",
    "DROP TRIGGER IF EXISTS caseattachment_refuse_rewrite ON cases_caseattachment",
    "DROP TRIGGER IF EXISTS case_refuse_delete ON cases_case",
    "DROP TRIGGER IF EXISTS case_refuse_repin ON cases_case",
    "DROP FUNCTION IF EXISTS cases_case_pinned()",
    "DROP FUNCTION IF EXISTS cases_written_once()",
]
PERMISSIONS = {"reviewer": ["view_case", "change_case", "view_casestep", "view_caseattachment"]}


def _statements(vendor, *, create):
    if vendor == "sqlite":
        return SQLITE if create else SQLITE_DROP
    if vendor == "postgresql":
        return POSTGRESQL if create else POSTGRESQL_DROP
    raise NotImplementedError(f"rulecenter supports SQLite and PostgreSQL, not {vendor}")


def create_triggers(apps, schema_editor):
    # No parameters: the statements' own % (RAISE '%', LIKE 'SS%') are not placeholders.
    for statement in _statements(schema_editor.connection.vendor, create=True):
        schema_editor.execute(statement, params=None)


def drop_triggers(apps, schema_editor):
    for statement in _statements(schema_editor.connection.vendor, create=False):
        schema_editor.execute(statement, params=None)


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    config = apps.get_app_config("cases")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="cases", codename__in=codenames))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name__in=PERMISSIONS):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="cases"))


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0001_initial"),
        ("accounts", "0007_member_language"),
    ]

    operations = [
        migrations.RunPython(create_triggers, drop_triggers),
        migrations.RunPython(grant, revoke),
    ]
