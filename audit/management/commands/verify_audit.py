"""Recompute every ledger leaf from its row, check the stored tree and checkpoints, and optionally prove
that today's tree extends a signed checkpoint kept elsewhere."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.ledger.checkpoints import LedgerConfigurationError, signing_key
from audit.ledger.sequencer import seal_pending
from audit.ledger.verification import verify_ledger
from audit.ledger.verifier import VerificationError, parse_verifier_key, verify_checkpoint

# Below this many leaves a walk takes well under a second and progress lines would only be noise.
PROGRESS_THRESHOLD = 50_000


class Command(BaseCommand):
    help = (
        "Seal pending rows, then recompute every leaf from its audit row (constant memory), check the stored "
        "subtrees and every stored checkpoint, and report the first break and its kind (changed_content, "
        "missing_row, leaf_without_row, unqueued_row, tree_mismatch, checkpoint_mismatch, diverged: the tree does "
        "not extend the last tree the signer signed, by its record AUDIT_SIGNER_STATE). With --checkpoint "
        "FILE, also check that signed note with the public key and the consistency from it to today's tree. "
        "Exits non-zero on a break."
    )

    def add_arguments(self, parser):
        parser.add_argument("--checkpoint", type=Path, help="a signed note (from audit_checkpoint or ledger/checkpoint/)")
        parser.add_argument("--key", type=Path, help="verifier key file for --checkpoint (default: the configured key's)")
        parser.add_argument("--batch-size", type=int, default=1000, help="leaves fetched per database round trip")
        parser.add_argument("--progress", action="store_true", help="report progress on stderr even for short trails")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the report as JSON")

    def handle(self, *args, checkpoint, key, batch_size, progress, as_json, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be positive")
        given = self._checkpoint(checkpoint, key) if checkpoint else None
        seal_pending()  # a command at a shell: rows committed moments ago are checked too
        try:
            report = verify_ledger(batch_size=batch_size, checkpoint=given,
                                   progress=self._progress_reporter(progress, options["verbosity"]))
        except LedgerConfigurationError as error:
            raise CommandError(str(error)) from error
        if given is not None:
            report.checkpoint = {"origin": given.origin, "tree_size": given.size}
        self._print(report, as_json)
        if not report.ok:
            failure = report.failure
            where = f" at row #{failure.row_id}" if failure.row_id is not None else ""
            raise CommandError(f"audit ledger broken ({failure.kind}){where}: {failure.message}")

    def _checkpoint(self, path: Path, key_path: Path | None):
        try:
            note = path.read_text(encoding="utf-8")
            verifier = parse_verifier_key(key_path.read_text(encoding="utf-8")) if key_path else signing_key().verifier
            return verify_checkpoint(note, verifier)
        except OSError as error:
            raise CommandError(f"cannot read {error.filename}: {error.strerror}") from error
        except (VerificationError, LedgerConfigurationError) as error:
            raise CommandError(f"{path}: {error}") from error

    def _progress_reporter(self, forced: bool, verbosity: int):
        if verbosity == 0:
            return None
        state = {"next": 1 if forced else PROGRESS_THRESHOLD}

        def report(progress):
            if progress.leaves_checked >= state["next"]:
                self.stderr.write(f"verify_audit: {progress.leaves_checked}/{progress.tree_size} leaves checked")
                state["next"] = progress.leaves_checked + (1 if forced else PROGRESS_THRESHOLD)

        return report

    def _print(self, report, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(report.as_dict(), indent=2, sort_keys=True))
            return
        if report.ok:
            self.stdout.write(
                f"OK: {report.leaves_checked} leaves recomputed from their rows; tree size {report.tree_size}, "
                f"root {report.root_hash}; {report.checkpoints_checked} checkpoint(s) hold."
            )
            if report.checkpoint:
                self.stdout.write(f"Today's tree extends the given checkpoint of size {report.checkpoint['tree_size']}.")
        else:
            failure = report.failure
            where = f" at row #{failure.row_id}" if failure.row_id is not None else ""
            where += f" (leaf {failure.leaf_index})" if failure.leaf_index is not None else ""
            self.stdout.write(f"BROKEN: {failure.kind}{where}: {failure.message}\n{report.leaves_checked} leaves verified before the break.")
        for note in report.notes:
            self.stdout.write(f"Note: {note}")
