"""The staff roles get their permissions on consultations (the groups come from accounts 0002).

Editors run consultations and review opinions (有效/无效, responses); reviewers and publishers read them.
"""

from django.db import migrations

CONSULTATION_PERMISSIONS = {
    "editor": ["add_consultation", "change_consultation", "view_consultation", "add_consultationoption",
               "change_consultationoption", "delete_consultationoption", "view_consultationoption",
               "view_vote", "change_opinion", "view_opinion", "change_opinioncluster", "view_opinioncluster"],
    "reviewer": ["view_consultation", "view_consultationoption", "view_opinion", "view_opinioncluster"],
    "publisher": ["view_consultation", "view_consultationoption", "view_opinion", "view_opinioncluster"],
}  # fmt: skip


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    config = apps.get_app_config("consultations")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in CONSULTATION_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="consultations", codename__in=codenames)
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name__in=CONSULTATION_PERMISSIONS):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="consultations"))


class Migration(migrations.Migration):
    dependencies = [
        ("consultations", "0001_initial"),
        ("accounts", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
