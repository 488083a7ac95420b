"""What someone with database access can do to the audit tables, for the tests that tamper on purpose."""

import contextlib

from django.db import connection, transaction

# Table → its append-only trigger (PostgreSQL migrations 0002 and 0010).
TRIGGERS = {
    "audit_auditentry": "audit_auditentry_append_only",
    "audit_ledgerleaf": "audit_ledgerleaf_append_only",
    "audit_ledgernode": "audit_ledgernode_append_only",
    "audit_ledgercheckpoint": "audit_ledgercheckpoint_append_only",
}


@contextlib.contextmanager
def as_database_admin():
    """Raw SQL, with PostgreSQL's append-only triggers off (the table owner can do that)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Django's FKs are DEFERRABLE INITIALLY DEFERRED; ALTER TABLE refuses to run while the test
            # transaction still has their checks queued, so run them now and as we go.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            # A test may run at an older migration, where some of these triggers do not exist yet.
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgname = ANY(%s)", [list(TRIGGERS.values())])
            existing = {name for (name,) in cursor.fetchall()}
            triggers = {table: trigger for table, trigger in TRIGGERS.items() if trigger in existing}
            for table, trigger in triggers.items():
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        yield cursor
        if connection.vendor == "postgresql":
            for table, trigger in triggers.items():
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
