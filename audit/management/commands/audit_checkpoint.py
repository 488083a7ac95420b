"""Seal what is pending, sign the tree head, store it (append-only) and print the signed note."""

import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.ledger.checkpoints import LedgerConfigurationError, current_checkpoint
from audit.models import LedgerCheckpoint


class Command(BaseCommand):
    help = (
        "Seal pending audit rows, sign the ledger's tree head with the Ed25519 key (AUDIT_SIGNING_KEY or "
        "AUDIT_SIGNING_KEY_FILE), store it and print the C2SP signed note on stdout. Copy it off this system: "
        "`verify_audit --checkpoint FILE` (or the stand-alone verifier) later proves the trail still extends it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", type=Path, help="also write the note to this file")
        parser.add_argument(
            "--if-grown", action="store_true",
            help="for periodic runs: sign only when the tree has grown since the last stored checkpoint",
        )

    def handle(self, *args, output, if_grown, **options):
        before = LedgerCheckpoint.objects.order_by("-tree_size").values_list("tree_size", flat=True).first()
        try:
            head = current_checkpoint()
        except LedgerConfigurationError as error:
            raise CommandError(str(error)) from error
        if if_grown and before is not None and head.tree_size == before:
            if options["verbosity"] > 1:
                self.stderr.write(f"audit_checkpoint: tree size {head.tree_size} unchanged; nothing signed.")
            return
        if output is not None:
            _write_atomically(output, head.note)
        self.stdout.write(head.note, ending="")


def _write_atomically(path: Path, text: str) -> None:
    """A cron job reading the file never sees half a note."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise CommandError(f"cannot write {path}: {error.strerror}") from error
