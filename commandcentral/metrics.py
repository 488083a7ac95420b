"""CommandCentral's own Prometheus metrics, exported at /metrics next to django-prometheus' ones.

Under gunicorn with several workers, gunicorn.conf.py points PROMETHEUS_MULTIPROC_DIR at a shared
directory so a scrape sums every worker's counters instead of showing the one worker it reached.
"""

from functools import lru_cache

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django_prometheus.cache.metrics import (
    django_cache_get_fail_total,
    django_cache_get_total,
    django_cache_hits_total,
    django_cache_misses_total,
)
from redis.exceptions import RedisError

# Transition attempts are counted by the engine (core.transitions.TRANSITIONS).


# --- Cache hit/miss counters ---------------------------------------------------------------------
# django-prometheus' own cache backends don't fit: its LocMemCache returns `cached or default` (a
# cached 0, "" or [] comes back as the default) and its redis module imports django-redis, which we
# don't install. These count into the same django_cache_* metrics around Django's built-in backends.

_MISSING = object()


@lru_cache(maxsize=None)
def _counters(backend: str) -> tuple:
    """The backend's get, failure, miss and hit counters, looked up by label once (the throttles read
    the cache on every API request)."""
    return tuple(counter.labels(backend=backend) for counter in (
        django_cache_get_total, django_cache_get_fail_total, django_cache_misses_total, django_cache_hits_total))


class _CountedGets:
    metrics_backend = ""

    def get(self, key, default=None, version=None):
        gets, failures, misses, hits = _counters(self.metrics_backend)
        gets.inc()
        try:
            value = super().get(key, _MISSING, version=version)
        except (RedisError, OSError):
            failures.inc()
            raise
        if value is _MISSING:
            misses.inc()
            return default
        hits.inc()
        return value


class InstrumentedLocMemCache(_CountedGets, LocMemCache):
    """Django's LocMemCache with django_cache_get_* counters (backend="locmem")."""

    metrics_backend = "locmem"


class InstrumentedRedisCache(_CountedGets, RedisCache):
    """Django's RedisCache with django_cache_get_* counters (backend="redis")."""

    metrics_backend = "redis"
