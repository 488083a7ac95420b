"""The canonical bytes of an audit row: what its ledger leaf hashes (leaf hash = SHA-256(0x00 ‖ bytes)).

Canonical form, version 2 — what an outside tool recomputes for a row (the proof API serves these
bytes base64-encoded beside the leaf hash, so a reader can also just compare):

    document = {"fields": {<HASHED_FIELDS, normalised>}, "id": <row id>, "version": 2}
    bytes    = UTF-8 of json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
               (a lone surrogate, which only SQLite-stored JSON can hold, is encoded "surrogatepass")

The row id is part of the leaf, so a row moved to another id, or another row put in its place, no
longer matches its leaf. Field normalisation (`canonical_fields`): text as is (null stays null);
integers as integers; booleans as true/false; foreign keys as the referenced key (UUIDs as lowercase
hyphenated strings, integers as integers); `timestamp` as UTC ISO-8601 with microseconds
(`2026-01-31T12:00:00.000000+00:00`); `remote_addr` as dotted IPv4 or fully expanded lowercase IPv6;
JSON columns as their decoded JSON value, with every number whose value is integral written as an
integer (`1.0` → `1`), because PostgreSQL's jsonb returns `1e16` as `10000000000000000` and reorders
keys — the hash is over the loaded values, never over database text.

Version 1 (the hash chain the ledger replaced) hashed {"fields", "prev_hash", "seq", "version": 1}; its
rows became leaves in `seq` order with this form (migration audit 0009).
"""

from __future__ import annotations

import ipaddress
import json
import math
import uuid
from datetime import datetime
from datetime import timezone as dt_timezone
from decimal import Decimal

from django.utils import timezone

CANONICAL_VERSION = 2

# Every column of AuditEntry that carries meaning, with how it is normalised before hashing.
# The id is in the document beside them.
HASHED_FIELDS: dict[str, str] = {
    "action": "int",
    "actor_email": "text",
    "actor_id": "key",
    "actor_type": "text",
    "additional_data": "json",
    "changes": "json",
    "changes_text": "text",
    "cid": "text",
    "content_type_id": "key",
    "entity_id": "text",
    "entity_type": "text",
    "event_name": "text",
    "event_type": "text",
    "extra": "json",
    "failure_reason": "text",
    "from_state": "text",
    "object_id": "int",
    "object_pk": "text",
    "object_repr": "text",
    "project_id": "key",
    "rationale": "text",
    "remote_addr": "ip",
    "remote_port": "int",
    "serialized_data": "json",
    "success": "bool",
    "timestamp": "datetime",
    "to_state": "text",
    "transition": "text",
}


def _json_value(value):
    """Plain JSON types with integral numbers as ints: stable across a jsonb round trip."""
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    if isinstance(value, float) and math.isfinite(value):
        exact = Decimal(repr(value))
        if exact == exact.to_integral_value():
            return int(exact)
    return value


def _normalise(kind: str, value):
    if value is None:
        return None
    if kind == "text":
        return str(value)
    if kind == "int":
        return int(value)
    if kind == "bool":
        return bool(value)
    if kind == "key":
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, int):
            return value
        text = str(value)
        try:
            return str(uuid.UUID(text))
        except ValueError:
            return int(text) if text.isdigit() else text
    if kind == "datetime":
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if timezone.is_naive(value):
            value = timezone.make_aware(value, dt_timezone.utc)
        return value.astimezone(dt_timezone.utc).isoformat(timespec="microseconds")
    if kind == "ip":
        try:
            address = ipaddress.ip_address(str(value))
        except ValueError:
            return str(value)
        return address.exploded if address.version == 6 else str(address)
    if kind == "json":
        # The same round trip the database does (tuples → lists, keys → strings), then numbers.
        return _json_value(json.loads(json.dumps(value)))
    raise ValueError(f"unknown field kind {kind!r}")


def canonical_fields(values) -> dict:
    """The hashed content of one row; `values` maps attribute names to Python values (instance or .values())."""
    getter = values.get if isinstance(values, dict) else (lambda name: getattr(values, name))
    return {name: _normalise(kind, getter(name)) for name, kind in HASHED_FIELDS.items()}


def canonical_json(document: dict) -> bytes:
    # surrogatepass: a lone surrogate can only exist inside SQLite-stored JSON; hash it rather than fail the write.
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def canonical_bytes(values) -> bytes:
    """The canonical bytes of a row; `values` is an instance or a .values() dict holding `id` and HASHED_FIELDS."""
    row_id = values.get("id") if isinstance(values, dict) else values.pk
    return canonical_json({"fields": canonical_fields(values), "id": int(row_id), "version": CANONICAL_VERSION})
