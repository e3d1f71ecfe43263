"""Option keys the admin let through before the key rule lived in the model (0004) are made valid.

Until then only the API and the create service refused a key like `No-Vote` or `1st`; an option added in the
admin could carry one. Each such key becomes a valid one (lower case, other characters as `_`, a letter
first, at most 32 characters, unique within its consultation), and the standing votes, the vote history and
the opinions that name it follow, so every vote keeps its option. Valid keys are left alone; on a database
without bad keys this does nothing.
"""

import re

from django.db import migrations

VALID = re.compile(r"[a-z][a-z0-9_]{0,31}")
OTHER = re.compile(r"[^a-z0-9_]")
LONGEST = 32


def valid_key(key, taken):
    base = OTHER.sub("_", key.lower()) or "option"
    if not "a" <= base[0] <= "z":
        base = f"k_{base}"
    base = base[:LONGEST]
    candidate, number = base, 2
    while candidate in taken:
        suffix = f"_{number}"
        candidate, number = base[: LONGEST - len(suffix)] + suffix, number + 1
    return candidate


def normalise(apps, schema_editor):
    ConsultationOption = apps.get_model("consultations", "ConsultationOption")
    bad = [option for option in ConsultationOption.objects.order_by("id") if not VALID.fullmatch(option.key)]
    for option in bad:
        siblings = ConsultationOption.objects.filter(consultation_id=option.consultation_id)
        taken = set(siblings.exclude(pk=option.pk).values_list("key", flat=True))
        old, new = option.key, valid_key(option.key, taken)
        for name in ("Vote", "VoteHistory", "Opinion"):
            model = apps.get_model("consultations", name)
            model.objects.filter(consultation_id=option.consultation_id, choice=old).update(choice=new)
        option.key = new
        option.save(update_fields=["key"])
        print(f"\n  consultation {option.consultation_id}: option key {old!r} is now {new!r}", end="")


class Migration(migrations.Migration):
    dependencies = [
        ("consultations", "0002_roles"),
    ]

    operations = [migrations.RunPython(normalise, migrations.RunPython.noop)]
