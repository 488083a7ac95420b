"""The ledger's tables: queue, leaves, stored subtrees and signed checkpoints."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0007_audit_maintenance_event_type'),
    ]

    operations = [
        migrations.CreateModel(
            name='LedgerCheckpoint',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('tree_size', models.BigIntegerField(unique=True)),
                ('root_hash', models.BinaryField(max_length=32)),
                ('note', models.TextField()),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
            ],
            options={
                'verbose_name': 'ledger checkpoint',
                'ordering': ['-tree_size'],
                'get_latest_by': 'tree_size',
            },
        ),
        migrations.CreateModel(
            name='LedgerLeaf',
            fields=[
                ('leaf_index', models.BigIntegerField(primary_key=True, serialize=False)),
                ('leaf_hash', models.BinaryField(max_length=32)),
                ('sealed_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'verbose_name': 'ledger leaf',
            },
        ),
        migrations.CreateModel(
            name='LedgerNode',
            fields=[
                ('key', models.BigIntegerField(help_text='level · 2^48 + index', primary_key=True, serialize=False)),
                ('hash', models.BinaryField(max_length=32)),
            ],
            options={
                'verbose_name': 'ledger node',
            },
        ),
        migrations.CreateModel(
            name='LedgerQueue',
            fields=[
                ('entry_id', models.BigIntegerField(primary_key=True, serialize=False)),
                ('enqueued_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'verbose_name': 'unsealed audit row',
            },
        ),
        migrations.AddField(
            model_name='ledgerleaf',
            name='entry',
            field=models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='ledger_leaf', to=settings.AUDITLOG_LOGENTRY_MODEL),
        ),
    ]
