"""Every user gets a handle: added empty, filled from each existing user's email, then made unique.

Not one transaction: on PostgreSQL, rows updated in a table other tables reference leave deferred
foreign-key trigger events that an ALTER TABLE of that table in the same transaction refuses. The
filling is a transaction of its own, committed before the column becomes unique."""

import accounts.models
from django.db import migrations, models


def fill_handles(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    taken = set(User.objects.exclude(handle__isnull=True).exclude(handle="").values_list("handle", flat=True))
    for user in User.objects.filter(models.Q(handle__isnull=True) | models.Q(handle="")).order_by("created_at", "email"):
        user.handle = accounts.models.unique_handle(user.email, taken=taken)
        taken.add(user.handle)
        user.save(update_fields=["handle"])


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('accounts', '0003_service_accounts'),
    ]

    operations = [
        migrations.AddField(
            model_name='user',
            name='handle',
            field=models.CharField(max_length=40, null=True),
        ),
        migrations.RunPython(fill_handles, migrations.RunPython.noop, atomic=True),
        migrations.AlterField(
            model_name='user',
            name='handle',
            field=models.CharField(help_text="2–40 lowercase letters, digits or '-'; how others @mention this person.", max_length=40, unique=True, validators=[accounts.models.validate_handle]),
        ),
    ]
