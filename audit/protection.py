"""Commands that would empty the audit trail refuse to.

`manage.py flush` truncates every table and `auditlogflush` deletes django-auditlog's entries, i.e.
our trail. The overriding commands live in the first installed app (commandcentral/management/
commands), because Django lets the first app that ships a command name win; the rule is here.
"""

from pathlib import Path

from django.core.management.base import CommandError
from django.db import connections

from .models import AuditEntry, LedgerCheckpoint, LedgerLeaf, LedgerNode

TRAIL_MODELS = (AuditEntry, LedgerLeaf, LedgerNode, LedgerCheckpoint)


def is_test_database(alias: str) -> bool:
    """Django's test databases (test_<name>, our SQLite test-*.sqlite3 files, in-memory ones): the
    suite flushes them between transactional tests, like the PostgreSQL TRUNCATE trigger allows."""
    name = str(connections[alias].settings_dict["NAME"] or "")
    return name == ":memory:" or "mode=memory" in name or Path(name).name.startswith(("test_", "test-"))


def trail_rows(alias: str) -> int:
    return sum(model._base_manager.using(alias).count() for model in TRAIL_MODELS)


def refuse_to_empty_the_trail(command: str, alias: str) -> None:
    """CommandError unless `alias` is a test database or its trail is empty."""
    if is_test_database(alias):
        return
    rows = trail_rows(alias)
    if rows:
        raise CommandError(
            f"{command} refused: it would erase the audit trail ({rows} rows in the trail and its ledger), which "
            "is append-only. To start over with an empty database, create a new database (or delete the SQLite "
            "file) and run migrate."
        )
