"""Export the audit trail (or a filtered slice of it) as CSV or JSON Lines, streamed in constant memory."""

import os
import uuid

from django.core.management.base import BaseCommand, CommandError
from django.http import QueryDict

from audit.export import DEFAULT_CHUNK_SIZE, FORMATS, audit_rows
from audit.filters import AuditEntryFilter
from audit.models import AuditEntry, AuditEventType

# Below this many rows an export is quick enough that progress lines would only be noise.
PROGRESS_THRESHOLD = 10_000


class Command(BaseCommand):
    help = (
        "Export audit rows oldest first as CSV (header + rows) or JSONL (one object per line), to a file or "
        "stdout. Filters combine; --since is inclusive and --until exclusive (ISO 8601, UTC when no offset)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", dest="export_format", choices=FORMATS, default="csv")
        parser.add_argument("--project", help="project UUID or slug (its own rows, its decisions' and its team's)")
        parser.add_argument("--since", help="from this date or datetime, inclusive, e.g. 2026-01-01 or 2026-01-01T08:00:00Z")
        parser.add_argument("--until", help="up to this date or datetime, exclusive")
        parser.add_argument(
            "--event-type", action="append", dest="event_types", choices=AuditEventType.values, metavar="TYPE",
            help=f"repeatable; one of {', '.join(AuditEventType.values)}",
        )
        parser.add_argument("--output", "-o", default="-", help="file to write (default: stdout)")
        parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, help="rows fetched per database round trip")
        parser.add_argument("--progress", action="store_true", help="report progress on stderr even for small exports")

    def handle(self, *args, export_format, project, since, until, event_types, output, chunk_size, progress, **options):
        rows = self._filtered(project=project, since=since, until=until, event_types=event_types or [])
        total = rows.count()
        show_progress = (progress or total >= PROGRESS_THRESHOLD) and options["verbosity"] > 0
        written = Tally(total, self.stderr if show_progress else None)
        chunks = audit_rows(rows, export_format, chunk_size=chunk_size, progress=written)
        if output == "-":
            for chunk in chunks:
                self.stdout.write(chunk, ending="")
        else:
            _write_file(output, chunks)
        if options["verbosity"] > 0:
            where = "stdout" if output == "-" else output
            rows = "audit row" if written.count == 1 else "audit rows"
            self.stderr.write(f"Exported {written.count} {rows} as {export_format} to {where}.")

    def _filtered(self, *, project, since, until, event_types):
        params = QueryDict(mutable=True)
        if project:
            params["project"] = str(_resolve_project(project))
        for name, value in (("since", since), ("until", until)):
            if value:
                params[name] = value
        params.setlist("event_type", event_types)
        # The same FilterSet as the API and the audit page, so a filter means the same everywhere.
        filterset = AuditEntryFilter(params, queryset=AuditEntry.objects.all())
        if not filterset.is_valid():
            problems = "; ".join(f"--{name.replace('_', '-')}: {' '.join(errors)}" for name, errors in filterset.errors.items())
            raise CommandError(problems)
        return filterset.qs


class Tally:
    """The export's progress callback: counts rows written and, given a stream, reports every ~10%."""

    def __init__(self, expected: int, stream=None):
        self.count = 0
        self.expected = expected
        self.stream = stream
        self._step = max(expected // 10, 1)
        self._next_report = self._step

    def __call__(self, written: int) -> None:
        self.count = written
        if self.stream is not None and written >= self._next_report:
            # Rows appended while the export runs can take it past the count taken at the start.
            percent = min(written * 100 // max(self.expected, 1), 100)
            self.stream.write(f"  {written}/{self.expected} rows ({percent}%)")
            self._next_report = (written // self._step + 1) * self._step


def _resolve_project(value: str):
    """A project's UUID from its UUID or slug; soft-deleted projects count (their trail remains)."""
    Project = AuditEntry._meta.get_field("project").related_model  # audit sits below the projects app
    try:
        pk = uuid.UUID(value)
    except ValueError:
        live = Project._base_manager.filter(slug=value, deleted_at__isnull=True).values_list("pk", flat=True).first()
        if live is not None:
            return live
        deleted = list(Project._base_manager.filter(slug=value).values_list("pk", flat=True)[:2])
        if len(deleted) == 1:
            return deleted[0]
        if deleted:
            raise CommandError(f"--project: slug {value!r} names several deleted projects; pass the UUID.")
        raise CommandError(f"--project: no project with id or slug {value!r}.")
    if not Project._base_manager.filter(pk=pk).exists():
        raise CommandError(f"--project: no project with id {value}.")
    return pk


def _write_file(path: str, chunks) -> None:
    """Write to PATH.partial and rename at the end: a failed export never leaves a truncated file behind."""
    partial = f"{path}.partial"
    finished = False
    try:
        with open(partial, "w", encoding="utf-8", newline="") as handle:
            for chunk in chunks:
                handle.write(chunk)
        os.replace(partial, path)
        finished = True
    except OSError as error:
        raise CommandError(f"Cannot write {path}: {error}")
    finally:
        if not finished and os.path.exists(partial):
            os.remove(partial)
