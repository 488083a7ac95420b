"""Print a new Ed25519 signing key for the ledger's checkpoints (or, with --witness, a cosigner key), and its verifier key."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit.ledger.checkpoints import LedgerConfigurationError, key_source, verifier_key_text
from audit.ledger.notes import generate_signing_key
from audit.ledger.verifier import ALG_COSIGNATURE_V1
from audit.ledger.witnessing import DEFAULT_WITNESS_NAME, WitnessConfigurationError, witness_key


class Command(BaseCommand):
    help = (
        "Print a new signing key in the signed-note private form (PRIVATE+KEY+<name>+<hash>+<seed>: put it in "
        "AUDIT_SIGNING_KEY or a file named by AUDIT_SIGNING_KEY_FILE, never in the database) and its verifier "
        "key (<name>+<hash>+<key>: publish it). With --witness, a cosigner key for witnessing other logs "
        "(AUDIT_WITNESS_KEY). With --show-configured, print the verifier key in use instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", default=None, help="key name and checkpoint origin (default: AUDIT_LEDGER_ORIGIN)")
        parser.add_argument("--show-configured", action="store_true", help="print the configured verifier key and exit")
        parser.add_argument(
            "--witness", action="store_true",
            help="a cosigner key (cosignature/v1) for witnessing other logs; --name defaults to AUDIT_WITNESS_NAME",
        )

    def handle(self, *args, name, show_configured, witness, **options):
        if witness:
            return self._witness(name, show_configured)
        if show_configured:
            try:
                self.stdout.write(verifier_key_text())
            except LedgerConfigurationError as error:
                raise CommandError(str(error)) from error
            if key_source() == "derived":
                self.stderr.write("Note: no AUDIT_SIGNING_KEY is set; this is the development key derived from SECRET_KEY.")
            return
        try:
            key = generate_signing_key(name or settings.AUDIT_LEDGER_ORIGIN)
        except ValueError as error:
            raise CommandError(f"--name: {error}") from error
        self.stdout.write(f"AUDIT_SIGNING_KEY={key}")
        self.stdout.write(f"# verifier key (public): {key.verifier}")

    def _witness(self, name, show_configured):
        if show_configured:
            try:
                self.stdout.write(str(witness_key().verifier))
            except WitnessConfigurationError as error:
                raise CommandError(str(error)) from error
            return
        try:
            key = generate_signing_key(name or getattr(settings, "AUDIT_WITNESS_NAME", "") or DEFAULT_WITNESS_NAME, ALG_COSIGNATURE_V1)
        except ValueError as error:
            raise CommandError(f"--name: {error}") from error
        self.stdout.write(f"AUDIT_WITNESS_KEY={key}")
        self.stdout.write(f"# cosigner verifier key (public; logs list it in AUDIT_WITNESSES): {key.verifier}")
