"""Drop three indexes of the audit trail that nothing reads, each written on every append:

- object_pk: entity_id holds the same key, and audit_entity_id_idx (entity_type, entity_id, -id) serves every
  lookup of an object's rows (on PostgreSQL it also had a varchar_pattern_ops twin for LIKE);
- object_id: django-auditlog's integer object id, empty for every UUID-keyed object;
- action: four values, never filtered on (event_type, which is, has audit_event_type_id_idx);
- on PostgreSQL, the varchar_pattern_ops twins Django adds to every indexed CharField for LIKE: cid and
  event_name are only ever compared whole (`=`, `IN`), which their plain indexes serve.

An append wrote 11 index pages into SQLite's WAL before, 8 after (bench/README.md, fourth round). Dropped by
name rather than through AlterField, which on SQLite rebuilds the whole table for what is a DROP INDEX.
"""

from django.db import migrations, models

TABLE = "audit_auditentry"
# The names Django gave them (its index names depend only on the table and the column).
INDEXES = {
    "object_pk": "audit_auditentry_object_pk_7abe54f3",
    "object_id": "audit_auditentry_object_id_c21697b7",
    "action": "audit_auditentry_action_dee621eb",
}
# PostgreSQL's varchar_pattern_ops index of each indexed CharField, by column.
LIKE_TWINS = {
    "object_pk": INDEXES["object_pk"] + "_like",
    "cid": "audit_auditentry_cid_74624806_like",
    "event_name": "audit_auditentry_event_name_6066ba14_like",
}


def drop_indexes(apps, schema_editor):
    quote = schema_editor.quote_name
    for name in INDEXES.values():
        schema_editor.execute(f"DROP INDEX IF EXISTS {quote(name)}")
    if schema_editor.connection.vendor == "postgresql":
        for name in LIKE_TWINS.values():
            schema_editor.execute(f"DROP INDEX IF EXISTS {quote(name)}")


def create_indexes(apps, schema_editor):
    quote = schema_editor.quote_name
    for column, name in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX {quote(name)} ON {quote(TABLE)} ({quote(column)})")
    if schema_editor.connection.vendor == "postgresql":
        for column, name in LIKE_TWINS.items():
            schema_editor.execute(f"CREATE INDEX {quote(name)} ON {quote(TABLE)} ({quote(column)} varchar_pattern_ops)")


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0012_witnesses"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
            state_operations=[
                migrations.AlterField(
                    model_name="auditentry",
                    name="object_pk",
                    field=models.CharField(blank=True, default="", max_length=255),
                ),
                migrations.AlterField(
                    model_name="auditentry",
                    name="object_id",
                    field=models.BigIntegerField(blank=True, null=True, verbose_name="object id"),
                ),
                migrations.AlterField(
                    model_name="auditentry",
                    name="action",
                    field=models.PositiveSmallIntegerField(
                        choices=[(0, "create"), (1, "update"), (2, "delete"), (3, "access")], verbose_name="action"
                    ),
                ),
            ],
        ),
    ]
