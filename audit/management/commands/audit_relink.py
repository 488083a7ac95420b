"""Re-hash audit rows that were sealed before their request context was filled in (issue 13)."""

from django.core.management.base import BaseCommand, CommandError

from audit import integrity
from commandcentral.management_support import command_audit_context, resolve_actor


class Command(BaseCommand):
    help = (
        "Rows written by web requests before the fix of issue 13 fail their own hash (their remote address, "
        "and sometimes the actor, were set after hashing). This walks the whole chain and, with --apply, "
        "re-hashes from the first such row to the head and appends an audit.relinked row saying how many and "
        "why. Refused when the chain has any other break, or when a stored checkpoint covers an affected row."
    )

    def add_arguments(self, parser):
        parser.add_argument("--apply", action="store_true", help="re-hash (without it: only report what would change)")
        parser.add_argument("--actor", help="email of the operator running this (named on the audit row)")
        parser.add_argument("--batch-size", type=int, default=1000, help="rows fetched per database round trip")

    def handle(self, *args, apply, actor, batch_size, **options):
        if apply:
            operator = resolve_actor(actor) if actor else None
            try:
                # One walk, under the chain lock: relink() plans and re-hashes in the same transaction.
                with command_audit_context(operator):
                    plan, rehashed = integrity.relink(actor=operator, batch_size=batch_size)
            except integrity.ChainConfigurationError as error:
                raise CommandError(f"{error} Nothing was re-hashed.") from error
        else:
            plan, rehashed = integrity.relink_plan(batch_size=batch_size), None
            if plan.failure is not None:
                raise CommandError(
                    f"the chain has another break ({plan.failure.kind}) at row #{plan.failure.row_id}: "
                    f"{plan.failure.message} Nothing was re-hashed."
                )
        if plan.affected == 0:
            self.stdout.write(f"Nothing to re-link: {plan.rows_checked} rows checked, none sealed before its request context.")
            return
        summary = (
            f"{plan.affected} of {plan.rows_checked} rows were sealed before their request context "
            f"(first: row #{plan.first_id}, seq {plan.first_seq})."
        )
        if rehashed is None:
            self.stdout.write(f"{summary} Run with --apply to re-hash from row #{plan.first_id} to the head.")
            return
        self.stdout.write(
            f"{summary} Re-hashed {rehashed} rows from row #{plan.first_id}; an audit.relinked row records it. "
            "Sign a checkpoint now (audit_checkpoint)."
        )
