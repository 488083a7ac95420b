"""Chain the rows written before the hash chain existed, in id order.

On PostgreSQL the append-only trigger (0002) refuses UPDATE, so it is disabled for this one
transaction and re-enabled before commit; ALTER TABLE also locks the table, so no application
write can interleave. The canonical form is audit.integrity's (chain version 1): the rows hashed
here must verify with the same code that verifies new rows.
"""

from django.db import migrations

BATCH = 1000


def hash_existing_rows(apps, schema_editor):
    from audit.integrity import GENESIS_HASH, entry_hash_of, lock_chain

    AuditEntry = apps.get_model("audit", "AuditEntry")
    connection = schema_editor.connection
    alias = connection.alias
    postgres = connection.vendor == "postgresql"
    if postgres:
        lock_chain(alias)
        schema_editor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER audit_auditentry_append_only", params=None)
    seq, prev_hash, after_id = 0, GENESIS_HASH, 0
    rows = AuditEntry._base_manager.using(alias).order_by("id")
    while batch := list(rows.filter(id__gt=after_id)[:BATCH]):
        for entry in batch:
            seq += 1
            entry_hash = entry_hash_of(entry, seq=seq, prev_hash=prev_hash)
            # The historical model has a plain manager, so this UPDATE is allowed here and only here.
            AuditEntry._base_manager.using(alias).filter(pk=entry.pk).update(seq=seq, prev_hash=prev_hash, entry_hash=entry_hash)
            prev_hash = entry_hash
        after_id = batch[-1].pk
    if postgres:
        schema_editor.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER audit_auditentry_append_only", params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_hash_chain_columns")]

    # Reversing needs nothing: 0003's reversal drops the columns.
    operations = [migrations.RunPython(hash_existing_rows, migrations.RunPython.noop)]
