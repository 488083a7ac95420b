"""Seal what is pending, sign the tree head (if it extends what the signer signed before), store it and print it."""

import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.ledger.checkpoints import LedgerConfigurationError, latest_checkpoint, make_checkpoint
from audit.ledger.sequencer import seal_pending
from audit.ledger.signer import LedgerDiverged, SignerStateError
from audit.ledger.witnessing import WitnessConfigurationError, submit_checkpoint
from audit.models import LedgerCheckpoint


class Command(BaseCommand):
    help = (
        "Seal pending audit rows, sign the ledger's tree head with the Ed25519 key (AUDIT_SIGNING_KEY or "
        "AUDIT_SIGNING_KEY_FILE), store it, submit it to the witnesses (AUDIT_WITNESSES) and print the C2SP signed "
        "note with their cosignatures on stdout. The signer refuses a tree that does not extend the last one it "
        "signed (its record: AUDIT_SIGNER_STATE). Copy the note off this system: `verify_audit --checkpoint FILE` "
        "(or the stand-alone verifier) later proves the trail still extends it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", type=Path, help="also write the note to this file")
        parser.add_argument(
            "--if-grown", action="store_true",
            help="for periodic runs: sign only when the tree has grown since the last stored checkpoint",
        )

    def handle(self, *args, output, if_grown, **options):
        before = LedgerCheckpoint.objects.order_by("-tree_size").values_list("tree_size", flat=True).first()
        seal_pending()
        try:
            head = make_checkpoint()
        except (LedgerConfigurationError, LedgerDiverged, SignerStateError) as error:
            raise CommandError(str(error)) from error
        try:
            for witness, outcome in submit_checkpoint(head.tree_size, head.note).items():
                if outcome not in ("cosigned", "cosigned already"):
                    self.stderr.write(f"audit_checkpoint: witness {witness}: {outcome}")
        except WitnessConfigurationError as error:
            self.stderr.write(f"audit_checkpoint: {error}")
        head = latest_checkpoint() or head
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
