"""A per-rule count of versions with a notice date, kept by triggers so no writer can forget it.

The history page's 共N条 was a COUNT over every version of the rule (~1–2 ms at 10,000 versions, growing
with them). The tally makes it one primary-key read minus the rule's versions noticed in the future (an
index range over the few with effective_at > now). Triggers rather than service code: the admin, bulk
imports and tests write versions too, and a Django-managed column on Rule would be overwritten by every
Rule.save() that loaded it earlier. A decrement never inserts: a rule being deleted may lose its tally row
before its versions, and must not get it back.
"""

from django.db import migrations, models

SQLITE = [
    """
    CREATE TRIGGER ruleversiontally_insert AFTER INSERT ON rules_ruleversion
    WHEN NEW.notice_at IS NOT NULL
    BEGIN
        INSERT INTO rules_ruleversiontally (rule_id, scheduled) VALUES (NEW.rule_id, 1)
        ON CONFLICT (rule_id) DO UPDATE SET scheduled = scheduled + 1;
    END
    """,
    """
    CREATE TRIGGER ruleversiontally_delete AFTER DELETE ON rules_ruleversion
    WHEN OLD.notice_at IS NOT NULL
    BEGIN
        UPDATE rules_ruleversiontally SET scheduled = scheduled - 1 WHERE rule_id = OLD.rule_id;
    END
    """,
    """
    CREATE TRIGGER ruleversiontally_update AFTER UPDATE OF notice_at, rule_id ON rules_ruleversion
    WHEN (OLD.notice_at IS NULL) <> (NEW.notice_at IS NULL) OR OLD.rule_id <> NEW.rule_id
    BEGIN
        UPDATE rules_ruleversiontally SET scheduled = scheduled - 1
        WHERE rule_id = OLD.rule_id AND OLD.notice_at IS NOT NULL;
        INSERT INTO rules_ruleversiontally (rule_id, scheduled)
        SELECT NEW.rule_id, 1 WHERE NEW.notice_at IS NOT NULL
        ON CONFLICT (rule_id) DO UPDATE SET scheduled = scheduled + 1;
    END
    """,
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS ruleversiontally_insert",
    "DROP TRIGGER IF EXISTS ruleversiontally_delete",
    "DROP TRIGGER IF EXISTS ruleversiontally_update",
]

POSTGRESQL = [
    """
    CREATE FUNCTION rules_ruleversiontally_keep() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.notice_at IS NOT NULL THEN
            UPDATE rules_ruleversiontally SET scheduled = scheduled - 1 WHERE rule_id = OLD.rule_id;
        END IF;
        IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.notice_at IS NOT NULL THEN
            INSERT INTO rules_ruleversiontally (rule_id, scheduled) VALUES (NEW.rule_id, 1)
            ON CONFLICT (rule_id) DO UPDATE SET scheduled = rules_ruleversiontally.scheduled + 1;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER ruleversiontally_insert_delete AFTER INSERT OR DELETE ON rules_ruleversion
    FOR EACH ROW EXECUTE FUNCTION rules_ruleversiontally_keep()
    """,
    """
    CREATE TRIGGER ruleversiontally_update AFTER UPDATE OF notice_at, rule_id ON rules_ruleversion
    FOR EACH ROW
    WHEN ((OLD.notice_at IS NULL) IS DISTINCT FROM (NEW.notice_at IS NULL) OR OLD.rule_id <> NEW.rule_id)
    EXECUTE FUNCTION rules_ruleversiontally_keep()
    """,
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS ruleversiontally_update ON rules_ruleversion",
    "DROP TRIGGER IF EXISTS ruleversiontally_insert_delete ON rules_ruleversion",
    "DROP FUNCTION IF EXISTS rules_ruleversiontally_keep()",
]

BACKFILL = """
    INSERT INTO rules_ruleversiontally (rule_id, scheduled)
    SELECT rule_id, COUNT(*) FROM rules_ruleversion WHERE notice_at IS NOT NULL GROUP BY rule_id
"""


def _statements(vendor: str, *, create: bool) -> list[str]:
    if vendor == "sqlite":
        return SQLITE if create else SQLITE_DROP
    if vendor == "postgresql":
        return POSTGRESQL if create else POSTGRESQL_DROP
    raise NotImplementedError(f"rulecenter supports SQLite and PostgreSQL, not {vendor}")


def create_triggers(apps, schema_editor):
    for statement in [BACKFILL, *_statements(schema_editor.connection.vendor, create=True)]:
        schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    for statement in _statements(schema_editor.connection.vendor, create=False):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("rules", "0002_roles"),
    ]

    operations = [
        migrations.CreateModel(
            name="RuleVersionTally",
            fields=[
                (
                    "rule",
                    models.OneToOneField(
                        on_delete=models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="rules.rule",
                        verbose_name="规则",
                    ),
                ),
                ("scheduled", models.IntegerField(default=0, verbose_name="已排期版本数")),
            ],
            options={
                "verbose_name": "版本计数",
                "verbose_name_plural": "版本计数",
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("scheduled__gte", 0)), name="ruleversiontally_not_negative"
                    )
                ],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
