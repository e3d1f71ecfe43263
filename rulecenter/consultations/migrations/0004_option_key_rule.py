"""The option-key rule in the model: a validator on the field and the same rule as a database check.

Apart from 0003 (which made existing keys valid), so that on PostgreSQL the check is added in a transaction
of its own, after the rows it checks were rewritten.
"""

import rulecenter.consultations.models
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("consultations", "0003_option_keys_normalised"),
    ]

    operations = [
        migrations.AlterField(
            model_name="consultationoption",
            name="key",
            field=models.SlugField(
                help_text="API 中的取值，如 support、reevaluate：小写字母、数字和下划线，以字母开头",
                max_length=32,
                validators=[rulecenter.consultations.models.validate_option_key],
                verbose_name="标识",
            ),
        ),
        migrations.AddConstraint(
            model_name="consultationoption",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("key__regex", "^[a-z][a-z0-9_]{0,31}$"), models.Q(("key__contains", "\n"), _negated=True)
                ),
                name="consultationoption_key_format",
                violation_error_message="选项标识只能用小写字母、数字和下划线，以字母开头，最多 32 个字符。",
            ),
        ),
    ]
