"""Recompute the audit hash chain and (optionally) prove it still extends a signed checkpoint."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit import integrity

# Below this many rows a walk takes well under a second and progress lines would only be noise.
PROGRESS_THRESHOLD = 50_000


class Command(BaseCommand):
    help = (
        "Walk the audit hash chain in id order (constant memory) and report rows checked, or the first "
        "row that breaks it and how (changed_content, missing_row, reordered_row, checkpoint_mismatch). "
        "Exits non-zero on a break."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="from_id", type=int, help="start at this row id (linked to the row before it)")
        parser.add_argument(
            "--checkpoint", type=Path, help="a JSON checkpoint from audit_checkpoint: the chain must still extend it "
            "(needs the same AUDIT_SIGNING_KEY)",
        )
        parser.add_argument("--batch-size", type=int, default=1000, help="rows fetched per database round trip")
        parser.add_argument("--progress", action="store_true", help="report progress on stderr even for short chains")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the report as JSON")

    def handle(self, *args, from_id, checkpoint, batch_size, progress, as_json, **options):
        report = integrity.ChainReport()
        document = self._load_checkpoint(checkpoint) if checkpoint else None
        if document is not None:
            report.failure = integrity.check_checkpoint(document, self._key())
        if report.ok:
            anchor = integrity.anchor_before(from_id) if from_id else integrity.Anchor()
            report = integrity.verify_chain(
                anchor=anchor,
                batch_size=batch_size,
                progress=self._progress_reporter(anchor, progress, options["verbosity"]),
                search_window=None,  # an operator at a shell gets the exact diagnosis, however long the trail
            )
            report.scope = "from_id" if from_id else "full"
            if document is not None and from_id and anchor.seq > int(document["seq"]):
                report.notes.append("--from starts after the checkpoint: the rows between were not walked.")
        if document is not None:
            report.checkpoint = {key: document[key] for key in ("last_id", "seq", "head_hash", "time")}
        self._print(report, as_json)
        if not report.ok:
            failure = report.failure
            where = f" at row #{failure.row_id}" if failure.row_id is not None else ""
            raise CommandError(f"audit chain broken ({failure.kind}){where}: {failure.message}")

    def _key(self) -> bytes:
        try:
            return integrity.signing_key()
        except integrity.ChainConfigurationError as error:
            raise CommandError(str(error)) from error

    def _load_checkpoint(self, path: Path) -> dict:
        try:
            return integrity.parse_checkpoint(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise CommandError(f"cannot read checkpoint {path}: {error.strerror}") from error
        except integrity.ChainConfigurationError as error:
            raise CommandError(f"{path}: {error}") from error

    def _progress_reporter(self, anchor, forced: bool, verbosity: int):
        total = integrity.chain_head()[0] - anchor.seq
        if verbosity == 0 or not (forced or total >= PROGRESS_THRESHOLD):
            return None
        every = max(PROGRESS_THRESHOLD // 5, 1) if not forced else 1
        state = {"next": every}

        def report(progress):
            if progress.rows_checked >= state["next"]:
                self.stderr.write(f"verify_audit: {progress.rows_checked}/{total} rows checked (last id {progress.last_id})")
                state["next"] = progress.rows_checked + every

        return report

    def _print(self, report, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(report.as_dict(), indent=2, sort_keys=True))
            return
        if report.ok:
            span = f"ids {report.first_id}..{report.last_id}" if report.rows_checked else "no rows"
            self.stdout.write(
                f"OK: {report.rows_checked} rows checked ({span}); head seq {report.head_seq}, hash {report.head_hash}"
            )
            if report.checkpoint:
                self.stdout.write(f"The chain extends the checkpoint of {report.checkpoint['time']} (seq {report.checkpoint['seq']}).")
        else:
            failure = report.failure
            where = f" at row #{failure.row_id} (seq {failure.seq})" if failure.row_id is not None else ""
            self.stdout.write(
                f"BROKEN: {failure.kind}{where}: {failure.message}\n"
                f"{report.rows_checked} rows verified before the break."
            )
        for note in report.notes:
            self.stdout.write(f"Note: {note}")
