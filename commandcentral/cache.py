"""The cache when REDIS_URL is set: Redis, or this process's own memory while Redis is unreachable.

The cache holds only throttle histories (the login throttle's included) and /ready's probe key.
Django's RedisCache raises on every call while Redis is down, and a throttle that raises turns each
API request, login included, into a 500. This backend answers such a call from a per-process
LocMemCache instead. Throttles then count per worker, as they do without REDIS_URL, from zero at the
start of the outage. /ready reports "degraded", and `commandcentral_cache_degraded` is 1.

A dead Redis must not cost each request a connect timeout either. After a failure the process
leaves Redis alone for RETRY_SECONDS (a key of the CACHES entry, default 5). Then one call tries it
again: if that call succeeds, the outage is over.
"""

import re
import threading
import time

import structlog
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from prometheus_client import Counter, Gauge
from redis.exceptions import RedisError

from .metrics import InstrumentedRedisCache

logger = structlog.get_logger(__name__)

# OSError: a socket error that redis-py did not wrap in its own ConnectionError.
REDIS_UNREACHABLE = (RedisError, OSError)
# The throttles keep one key per client address and scope. LocMemCache's default of 300 entries
# would drop a third of the histories each time it fills.
FALLBACK_MAX_ENTRIES = 10_000

CACHE_DEGRADED = Gauge(
    "commandcentral_cache_degraded",
    "1 while the cache answers from process memory because Redis is unreachable",
    multiprocess_mode="livemax",  # with several workers: 1 when any live worker is degraded
)
CACHE_FALLBACKS = Counter(
    "commandcentral_cache_fallbacks",
    "Cache calls answered from process memory because Redis failed or is being left alone, by operation",
    ["operation"],
)


def _without_credentials(location: str) -> str:
    return re.sub(r"//[^/@]*@", "//", location)


class _Circuit:
    """Whether one Redis location is worth a call. Every thread of the process shares one circuit.

    Closed, every call goes to Redis. A failure opens the circuit. Calls then skip Redis until
    `retry_seconds` have passed, and after that one call at a time tries it again. A call that
    succeeds closes the circuit, and a call that fails holds it open for another `retry_seconds`.
    """

    def __init__(self, location: str, retry_seconds: float):
        self.location = location
        self.retry_seconds = retry_seconds
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._retry_at = 0.0

    @property
    def open(self) -> bool:
        return self._down_since is not None

    def allows_call(self) -> bool:
        if self._down_since is None:
            return True
        with self._lock:
            now = time.monotonic()
            if now < self._retry_at:
                return False
            # This call tries Redis. Moving the deadline keeps the other threads off it meanwhile,
            # and the circuit cannot stay stuck if the trial ends in an error that is not Redis's.
            self._retry_at = now + self.retry_seconds
            return True

    def failed(self, operation: str, error: Exception) -> None:
        with self._lock:
            now = time.monotonic()
            self._retry_at = now + self.retry_seconds
            if self._down_since is not None:
                return
            self._down_since = now
        CACHE_DEGRADED.set(1)
        # One warning per outage. CACHE_FALLBACKS counts the calls it costs.
        logger.warning(
            "cache_degraded",
            server=_without_credentials(self.location),
            operation=operation,
            error=repr(error),
            retry_seconds=self.retry_seconds,
        )

    def succeeded(self) -> bool:
        """Record that Redis answered. True when this call ends an outage."""
        if self._down_since is None:
            return False
        with self._lock:
            if self._down_since is None:
                return False
            outage = time.monotonic() - self._down_since
            self._down_since = None
        CACHE_DEGRADED.set(0)
        logger.info("cache_recovered", server=_without_credentials(self.location), outage_seconds=round(outage, 1))
        return True


_circuits: dict[str, _Circuit] = {}
_circuits_lock = threading.Lock()


def _circuit_for(location: str, retry_seconds: float) -> _Circuit:
    # django.core.cache.caches builds one backend per thread, but an outage belongs to the process.
    with _circuits_lock:
        circuit = _circuits.setdefault(location, _Circuit(location, retry_seconds))
        circuit.retry_seconds = retry_seconds
        return circuit


class FallbackRedisCache(InstrumentedRedisCache):
    """InstrumentedRedisCache that answers from process memory while Redis is unreachable (see the module)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        location = server if isinstance(server, str) else ",".join(server)
        self._circuit = _circuit_for(location, float(params.get("RETRY_SECONDS", 5)))
        # The same name in every thread: LocMemCache instances with one name share their entries.
        fallback_params = {
            key: params[key] for key in ("TIMEOUT", "KEY_PREFIX", "VERSION", "KEY_FUNCTION") if key in params
        }
        self._fallback = LocMemCache(
            f"commandcentral-fallback:{location}", {**fallback_params, "OPTIONS": {"MAX_ENTRIES": FALLBACK_MAX_ENTRIES}}
        )

    @property
    def degraded(self) -> bool:
        """True from a failed call until the next call that Redis answers."""
        return self._circuit.open

    def _either(self, operation: str, on_redis, on_fallback, *args, **kwargs):
        if self._circuit.allows_call():
            try:
                result = on_redis(*args, **kwargs)
            except REDIS_UNREACHABLE as error:
                self._circuit.failed(operation, error)
            else:
                if self._circuit.succeeded():
                    # What was written during the outage must not come back in the next one.
                    self._fallback.clear()
                return result
        CACHE_FALLBACKS.labels(operation=operation).inc()
        return on_fallback(*args, **kwargs)

    # RedisCache's own operations. BaseCache builds the rest on them: decr, get_or_set,
    # incr_version, the async variants.
    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._either("add", super().add, self._fallback.add, key, value, timeout, version=version)

    def get(self, key, default=None, version=None):
        return self._either("get", super().get, self._fallback.get, key, default, version=version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._either("set", super().set, self._fallback.set, key, value, timeout, version=version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._either("touch", super().touch, self._fallback.touch, key, timeout, version=version)

    def delete(self, key, version=None):
        return self._either("delete", super().delete, self._fallback.delete, key, version=version)

    def get_many(self, keys, version=None):
        return self._either("get_many", super().get_many, self._fallback.get_many, keys, version=version)

    def has_key(self, key, version=None):
        return self._either("has_key", super().has_key, self._fallback.has_key, key, version=version)

    def incr(self, key, delta=1, version=None):
        return self._either("incr", super().incr, self._fallback.incr, key, delta, version=version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._either("set_many", super().set_many, self._fallback.set_many, data, timeout, version=version)

    def delete_many(self, keys, version=None):
        return self._either("delete_many", super().delete_many, self._fallback.delete_many, keys, version=version)

    def clear(self):
        self._fallback.clear()
        return self._either("clear", super().clear, self._fallback.clear)
