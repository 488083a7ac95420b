"""Seeding for the benchmark: the domain through the services, audit volume through a bulk path.

    DATABASE_URL=... SECRET_KEY=... python -m bench.seed base  --state STATE.json [--projects 1000]
    DATABASE_URL=... SECRET_KEY=... python -m bench.seed audit --state STATE.json --rows 100000

`base` migrates the (throwaway) database and creates, through the ordinary audited code paths, a
bench user, nine other actors and `--projects` projects owned by the bench user, half of them
activated with perform_transition. It writes STATE.json (credentials, project ids) for bench.run.

`audit` tops the audit trail up to `--rows` rows in total. THIS IS THE ONLY PLACE IN THE PROJECT THAT
WRITES AUDIT ROWS WITHOUT AuditEntry.save(): 1,000,000 rows one by one through save() (auditlog diff,
chain head read, one fsync per row on SQLite) would take hours. The rows are still real chain links:
each gets the next `seq`, the previous row's hash as `prev_hash` and `entry_hash` computed by
audit.integrity.entry_hash_of, under the same chain lock (audit.integrity.lock_chain) inside one
transaction per batch, so `manage.py verify_audit` accepts the seeded trail. It is a plain
executemany INSERT with each value prepared by the model field itself: AuditEntryQuerySet.bulk_create keeps
refusing everyone else, and nothing here is imported by the application.
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
BATCH_ROWS = 5000

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

    from commandcentral.core.recording import audited_write
    from accounts.models import User
    from commandcentral.core.transitions import perform_transition
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


def seed_audit(*, rows: int, state_path: str) -> dict:
    """Append chained rows until the trail holds `rows` rows. Seeding only: see the module docstring."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction
    from django.utils import timezone

    from audit import integrity
    from audit.models import AuditEntry
    from accounts.models import User
    from projects.models import Project

    with open(state_path, encoding="utf-8") as handle:
        state = json.load(handle)
    existing = AuditEntry._base_manager.count()
    wanted = rows - existing
    if wanted <= 0:
        return {"rows": existing, "added": 0, "seconds": 0.0}
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
    insert = (f"INSERT INTO {table} ({', '.join(connection.ops.quote_name(f.column) for f in columns)}) "
              f"VALUES ({', '.join(['%s'] * len(columns))})")
    started = time.perf_counter()
    added = 0
    while added < wanted:
        size = min(BATCH_ROWS, wanted - added)
        with transaction.atomic():
            integrity.lock_chain()
            seq, prev_hash = integrity.chain_head()
            batch = []
            for n in range(size):
                values = _row_values(rng, kinds=kinds, weights=weights, projects=projects, actors=actors,
                                     emails=emails, content_type_id=content_type_id,
                                     when=start + timedelta(seconds=added + n))
                seq += 1
                values["seq"], values["prev_hash"] = seq, prev_hash
                values["entry_hash"] = prev_hash = integrity.entry_hash_of(values, seq=seq, prev_hash=prev_hash)
                batch.append([prep(values[field.attname]) for field, prep in zip(columns, prepare)])
            # Rows go in seq order, so ids increase with seq as the verifier requires.
            with connection.cursor() as cursor:
                cursor.executemany(insert, batch)
        added += size
    return {"rows": existing + added, "added": added, "seconds": round(time.perf_counter() - started, 1)}


def analyze() -> None:
    """PostgreSQL: refresh the planner statistics, as autovacuum would within a minute of a bulk load.

    Measured right after seeding, the planner still believes the tables are empty (1 visible project)
    and walks every audit row of every project for a filtered page: 0.9 s instead of 0.6 ms at 100,000
    rows. SQLite gathers no statistics unless asked (ANALYZE / PRAGMA optimize), so it is measured as
    a deployment would run it: without.
    """
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Seed a throwaway benchmark database.")
    parser.add_argument("step", choices=["base", "audit"])
    parser.add_argument("--state", required=True, help="JSON file shared with bench.run")
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=10_000, help="audit rows in total after seeding")
    args = parser.parse_args(argv)
    _django()
    if args.step == "base":
        state = seed_base(projects=args.projects, state_path=args.state)
        result = {"projects": len(state["projects"]), "active": len(state["active_projects"]),
                  "seconds": state["seed_seconds"]}
    else:
        result = seed_audit(rows=args.rows, state_path=args.state)
    analyze()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
