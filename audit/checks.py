"""System checks for the ledger's signing key (`manage.py check`, and `check --deploy`)."""

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
