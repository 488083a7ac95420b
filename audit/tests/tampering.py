"""What someone with database access can do to the audit table, for the tests that tamper on purpose."""

import contextlib

from django.db import connection, transaction


@contextlib.contextmanager
def as_database_admin():
    """What someone with database access can do: raw SQL, with PostgreSQL's append-only trigger off."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Django's FKs are DEFERRABLE INITIALLY DEFERRED; ALTER TABLE refuses to run while the test
            # transaction still has their checks queued, so run them now and as we go.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER audit_auditentry_append_only")
        yield cursor
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER audit_auditentry_append_only")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
