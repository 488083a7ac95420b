"""Drop four single-column indexes of the audit trail that its composite (column, -id) indexes cover.

Every append writes every index; these four duplicated the leading column of
audit_project_id_idx, audit_event_type_id_idx, audit_actor_id_idx and audit_success_id_idx
(bench/README.md). The indexes are dropped by name rather than through AlterField, which on SQLite
rebuilds the whole table — four copies of the trail — for what is a DROP INDEX.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TABLE = "audit_auditentry"
# The names Django gave them (its index names depend only on the table and the columns).
INDEXES = {
    "actor_id": "audit_auditentry_actor_id_8ab278be",
    "event_type": "audit_auditentry_event_type_3a43119e",
    "project_id": "audit_auditentry_project_id_04c126bb",
    "success": "audit_auditentry_success_633faa7f",
}


def drop_indexes(apps, schema_editor):
    quote = schema_editor.quote_name
    for name in INDEXES.values():
        schema_editor.execute(f"DROP INDEX IF EXISTS {quote(name)}")
    if schema_editor.connection.vendor == "postgresql":  # its varchar_pattern_ops twin for LIKE
        schema_editor.execute(f"DROP INDEX IF EXISTS {quote(INDEXES['event_type'] + '_like')}")


def create_indexes(apps, schema_editor):
    quote = schema_editor.quote_name
    for column, name in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX {quote(name)} ON {quote(TABLE)} ({quote(column)})")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX {quote(INDEXES['event_type'] + '_like')} ON {quote(TABLE)} "
            f"({quote('event_type')} varchar_pattern_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0005_hash_chain_required"),
        ("projects", "0002_live_created_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
            state_operations=[
                migrations.AlterField(
                    model_name="auditentry",
                    name="actor",
                    field=models.ForeignKey(
                        blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT,
                        related_name="+", to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="auditentry",
                    name="event_type",
                    field=models.CharField(
                        choices=[
                            ("entity_created", "Entity Created"), ("entity_updated", "Entity Updated"),
                            ("entity_deleted", "Entity Deleted"), ("transition_success", "Transition Success"),
                            ("transition_denied", "Transition Denied"), ("permission_denied", "Permission Denied"),
                            ("auth_login", "Auth Login"), ("auth_logout", "Auth Logout"), ("auth_failed", "Auth Failed"),
                        ],
                        max_length=32,
                    ),
                ),
                migrations.AlterField(
                    model_name="auditentry",
                    name="project",
                    field=models.ForeignKey(
                        blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT,
                        related_name="audit_entries", to="projects.project",
                    ),
                ),
                migrations.AlterField(
                    model_name="auditentry",
                    name="success",
                    field=models.BooleanField(default=True),
                ),
            ],
        ),
    ]
