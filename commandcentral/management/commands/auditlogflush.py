"""django-auditlog's auditlogflush would delete our audit trail (its entries are audit.AuditEntry)."""

from auditlog.management.commands import auditlogflush

from audit.protection import refuse_to_empty_the_trail


class Command(auditlogflush.Command):
    help = "Refused: the audit trail is append-only (django-auditlog's auditlogflush would delete it)."

    def handle(self, *args, **options):
        refuse_to_empty_the_trail("auditlogflush", options.get("database") or "default")
        return super().handle(*args, **options)
