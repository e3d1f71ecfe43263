"""The staff roles get their permissions on the rule library (the groups come from accounts 0002)."""

from django.db import migrations

RULE_PERMISSIONS = {
    "editor": ["add_rule", "change_rule", "view_rule", "add_ruleversion", "change_ruleversion", "view_ruleversion",
               "view_rulecategory", "add_changebundle", "view_changebundle"],
    "reviewer": ["view_rule", "change_ruleversion", "view_ruleversion", "view_rulecategory", "view_changebundle"],
    "publisher": ["view_rule", "change_ruleversion", "view_ruleversion", "view_rulecategory", "view_changebundle",
                  "view_exitrequest", "view_lifecycleevent"],
}  # fmt: skip


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    rules_config = apps.get_app_config("rules")
    rules_config.models_module = True
    create_permissions(rules_config, apps=apps, verbosity=0)
    rules_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in RULE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="rules", codename__in=codenames))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name__in=RULE_PERMISSIONS):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="rules"))


class Migration(migrations.Migration):
    dependencies = [
        ("rules", "0001_initial"),
        ("accounts", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
