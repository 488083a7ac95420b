"""Turn the hash-chained rows into ledger leaves, in `seq` order.

The chain is checked first, with the version 1 canonical form it was sealed with: a trail that does
not verify is not laundered into a fresh ledger. The migration stops, naming the first bad row; run
`manage.py verify_audit` on the previous release first (and, for rows web requests wrote before the
release that stamped the caller's address before hashing, that release's `audit_relink`; docs/audit.md,
"Moving from the hash chain"). Leaves use the version 2 canonical form (audit.ledger.canonical),
so new and migrated leaves verify with the same code.
"""

import hashlib

from django.db import migrations

BATCH = 1000
GENESIS_HASH = "0" * 64


def seal_existing_rows(apps, schema_editor):
    from audit.ledger import merkle
    from audit.ledger.canonical import HASHED_FIELDS, canonical_bytes, canonical_fields, canonical_json
    from audit.ledger.verifier import leaf_hash

    AuditEntry = apps.get_model("audit", "AuditEntry")
    LedgerLeaf = apps.get_model("audit", "LedgerLeaf")
    LedgerNode = apps.get_model("audit", "LedgerNode")
    alias = schema_editor.connection.alias
    rows = AuditEntry._base_manager.using(alias).order_by("seq").values("id", "seq", "prev_hash", "entry_hash", *HASHED_FIELDS)
    size, prev_hash, last_seq, frontier = 0, GENESIS_HASH, 0, {}
    while batch := list(rows.filter(seq__gt=last_seq)[:BATCH]):
        hashes = []
        for row in batch:
            document = {"fields": canonical_fields(row), "prev_hash": row["prev_hash"], "seq": row["seq"], "version": 1}
            if (row["seq"] != size + len(hashes) + 1 or row["prev_hash"] != prev_hash
                    or hashlib.sha256(canonical_json(document)).hexdigest() != row["entry_hash"]):
                raise RuntimeError(
                    f"audit row #{row['id']} (seq {row['seq']}) does not verify in the hash chain, so it is not "
                    "moved into the ledger. Run `manage.py verify_audit` on the previous release and repair or "
                    "explain the break before upgrading (docs/audit.md, 'Moving from the hash chain')."
                )
            prev_hash = row["entry_hash"]
            hashes.append(leaf_hash(canonical_bytes(row)))
        made = merkle.new_subtrees(size, hashes, frontier)
        LedgerLeaf.objects.using(alias).bulk_create(
            [LedgerLeaf(leaf_index=size + n, entry_id=row["id"], leaf_hash=value) for n, (row, value) in enumerate(zip(batch, hashes))]
        )
        LedgerNode.objects.using(alias).bulk_create(
            [LedgerNode(key=(level << merkle.NODE_INDEX_BITS) | index, hash=value) for (level, index), value in made.items()]
        )
        known = {**frontier, **made, **{(0, size + n): value for n, value in enumerate(hashes)}}
        size += len(batch)
        frontier = {key: known[key] for key in merkle.frontier_of(size)}
        last_seq = batch[-1]["seq"]


class Migration(migrations.Migration):
    dependencies = [("audit", "0008_ledger_tables")]

    # Reversing empties nothing by hand: 0008's reversal drops the ledger tables.
    operations = [migrations.RunPython(seal_existing_rows, migrations.RunPython.noop)]
