"""Liveness and readiness probes for load balancers and orchestrators.

Plain Django views, not DRF: no authentication, no throttle, no session. SECURE_REDIRECT_EXEMPT keeps
them on plain HTTP so a probe inside the private network is not redirected to HTTPS.
"""

import uuid

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from redis.exceptions import RedisError

from audit.ledger.sequencer import pending_status, tree_size, unqueued_rows
from audit.ledger.signer import divergence
from audit.ledger.witnessing import witness_status

logger = structlog.get_logger(__name__)


class CacheUnavailable(Exception):
    """The cache answered but did not give back what was written."""


class CacheDegraded(Exception):
    """Redis is unreachable: the cache answers from this process's memory (commandcentral.cache)."""


class LedgerLagging(Exception):
    """An audit row has waited longer than AUDIT_SEAL_LAG_BOUND to be sealed (is the sweep running?)."""


class LedgerDiverged(Exception):
    """The signer refused to sign: the database's tree does not extend what it signed before."""


class LedgerRowsUnqueued(Exception):
    """Audit rows are neither sealed nor queued: someone took them out of the ledger's reach."""


@never_cache
@require_GET
def health(request):
    """Liveness: the process answers. Touches neither the database nor the cache."""
    return JsonResponse({"status": "ok", "service": settings.SERVICE_NAME, "version": settings.VERSION})


def check_database() -> None:
    """A real round trip to the default database; raises DatabaseError when it is unreachable."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        if cursor.fetchone() != (1,):
            raise DatabaseError("SELECT 1 returned an unexpected row")


def check_cache() -> None:
    """Write, read back and delete a unique key; raises when the cache loses or garbles it, and
    CacheDegraded when the round trip went to process memory because Redis is unreachable."""
    key = f"commandcentral:ready:{uuid.uuid4().hex}"
    token = uuid.uuid4().hex
    cache.set(key, token, timeout=10)
    try:
        if cache.get(key) != token:
            raise CacheUnavailable("value written was not read back")
    finally:
        cache.delete(key)
    # Only commandcentral.cache.FallbackRedisCache can degrade. Every other backend raises instead.
    if getattr(cache, "degraded", False):
        raise CacheDegraded("Redis is unreachable; the cache answers from process memory")


def check_ledger() -> None:
    """The signer has not stopped (its record, read from disk), every row is sealed or queued, and the
    oldest unsealed row has waited no longer than AUDIT_SEAL_LAG_BOUND seconds."""
    reason = divergence()
    if reason:
        raise LedgerDiverged(reason)
    stray = unqueued_rows()
    if stray:
        raise LedgerRowsUnqueued(f"{stray} audit rows are neither sealed nor queued")
    unsealed, lag = pending_status()
    if lag > settings.AUDIT_SEAL_LAG_BOUND:
        raise LedgerLagging(f"{unsealed} unsealed rows, oldest {lag:.0f} s")


# What each check may raise when its backend is down; anything else is a bug and should be a 500.
# CacheDegraded is not among them: ready() reports it without taking the instance out of rotation.
READINESS_CHECKS = {
    "database": (check_database, (DatabaseError,)),
    "cache": (check_cache, (CacheUnavailable, RedisError, OSError)),
    "ledger": (check_ledger, (LedgerDiverged, LedgerRowsUnqueued, LedgerLagging, DatabaseError)),
}


@never_cache
@require_GET
def ready(request):
    """Readiness: 200 when the database and the cache both answer, else 503 naming the failing checks.

    A cache that has fallen back to process memory is "degraded", and the answer is still 200. The
    instance serves every request without Redis, so taking it out of rotation would turn a Redis
    outage into a total outage again. The cache logged the outage once and set
    commandcentral_cache_degraded, so nothing is logged here on every probe.
    """
    checks, failing, degraded = {}, [], []
    for name, (run, expected_errors) in READINESS_CHECKS.items():
        try:
            run()
        except CacheDegraded:
            checks[name] = "degraded"
            degraded.append(name)
        except expected_errors as error:
            # The body names the check and the error class only; details (hosts, users) go to the log.
            # A diverged ledger says so in its own words: it holds no host or user, and it is the one
            # failure an operator must act on rather than wait out.
            logger.warning("readiness_check_failed", check=name, error=repr(error))
            checks[name] = str(error) if isinstance(error, LedgerDiverged) else f"failed: {type(error).__name__}"
            failing.append(name)
        else:
            checks[name] = "ok"
    body = {
        "status": "unavailable" if failing else "degraded" if degraded else "ok",
        "service": settings.SERVICE_NAME,
        "version": settings.VERSION,
        "checks": checks,
    }
    if failing:
        body["failing"] = failing
    if degraded:
        body["degraded"] = degraded
    return JsonResponse(body, status=503 if failing else 200)


@never_cache
@require_GET
def metrics(request):
    """django-prometheus' export (every worker's counters under gunicorn) plus the ledger's gauges, read
    at scrape time (from the database, and the signer's record from disk) so every worker reports the
    same value. With the database down it still answers 200: the ledger gauges that need the database
    are left out and commandcentral_metrics_database_up is 0."""
    from django_prometheus.exports import ExportToDjangoView
    from prometheus_client import CollectorRegistry, generate_latest

    response = ExportToDjangoView(request)
    registry = CollectorRegistry()
    registry.register(LedgerCollector())
    response.content = response.content + generate_latest(registry)
    return response


class LedgerCollector:
    """The ledger's gauges, computed when collected."""

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        reason = divergence()
        yield GaugeMetricFamily("commandcentral_audit_ledger_diverged",
                                "1 when the signer refused to sign a tree that does not extend the last one it signed",
                                value=1 if reason else 0)
        try:
            unsealed, lag = pending_status()
            size, stray = tree_size(), unqueued_rows()
            witnesses = witness_status()
        except DatabaseError:
            yield GaugeMetricFamily("commandcentral_metrics_database_up", "0 when the database did not answer this scrape", value=0)
            return
        yield GaugeMetricFamily("commandcentral_metrics_database_up", "0 when the database did not answer this scrape", value=1)
        yield GaugeMetricFamily("commandcentral_audit_unsealed_rows", "Audit rows committed but not yet sealed into the ledger", value=unsealed)
        yield GaugeMetricFamily("commandcentral_audit_unqueued_rows", "Audit rows neither sealed nor queued (taken out of the ledger's reach)", value=stray)
        yield GaugeMetricFamily("commandcentral_audit_seal_lag_seconds", "How long the oldest unsealed audit row has waited", value=lag)
        yield GaugeMetricFamily("commandcentral_audit_ledger_tree_size", "Leaves in the audit ledger", value=size)
        cosigned = GaugeMetricFamily("commandcentral_audit_witness_cosigned_size", "The largest tree size each witness cosigned", labels=["witness"])
        failing = GaugeMetricFamily("commandcentral_audit_witness_failing", "1 when the last submission to a witness failed", labels=["witness"])
        for witness in witnesses:
            cosigned.add_metric([witness["name"]], witness["cosigned_size"])
            failing.add_metric([witness["name"]], 1 if witness["last_error"] else 0)
        yield cosigned
        yield failing
