"""The signer's record (the last tree it signed, kept outside the database): inspect it, or start over."""

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from audit.ledger import signer
from audit.ledger.sequencer import fetch_nodes, root_at, seal_pending, tree_size
from audit.ledger.verification import verify_ledger
from audit.ledger.verifier import b64encode
from core.recording import AuditEventType, record_event
from core.commands import command_audit_context, resolve_actor


class Command(BaseCommand):
    help = (
        "show: the signer's record (AUDIT_SIGNER_STATE) and whether the database's tree extends it. "
        "start-over: after a divergence an operator has understood (a database restored from a backup, a "
        "rewrite that was investigated), make the current tree the signer's new starting point so it signs "
        "again. Audited; refused unless the rows, leaves and subtrees agree among themselves. Witnesses still "
        "remember the old tree and will refuse to cosign until their operators act too."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        show = sub.add_parser("show", help="print the record and compare the database's tree with it")
        show.add_argument("--json", action="store_true", dest="as_json")
        over = sub.add_parser("start-over", help="make the current tree the signer's record (audited)")
        over.add_argument("--actor", required=True, help="email of the operator who decided it")
        over.add_argument("--reason", required=True, help="why, for the audit trail")

    def handle(self, *args, action, **options):
        if action == "show":
            return self._show(options["as_json"])
        return self._start_over(options["actor"], options["reason"])

    def _show(self, as_json: bool):
        try:
            record = signer.read_record()
        except signer.SignerStateError as error:
            raise CommandError(str(error)) from error
        size = tree_size()
        root = root_at(size)
        state = {"path": str(signer.state_path()), "record": None, "database": {"tree_size": size, "root_hash": b64encode(root)}}
        if record is not None:
            state["record"] = {"tree_size": record.tree_size, "root_hash": record.root_hash, "signed_at": record.signed_at,
                               "diverged": record.diverged, "diverged_at": record.diverged_at}
            try:
                signer.check_extends(record, size, root, fetch_nodes)
                state["database"]["extends_record"] = True
            except signer.LedgerDiverged as error:
                state["database"]["extends_record"] = False
                state["database"]["why"] = str(error)
        if as_json:
            self.stdout.write(json.dumps(state, indent=2, sort_keys=True))
            return
        self.stdout.write(f"record: {state['path']}")
        if record is None:
            self.stdout.write("  none yet: the next checkpoint starts it (from the newest stored checkpoint, if any)")
        else:
            self.stdout.write(f"  last signed: tree size {record.tree_size}, root {record.root_hash} ({record.signed_at or 'started over'})")
            if record.diverged:
                self.stdout.write(f"  STOPPED since {record.diverged_at}: {signer.DIVERGED}: {record.diverged}")
        self.stdout.write(f"database: tree size {size}, root {b64encode(root)}")
        if record is not None:
            self.stdout.write("  extends the record" if state["database"]["extends_record"] else f"  {state['database']['why']}")

    def _start_over(self, email: str, reason: str):
        actor = resolve_actor(email)
        if not actor.is_staff:
            raise CommandError(f"{email} is not an operator: only operators may restart the signer.")
        if not reason.strip():
            raise CommandError("--reason must say why.")
        seal_pending()
        report = verify_ledger(against_signer=False)
        if not report.ok:
            raise CommandError(
                f"the database's own ledger is broken ({report.failure.kind}: {report.failure.message}); repair or restore it first."
            )
        size, root = tree_size(), root_at(tree_size())
        with signer.exclusive():
            try:
                old = signer.read_record()
            except signer.SignerStateError:
                old = None
            with command_audit_context(actor), transaction.atomic():
                record_event(
                    event_type=AuditEventType.AUDIT_MAINTENANCE, event_name="ledger.signer_restarted", actor=actor,
                    entity_type="ledger", rationale=reason,
                    extra={"previous": None if old is None else {"tree_size": old.tree_size, "root_hash": old.root_hash,
                                                                 "diverged": old.diverged},
                           "new": {"tree_size": size, "root_hash": b64encode(root)}},
                )
            signer.write_record(signer.SignerRecord(tree_size=size, root_hash=b64encode(root), note="", signed_at=""))
        self.stdout.write(
            f"The signer starts over from tree size {size} (root {b64encode(root)}); the next checkpoint extends it. "
            "Tell the witnesses' operators: they still hold the old tree."
        )
