"""The staff roles as groups with their permissions on announcements."""

from django.db import migrations

# Frozen here on purpose: a later change of a role's permissions is a new migration, not an edit of this one.
ROLE_PERMISSIONS = {
    "editor": [
        ("announcements", "add_announcement"),
        ("announcements", "change_announcement"),
        ("announcements", "view_announcement"),
        ("announcements", "view_category"),
    ],
    "reviewer": [
        ("announcements", "change_announcement"),
        ("announcements", "view_announcement"),
        ("announcements", "view_category"),
    ],
    "publisher": [
        ("announcements", "change_announcement"),
        ("announcements", "publish_announcement"),
        ("announcements", "view_announcement"),
        ("announcements", "view_category"),
    ],
}


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations ran (post_migrate); create them now so the
    # groups can hold them on a fresh database.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, permissions in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for app_label, codename in permissions:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def delete_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("announcements", "0002_announcement_publish_permission"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, delete_roles)]
