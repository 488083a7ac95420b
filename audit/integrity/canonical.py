"""The canonical serialization every audit row is hashed over, and the format of a checkpoint.

Canonical form (chain version 1) — what an outside tool recomputes for each row, in `seq` order:

    document   = {"fields": {<HASHED_FIELDS, normalised>}, "prev_hash": <hex>, "seq": <int>, "version": 1}
    bytes      = UTF-8 of json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                 (a lone surrogate, which only SQLite-stored JSON can hold, is encoded "surrogatepass")
    entry_hash = lowercase hex SHA-256 of bytes

The first row (seq 1) has prev_hash = GENESIS_HASH (64 zeros); every later row's prev_hash is the
entry_hash of the row with seq - 1. `seq` is gap-free and unique, so a missing row is visible.
Field normalisation (`canonical_fields`): text as is (null stays null); integers as integers;
booleans as true/false; foreign keys as the referenced key (UUIDs as lowercase hyphenated strings,
integers as integers); `timestamp` as UTC ISO-8601 with microseconds (`2026-01-31T12:00:00.000000+00:00`);
`remote_addr` as dotted IPv4 or fully expanded lowercase IPv6; JSON columns as their decoded JSON value,
with every number whose value is integral written as an integer (`1.0` → `1`), because PostgreSQL's
jsonb returns `1e16` as `10000000000000000` and reorders keys — the hash is over the loaded values,
never over database text. The row id is not hashed (the database assigns it after the hash is
computed); the verifier requires ids to increase with `seq`.

Checkpoint: {"chain", "version", "last_id", "seq", "head_hash", "time"} plus "signature" = lowercase
hex HMAC-SHA256 under settings.AUDIT_SIGNING_KEY (UTF-8) of the canonical JSON of the other keys.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
import uuid
from datetime import datetime
from datetime import timezone as dt_timezone
from decimal import Decimal

from django.utils import timezone

CHAIN_NAME = "commandcentral.audit"
CHAIN_VERSION = 1
GENESIS_HASH = "0" * 64

# Every column of AuditEntry that carries meaning, with how it is normalised before hashing.
# Not hashed: id (assigned after hashing) and the chain columns themselves (seq/prev_hash are in the
# document; entry_hash is the result).
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
CHAIN_FIELDS = ("id", "seq", "prev_hash", "entry_hash")


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


def canonical_bytes(fields: dict, *, seq: int, prev_hash: str) -> bytes:
    return canonical_json({"fields": fields, "prev_hash": prev_hash, "seq": seq, "version": CHAIN_VERSION})


def entry_hash_of(values, *, seq: int, prev_hash: str) -> str:
    """entry_hash of a row with this content at this position of the chain."""
    return hashlib.sha256(canonical_bytes(canonical_fields(values), seq=seq, prev_hash=prev_hash)).hexdigest()
