"""Sign the current head of the audit hash chain; keep the output somewhere the database's admins can't write."""

import json
import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit import integrity
from audit.models import AuditCheckpoint


class Command(BaseCommand):
    help = (
        "Print (or write with --output) a JSON checkpoint {chain, version, last_id, seq, head_hash, time, signature} "
        "signed with HMAC-SHA256 under AUDIT_SIGNING_KEY, after verifying the chain since the last checkpoint. "
        "Copy the file off this system; `verify_audit --checkpoint FILE` later proves the trail still extends it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", type=Path, help="write the checkpoint to this file (default: stdout)")
        parser.add_argument(
            "--full", action="store_true",
            help="verify the whole chain first instead of the tail since the last stored checkpoint "
            "(use for the first checkpoint of a large trail and after rotating AUDIT_SIGNING_KEY)",
        )
        parser.add_argument("--no-store", action="store_true", help="do not record the checkpoint in the database")

    def handle(self, *args, output, full, no_store, **options):
        try:
            key = integrity.signing_key()
            # Sign first, verify after: the walk then reaches at least the head being vouched for.
            document = integrity.make_checkpoint()
        except integrity.ChainConfigurationError as error:
            raise CommandError(str(error)) from error
        report = integrity.verify_chain() if full else integrity.chain_status()
        failure = report.failure or integrity.check_checkpoint(document, key)
        if failure is not None:
            hint = "" if full else " (after rotating AUDIT_SIGNING_KEY, run with --full)"
            raise CommandError(
                f"refusing to sign a broken chain ({failure.kind}) at row #{failure.row_id}: {failure.message}{hint}"
            )
        if not no_store:
            AuditCheckpoint.objects.create(
                last_id=document["last_id"], seq=document["seq"], head_hash=document["head_hash"],
                signature=document["signature"], document=integrity.canonical_json(document).decode("utf-8"),
            )
        text = json.dumps(document, indent=2, sort_keys=True) + "\n"
        if output is None:
            self.stdout.write(text, ending="")
            return
        _write_atomically(output, text)
        self.stdout.write(f"Checkpoint of seq {document['seq']} (row #{document['last_id']}) written to {output}.")


def _write_atomically(path: Path, text: str) -> None:
    """A cron job reading the file never sees half a checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise CommandError(f"cannot write {path}: {error.strerror}") from error
