"""The staff roles' permissions on segments (issue 13): editors define them, every role reads them.

The services decide who may write (editors); these permissions let the admin show the pages.
"""

from django.db import migrations

SEGMENT_PERMISSIONS = {
    "editor": ["add_segment", "change_segment", "view_segment"],
    "reviewer": ["view_segment"],
    "publisher": ["view_segment"],
}


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    accounts_config = apps.get_app_config("accounts")
    accounts_config.models_module = True
    create_permissions(accounts_config, apps=apps, verbosity=0)
    accounts_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in SEGMENT_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="accounts", codename__in=codenames)
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    codenames = {codename for names in SEGMENT_PERMISSIONS.values() for codename in names}
    for group in Group.objects.filter(name__in=SEGMENT_PERMISSIONS):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="accounts", codename__in=codenames)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_segments"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
