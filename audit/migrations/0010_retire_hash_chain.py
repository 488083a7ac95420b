"""Retire the hash chain (its columns and HMAC checkpoints) now that every row is a leaf; on PostgreSQL,
make the ledger's tables append-only like the trail and refuse TRUNCATE on all audit tables.

TRUNCATE stays possible in a database whose name starts with `test_` (Django's test databases: a
transactional test's flush is a TRUNCATE). The queue is not append-only: the sequencer deletes from it.
"""

from django.db import migrations

APPEND_ONLY = ("audit_ledgerleaf", "audit_ledgernode", "audit_ledgercheckpoint")
NO_TRUNCATE = ("audit_auditentry", "audit_ledgerleaf", "audit_ledgernode", "audit_ledgercheckpoint")

FUNCTIONS = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION audit_refuse_truncate() RETURNS trigger AS $$
BEGIN
    IF current_database() LIKE 'test\\_%' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTIONS, params=None)
    for table in APPEND_ONLY:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()", params=None,
        )
    for table in NO_TRUNCATE:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate()", params=None,
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in APPEND_ONLY:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}", params=None)
    for table in NO_TRUNCATE:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}", params=None)
    schema_editor.execute("DROP FUNCTION IF EXISTS audit_refuse_change(); DROP FUNCTION IF EXISTS audit_refuse_truncate();", params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0009_seal_existing_rows")]

    operations = [
        migrations.DeleteModel(name="AuditCheckpoint"),
        migrations.RemoveField(model_name="auditentry", name="entry_hash"),
        migrations.RemoveField(model_name="auditentry", name="prev_hash"),
        migrations.RemoveField(model_name="auditentry", name="seq"),
        migrations.RunPython(forwards, backwards),
    ]
