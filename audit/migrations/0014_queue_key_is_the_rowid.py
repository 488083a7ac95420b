"""The unsealed rows' queue keyed by SQLite's rowid: its `bigint` key had an index of its own there, one
more B-tree page in the WAL for every audited write and every sealed row. SQLite rebuilds this small
table (the queue holds only the rows of the last moments); on PostgreSQL the column stays `bigint` and
nothing changes."""

import audit.models
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0013_drop_unread_indexes'),
    ]

    operations = [
        migrations.AlterField(
            model_name='ledgerqueue',
            name='entry_id',
            field=audit.models.RowidKey(primary_key=True, serialize=False),
        ),
    ]
