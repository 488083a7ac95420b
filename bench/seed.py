"""Seeding for the benchmark: the domain through the services, audit volume through a bulk path.

    DATABASE_URL=... SECRET_KEY=... python -m bench.seed base  --state STATE.json [--projects 1000]
    DATABASE_URL=... SECRET_KEY=... python -m bench.seed audit --state STATE.json --rows 100000

`base` migrates the (throwaway) database and creates, through the ordinary audited code paths, a
bench user, nine other actors and `--projects` projects owned by the bench user, half of them
activated with perform_transition. It writes STATE.json (credentials, project ids) for bench.run.

`audit` tops the audit trail up to `--rows` rows in total and seals them into the ledger. THIS IS THE
ONLY PLACE IN THE PROJECT THAT WRITES AUDIT ROWS WITHOUT AuditEntry.save(): 1,000,000 rows one by one
through save() (auditlog diff, one transaction and one fsync per row, a seal after each commit) would
take hours. What save() guarantees still holds for every seeded row: it is inserted together with its
`audit_ledgerqueue` row (entry_id, enqueued_at) in the same transaction, as save() does, and the rows
are then sealed by the real sequencer (audit.ledger.sequencer.seal_pending, the code `manage.py
audit_seal` runs), which reads them back, hashes their canonical bytes and appends leaves and subtree
hashes; so `manage.py verify_audit` accepts the seeded trail. The rows go in with INSERT ... RETURNING
id (values prepared by the model fields themselves; psycopg's pipelined executemany on PostgreSQL,
multi-row statements on SQLite), the queue rows with executemany: AuditEntryQuerySet.bulk_create
keeps refusing everyone else, and nothing here is imported by the application. The JSON result
reports the insert and the sealing rates (rows/s) apart.
"""

import argparse
import json
import os
import random
import sys
import time
import uuid
from datetime import timedelta

BENCH_EMAIL = "bench@example.com"
BENCH_PASSWORD = "bench-password-Xq7!v2"
OTHER_ACTORS = 9
BATCH_ROWS = 5000  # rows (and queue rows) per transaction
INSERT_ROWS = 500  # rows per INSERT statement

# The mix of seeded rows: what a busy trail of project activity looks like.
ROW_KINDS = (
    # (weight, event_type, event_name, action, success, transition, from_state, to_state)
    (30, "entity_updated", "project.updated", 1, True, "", "", ""),
    (25, "transition_success", "project.pause", 1, True, "pause", "active", "paused"),
    (25, "transition_success", "project.resume", 1, True, "resume", "paused", "active"),
    (8, "transition_denied", "project.complete", 1, False, "complete", "paused", "completed"),
    (6, "permission_denied", "project.kill", 1, False, "kill", "active", "killed"),
    (6, "entity_created", "project.created", 0, True, "", "", ""),
)


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commandcentral.settings")
    import django

    django.setup()


def seed_base(*, projects: int, state_path: str) -> dict:
    """Users and projects through the services; returns (and writes) what the load generator needs."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)

    from core.recording import audited_write
    from accounts.models import User
    from core.transitions import perform_transition
    from projects.models import Project, ProjectState
    from projects.services import project_create

    started = time.perf_counter()
    with audited_write(None):
        bench = User.objects.create_user(BENCH_EMAIL, BENCH_PASSWORD, name="Bench")
    actors = [bench.pk]
    for n in range(OTHER_ACTORS):
        with audited_write(None):
            actors.append(User.objects.create_user(f"actor{n}@example.com", BENCH_PASSWORD, name=f"Actor {n}").pk)
    for n in range(projects):
        project = project_create(actor=bench, name=f"Bench project {n:04d}", description="Seeded by bench.seed")
        if n % 2 == 0:
            perform_transition(project, "activate", actor=bench, rationale="bench seed")
    active = [str(pk) for pk in Project.objects.filter(state=ProjectState.ACTIVE).order_by("slug").values_list("pk", flat=True)]
    every = [str(pk) for pk in Project.objects.order_by("slug").values_list("pk", flat=True)]
    state = {
        "email": BENCH_EMAIL,
        "password": BENCH_PASSWORD,
        "bench_user": str(bench.pk),
        "actors": [str(pk) for pk in actors],
        "projects": every,
        "active_projects": active,
        "seed_seconds": round(time.perf_counter() - started, 1),
    }
    with open(state_path, "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    return state


def _row_values(rng, *, kinds, weights, projects, actors, emails, content_type_id, when):
    """Python values of one seeded row, keyed by attribute name (what .values() would load back)."""
    event_type, event_name, action, success, transition, from_state, to_state = rng.choices(kinds, weights)[0]
    project_id = rng.choice(projects)
    actor_id = rng.choice(actors)
    changes = {"state": [from_state, to_state]} if transition else {"description": ["old", "new"]}
    return {
        "action": action,
        "actor_email": emails[actor_id],
        "actor_id": actor_id,
        "actor_type": "user",
        "additional_data": {"project_id": str(project_id)},
        "changes": changes if success else None,
        "changes_text": "",
        "cid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "content_type_id": content_type_id,
        "entity_id": str(project_id),
        "entity_type": "project",
        "event_name": event_name,
        "event_type": event_type,
        "extra": {"seeded": True} if success else {"reason": "state", "seeded": True},
        "failure_reason": "" if success else "Seeded refusal.",
        "from_state": from_state,
        "object_id": None,
        "object_pk": str(project_id),
        "object_repr": "Bench project",
        "project_id": project_id,
        "rationale": "bench" if transition else "",
        "remote_addr": "127.0.0.1",
        "remote_port": None,
        "serialized_data": None,
        "success": success,
        "timestamp": when,
        "to_state": to_state,
        "transition": transition,
    }


def _preparer(field, connection):
    """The field's own conversion to a database value, skipped for types the driver takes as they are."""
    from django.db import models

    if isinstance(field, (models.CharField, models.TextField, models.IntegerField, models.BooleanField)) and not isinstance(
        field, (models.GenericIPAddressField, models.UUIDField)
    ):
        return lambda value: value
    return lambda value: field.get_db_prep_save(value, connection)


def _insert_sql(connection, table: str, columns, rows: int) -> str:
    names = ", ".join(connection.ops.quote_name(field.column) for field in columns)
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    return f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * rows)} RETURNING {connection.ops.quote_name('id')}"


def seed_audit(*, rows: int, state_path: str, seal_batch: int | None = None) -> dict:
    """Insert rows (with their queue rows) until the trail holds `rows`, then seal them with the real
    sequencer. Seeding only: see the module docstring."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import User
    from audit.ledger import sequencer
    from audit.models import AuditEntry, LedgerQueue
    from projects.models import Project

    seal_batch = seal_batch or sequencer.DEFAULT_BATCH
    with open(state_path, encoding="utf-8") as handle:
        state = json.load(handle)
    existing = AuditEntry._base_manager.count()
    wanted = max(rows - existing, 0)
    rng = random.Random(existing)
    projects = [uuid.UUID(pk) for pk in state["projects"]]
    actors = [uuid.UUID(pk) for pk in state["actors"]]
    emails = dict(User.objects.filter(pk__in=actors).values_list("pk", "email"))
    content_type_id = ContentType.objects.get_for_model(Project).pk
    kinds = [kind[1:] for kind in ROW_KINDS]
    weights = [kind[0] for kind in ROW_KINDS]
    # Seeded rows lie in the past, one second apart, ending just before now: timestamps keep
    # increasing with id, as they do in a real trail.
    start = timezone.now() - timedelta(seconds=wanted + 60)
    columns = [f for f in AuditEntry._meta.concrete_fields if f.name != "id"]
    prepare = [_preparer(field, connection) for field in columns]
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    # Rows per INSERT statement: within SQLite's 32,766 and PostgreSQL's 65,535 bound parameters.
    per_statement = max(1, min(INSERT_ROWS, 30_000 // len(columns)))
    enqueued_field = LedgerQueue._meta.get_field("enqueued_at")
    queue_insert = (f"INSERT INTO {connection.ops.quote_name(LedgerQueue._meta.db_table)} "
                    f"({connection.ops.quote_name('entry_id')}, {connection.ops.quote_name(enqueued_field.column)}) "
                    "VALUES (%s, %s)")
    started = time.perf_counter()
    added = 0
    while added < wanted:
        size = min(BATCH_ROWS, wanted - added)
        batch = [[prep(values[field.attname]) for field, prep in zip(columns, prepare)]
                 for values in (_row_values(rng, kinds=kinds, weights=weights, projects=projects, actors=actors,
                                            emails=emails, content_type_id=content_type_id,
                                            when=start + timedelta(seconds=added + n)) for n in range(size))]
        with transaction.atomic(), connection.cursor() as cursor:
            ids = []
            if connection.vendor == "postgresql":
                # psycopg's pipelined executemany, with each row's id back: twice the rows/s of
                # multi-row statements, whose ~15,000 placeholders psycopg splits in Python.
                raw = cursor.cursor
                raw.executemany(_insert_sql(connection, table, columns, 1), batch, returning=True)
                while True:
                    ids += [row[0] for row in raw.fetchall()]
                    if not raw.nextset():
                        break
            else:
                for first in range(0, size, per_statement):
                    chunk = batch[first:first + per_statement]
                    cursor.execute(_insert_sql(connection, table, columns, len(chunk)), [value for row in chunk for value in row])
                    ids += [row[0] for row in cursor.fetchall()]
            if len(ids) != size:
                raise RuntimeError(f"seeding: {size} rows inserted, {len(ids)} ids returned")
            # The queue rows commit with the audit rows, exactly as AuditEntry.save() writes them.
            enqueued = enqueued_field.get_db_prep_save(timezone.now(), connection)
            cursor.executemany(queue_insert, [(entry_id, enqueued) for entry_id in sorted(ids)])
        added += size
    inserted = time.perf_counter()
    sealed = sequencer.seal_pending(batch_size=seal_batch)
    sealed_at = time.perf_counter()
    insert_seconds, seal_seconds = inserted - started, sealed_at - inserted
    return {
        "rows": existing + added,
        "added": added,
        "seconds": round(sealed_at - started, 1),
        "insert_seconds": round(insert_seconds, 1),
        "insert_rows_per_s": round(added / insert_seconds) if added and insert_seconds else None,
        "sealed": sealed,
        "seal_batch": seal_batch,
        "seal_seconds": round(seal_seconds, 2),
        "seal_rows_per_s": round(sealed / seal_seconds) if sealed and seal_seconds else None,
        "tree_size": sequencer.tree_size(),
    }


def analyze() -> None:
    """PostgreSQL: what autovacuum would do within a minute of a bulk load (VACUUM the ledger queue, ANALYZE).

    Measured right after seeding, the planner still believes the tables are empty (1 visible project)
    and walks every audit row of every project for a filtered page: 0.9 s instead of 0.6 ms at 100,000
    rows. The ledger queue is a work list (every seeded row was inserted into it and deleted by the
    sequencer): until it is vacuumed, the sequencer's "anything pending?" and "oldest first" index
    scans step over every dead entry (a million after a 1M-row seed). SQLite gathers no statistics
    unless asked (ANALYZE / PRAGMA optimize), so it is measured as a deployment would run it: without.
    """
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM audit_ledgerqueue")
            cursor.execute("ANALYZE")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Seed a throwaway benchmark database.")
    parser.add_argument("step", choices=["base", "audit"])
    parser.add_argument("--state", required=True, help="JSON file shared with bench.run")
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=10_000, help="audit rows in total after seeding")
    parser.add_argument("--seal-batch", type=int, default=None,
                        help="rows per sealing transaction (default: the sequencer's, as audit_seal uses)")
    args = parser.parse_args(argv)
    _django()
    if args.step == "base":
        state = seed_base(projects=args.projects, state_path=args.state)
        result = {"projects": len(state["projects"]), "active": len(state["active_projects"]),
                  "seconds": state["seed_seconds"]}
    else:
        result = seed_audit(rows=args.rows, state_path=args.state, seal_batch=args.seal_batch)
    analyze()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
