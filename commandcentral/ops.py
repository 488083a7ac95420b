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

logger = structlog.get_logger(__name__)


class CacheUnavailable(Exception):
    """The cache answered but did not give back what was written."""


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
    """Write, read back and delete a unique key; raises when the cache loses or garbles it."""
    key = f"commandcentral:ready:{uuid.uuid4().hex}"
    token = uuid.uuid4().hex
    cache.set(key, token, timeout=10)
    try:
        if cache.get(key) != token:
            raise CacheUnavailable("value written was not read back")
    finally:
        cache.delete(key)


# What each check may raise when its backend is down; anything else is a bug and should be a 500.
READINESS_CHECKS = {
    "database": (check_database, (DatabaseError,)),
    "cache": (check_cache, (CacheUnavailable, RedisError, OSError)),
}


@never_cache
@require_GET
def ready(request):
    """Readiness: 200 when the database and the cache both answer, else 503 naming the failing checks."""
    checks, failing = {}, []
    for name, (run, expected_errors) in READINESS_CHECKS.items():
        try:
            run()
        except expected_errors as error:
            # The body names the check and the error class only; details (hosts, users) go to the log.
            logger.warning("readiness_check_failed", check=name, error=repr(error))
            checks[name] = f"failed: {type(error).__name__}"
            failing.append(name)
        else:
            checks[name] = "ok"
    body = {
        "status": "unavailable" if failing else "ok",
        "service": settings.SERVICE_NAME,
        "version": settings.VERSION,
        "checks": checks,
    }
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=503 if failing else 200)
