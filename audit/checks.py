"""System checks for the ledger's signing key, the signer's record and the witnesses (`manage.py check`, and
`check --deploy`)."""

from django.core import checks

from .ledger.checkpoints import LedgerConfigurationError, key_source, signing_key


@checks.register("audit")
def signing_key_configured(app_configs=None, **kwargs):
    try:
        signing_key()
    except LedgerConfigurationError as error:
        return [checks.Error(str(error), id="audit.E001")]
    return []


@checks.register("audit", deploy=True)
def signing_key_not_derived(app_configs=None, **kwargs):
    if key_source() != "derived":
        return []
    return [checks.Warning(
        "AUDIT_SIGNING_KEY is not set: checkpoints are signed with a development key derived from SECRET_KEY.",
        hint="Run `manage.py audit_keygen`, put the private key in AUDIT_SIGNING_KEY (or a file named by "
        "AUDIT_SIGNING_KEY_FILE) and publish the verifier key.",
        id="audit.W001",
    )]


@checks.register("audit")
def witnesses_configured(app_configs=None, **kwargs):
    from .ledger.witnessing import WitnessConfigurationError, configured_witnesses, witness_key, witnessed_logs

    try:
        configured_witnesses()
        witnessed_logs()
        witness_key()
    except WitnessConfigurationError as error:
        return [checks.Error(str(error), id="audit.E002")]
    return []


@checks.register("audit", deploy=True)
def signer_state_placed(app_configs=None, **kwargs):
    from django.conf import settings

    from .ledger.signer import state_path

    if getattr(settings, "AUDIT_SIGNER_STATE", "") or getattr(settings, "AUDIT_SIGNING_KEY_FILE", ""):
        return []
    return [checks.Warning(
        f"AUDIT_SIGNER_STATE is not set: the signer keeps its record of the last signed tree in {state_path()}.",
        hint="Keep it next to the signing key, on the host that signs and outside the database's reach "
        "(AUDIT_SIGNER_STATE=/path/to/audit-signer.state, or AUDIT_SIGNING_KEY_FILE and its .state beside it).",
        id="audit.W004",
    )]


# The append-only tables (migrations 0002, 0010 and 0012); the queue is the sequencer's work list.
APPEND_ONLY_MODELS = ("AuditEntry", "LedgerLeaf", "LedgerNode", "LedgerCheckpoint", "LedgerCosignature", "WitnessedCheckpoint")


@checks.register("audit", checks.Tags.database, deploy=True)
def database_role_cannot_bypass_the_triggers(app_configs=None, databases=None, **kwargs):
    """PostgreSQL: the append-only triggers bind every role except those that may drop or disable them,
    i.e. a superuser or the tables' owner. Warn when the application connects as either."""
    from django.apps import apps
    from django.db import DatabaseError, connections

    tables = [apps.get_model("audit", name)._meta.db_table for name in APPEND_ONLY_MODELS]
    warnings = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor != "postgresql":
            continue
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                superuser = bool((cursor.fetchone() or (False,))[0])
                cursor.execute("SELECT tablename FROM pg_tables WHERE tablename = ANY(%s) AND tableowner = current_user",
                               [tables])
                owned = sorted(name for (name,) in cursor.fetchall())
        except DatabaseError as error:
            warnings.append(checks.Warning(f"Could not check the database role of {alias!r}: {error}", id="audit.W003"))
            continue
        if superuser or owned:
            what = "is a superuser" if superuser else f"owns {', '.join(owned)}"
            warnings.append(checks.Warning(
                f"The database role of {alias!r} {what}: it can disable the audit tables' append-only triggers.",
                hint="Run migrations as the owner, and the application as a role with INSERT/SELECT only on the "
                "audit tables (docs/audit.md, 'A restricted role for the application').",
                id="audit.W002",
            ))
    return warnings
