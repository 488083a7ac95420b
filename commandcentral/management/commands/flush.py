"""Django's flush, refused while the database holds an audit trail (audit.protection)."""

from django.core.management.commands import flush

from audit.protection import refuse_to_empty_the_trail


class Command(flush.Command):
    help = flush.Command.help + " Refused while the audit trail holds rows (it is append-only)."

    def handle(self, **options):
        refuse_to_empty_the_trail("flush", options["database"])
        return super().handle(**options)
