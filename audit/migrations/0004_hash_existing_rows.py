"""Chain the rows written before the hash chain existed, in id order.

On PostgreSQL the append-only trigger (0002) refuses UPDATE, so it is disabled for this one
transaction and re-enabled before commit; ALTER TABLE also locks the table, so no application
write can interleave. The canonical form is chain version 1 (its fields are still those of
audit.ledger.canonical; the chain itself was retired by 0009, which turns these rows into ledger leaves).
"""

import hashlib

from django.db import migrations

BATCH = 1000
GENESIS_HASH = "0" * 64
CHAIN_LOCK_KEY = 0x4343_4155_4449_5431


def entry_hash_of(values, *, seq, prev_hash):
    from audit.ledger.canonical import canonical_fields, canonical_json

    document = {"fields": canonical_fields(values), "prev_hash": prev_hash, "seq": seq, "version": 1}
    return hashlib.sha256(canonical_json(document)).hexdigest()


def hash_existing_rows(apps, schema_editor):
    AuditEntry = apps.get_model("audit", "AuditEntry")
    connection = schema_editor.connection
    alias = connection.alias
    postgres = connection.vendor == "postgresql"
    if postgres:
        schema_editor.execute("SELECT pg_advisory_xact_lock(%s)", params=[CHAIN_LOCK_KEY])
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
