"""Every row now has its place in the chain: make the columns required and `seq` unique (the fork guard)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_hash_existing_rows")]

    operations = [
        migrations.AlterField(
            model_name="auditentry",
            name="seq",
            field=models.PositiveBigIntegerField(editable=False, unique=True),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="prev_hash",
            field=models.CharField(editable=False, max_length=64),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="entry_hash",
            field=models.CharField(editable=False, max_length=64),
        ),
    ]
