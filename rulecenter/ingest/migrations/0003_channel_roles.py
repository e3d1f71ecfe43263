"""The staff roles' permissions on followed channels (issue 16): publishers add and change them, every role
reads them and their fetches. The services decide who may write; these permissions let the admin show pages."""

from django.db import migrations

CHANNEL_PERMISSIONS = {
    "editor": ["view_channel", "view_channelpage", "view_channelfetch"],
    "reviewer": ["view_channel", "view_channelpage", "view_channelfetch"],
    "publisher": ["add_channel", "change_channel", "view_channel", "view_channelpage", "view_channelfetch"],
}


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    ingest_config = apps.get_app_config("ingest")
    ingest_config.models_module = True
    create_permissions(ingest_config, apps=apps, verbosity=0)
    ingest_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in CHANNEL_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="ingest", codename__in=codenames)
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    codenames = {codename for names in CHANNEL_PERMISSIONS.values() for codename in names}
    for group in Group.objects.filter(name__in=CHANNEL_PERMISSIONS):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="ingest", codename__in=codenames)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0002_channels"),
        ("accounts", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
