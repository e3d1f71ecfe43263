"""Four eyes on rule versions: who last wrote the text, who approved it and when, the reviewer's comment.

On SQLite adding these columns rebuilds the table, which drops its triggers; the tally's (0003) are put
back after the rebuild, both ways.
"""

import importlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def sqlite_triggers_restore(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return  # PostgreSQL alters the table in place and keeps its triggers
    tally = importlib.import_module("rulecenter.rules.migrations.0003_version_tally")
    for statement in [*tally.SQLITE_DROP, *tally.SQLITE]:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("rules", "0004_major_help_text"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, sqlite_triggers_restore),
        migrations.AddField(
            model_name="ruleversion",
            name="approved_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="审核通过时间"),
        ),
        migrations.AddField(
            model_name="ruleversion",
            name="approved_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="审核人",
            ),
        ),
        migrations.AddField(
            model_name="ruleversion",
            name="author",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="作者",
            ),
        ),
        migrations.AddField(
            model_name="ruleversion",
            name="review_comment",
            field=models.TextField(blank=True, verbose_name="退回意见"),
        ),
        migrations.AddConstraint(
            model_name="ruleversion",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("approved_by__isnull", True), ("approved_at__isnull", False), _connector="OR"
                ),
                name="ruleversion_approval_has_time",
            ),
        ),
        migrations.RunPython(sqlite_triggers_restore, migrations.RunPython.noop),
    ]
