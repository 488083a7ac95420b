"""Streaming serialisation of the audit trail: CSV and JSON Lines, in constant memory.

Shared by the `export_audit` command and the API's `GET /api/v1/events/export/`:

    from audit.export import EXPORT_COLUMNS, audit_rows_csv, audit_rows_jsonl, CONTENT_TYPES

    rows = AuditEntryFilter(params, queryset=AuditEntry.objects.visible_to(user)).qs
    response = StreamingHttpResponse(audit_rows_csv(rows), content_type=CONTENT_TYPES["csv"])

Both generators yield `str` chunks (a few hundred rows each), read the queryset with
`.values(...).iterator(chunk_size=...)` so no model instances and no full result set are held, and
write rows oldest first (ascending id) whatever the queryset's ordering. The caller decides which
rows: visibility and filters are applied to the queryset before it is passed in.
"""

import base64
import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from django.db.models import F

# The fixed export schema, in column order. Changing it changes every consumer's files: append only.
EXPORT_COLUMNS = (
    "id",
    "timestamp",
    "event_type",
    "event_name",
    "success",
    "actor_id",
    "actor_email",
    "actor_type",
    "entity_type",
    "entity_id",
    "project_id",
    "transition",
    "from_state",
    "to_state",
    "rationale",
    "failure_reason",
    "cid",
    "remote_addr",
    "object_repr",
    "changes",
    "extra",
    # The row's place in the ledger (empty until sealed) and its leaf hash (base64): an exported row
    # can be matched with its inclusion proof. They replace the hash chain's seq/prev_hash/entry_hash.
    "leaf_index",
    "leaf_hash",
)
# Columns read through the row's ledger leaf.
LEDGER_COLUMNS = {"leaf_index": "ledger_leaf__leaf_index", "leaf_hash": "ledger_leaf__leaf_hash"}
# JSON-valued columns: nested objects in JSONL, JSON text in a CSV cell.
JSON_COLUMNS = frozenset({"changes", "extra"})

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
FORMATS = tuple(CONTENT_TYPES)

DEFAULT_CHUNK_SIZE = 2000
# Rows per yielded chunk: big enough that the per-chunk overhead vanishes, small enough to stream.
ROWS_PER_CHUNK = 500

Progress = Callable[[int], None]


def audit_records(queryset, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[dict]:
    """One plain dict per row (EXPORT_COLUMNS keys, JSON-ready values), oldest first, streamed."""
    own = [column for column in EXPORT_COLUMNS if column not in LEDGER_COLUMNS]
    ledger = {column: F(lookup) for column, lookup in LEDGER_COLUMNS.items()}
    rows = queryset.order_by("id").values(*own, **ledger).iterator(chunk_size=chunk_size)
    for row in rows:
        yield {column: _json_ready(row[column]) for column in EXPORT_COLUMNS}


def audit_rows_csv(
    queryset, *, chunk_size: int = DEFAULT_CHUNK_SIZE, progress: Progress | None = None, spreadsheet_safe: bool = True
) -> Iterator[str]:
    """CSV text: a header line with EXPORT_COLUMNS, then one line per row (RFC 4180 quoting, CRLF).

    Empty cells are None; booleans are `true`/`false`; `changes`/`extra` hold compact JSON.
    Cells starting with = + - @ (tab, CR) get a leading quote (`formula_safe`) so a spreadsheet never
    runs them as formulas (CSV injection); `spreadsheet_safe=False` is for callers that must match the
    database byte for byte — JSON Lines is the raw machine format.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    yield _drain(buffer)
    records = audit_records(queryset, chunk_size=chunk_size)
    for batch in _batches(records, progress):
        for record in batch:
            writer.writerow([_csv_cell(record[column], column, spreadsheet_safe) for column in EXPORT_COLUMNS])
        yield _drain(buffer)


def audit_rows_jsonl(queryset, *, chunk_size: int = DEFAULT_CHUNK_SIZE, progress: Progress | None = None) -> Iterator[str]:
    """JSON Lines: one JSON object per line with the EXPORT_COLUMNS keys; no header line."""
    records = audit_records(queryset, chunk_size=chunk_size)
    for batch in _batches(records, progress):
        yield "".join(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n" for record in batch)


def audit_rows(queryset, export_format: str, **options) -> Iterator[str]:
    """`audit_rows_csv` or `audit_rows_jsonl` by name ("csv" / "jsonl")."""
    if export_format == "csv":
        return audit_rows_csv(queryset, **options)
    if export_format == "jsonl":
        return audit_rows_jsonl(queryset, **options)
    raise ValueError(f"Unknown export format {export_format!r}; expected one of {', '.join(FORMATS)}.")


def _batches(records: Iterable[dict], progress: Progress | None) -> Iterator[list[dict]]:
    """Group records by ROWS_PER_CHUNK; `progress(rows written so far)` after each group is consumed."""
    written, batch = 0, []
    for record in records:
        batch.append(record)
        if len(batch) == ROWS_PER_CHUNK:
            yield batch
            written += len(batch)
            batch = []
            if progress:
                progress(written)
    if batch:
        yield batch
        written += len(batch)
        if progress:
            progress(written)


def _json_ready(value):
    if isinstance(value, datetime):
        # Full precision (microseconds, offset): the export must compare equal to the stored value.
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool, dict, list)):
        return value
    if isinstance(value, (bytes, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")  # the leaf hash
    return str(value)  # UUIDs of the foreign keys


# A cell starting with one of these is a formula to a spreadsheet (CSV injection, OWASP).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(text: str) -> str:
    """The cell as a spreadsheet shows it as text: a leading quote when it would start a formula."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _csv_cell(value, column: str, spreadsheet_safe: bool) -> str:
    if value is None:
        return ""
    if column in JSON_COLUMNS:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return formula_safe(text) if spreadsheet_safe else text


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
