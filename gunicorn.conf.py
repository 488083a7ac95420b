"""Gunicorn settings for `make serve`:  gunicorn -c gunicorn.conf.py commandcentral.wsgi:application

Reads Django's own settings (so `.env` and TRUSTED_PROXIES mean the same here as in the app) plus a
few serving knobs of its own, documented in docs/operations.md, "Serving with gunicorn behind a proxy":
GUNICORN_WORKERS (else WEB_CONCURRENCY), GUNICORN_TIMEOUT, GUNICORN_ACCESS_LOG, PROMETHEUS_MULTIPROC_DIR.
"""

import glob
import ipaddress
import multiprocessing
import os
import shutil
import tempfile

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commandcentral.settings")

from django.conf import settings as django_settings  # noqa: E402  (needs the env var above)

# Reading a setting imports commandcentral.settings in the master, so a missing SECRET_KEY stops
# gunicorn at once with the settings' one-line message instead of crash-looping every worker.
USES_SQLITE = django_settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
USES_REDIS = "Redis" in django_settings.CACHES["default"]["BACKEND"]


def worker_count(environ=os.environ, *, sqlite: bool = USES_SQLITE, cpus: int | None = None) -> int:
    """GUNICORN_WORKERS, else WEB_CONCURRENCY, else 2 on SQLite (one writer at a time) or 2×CPU+1 (max 8)."""
    for name in ("GUNICORN_WORKERS", "WEB_CONCURRENCY"):
        value = environ.get(name, "").strip()
        if value:
            if not value.isdigit() or int(value) < 1:
                raise SystemExit(f"{name} must be a positive integer, got {value!r}.")
            return int(value)
    if sqlite:
        return 2
    return min(2 * (cpus or multiprocessing.cpu_count()) + 1, 8)


def trusted_proxy_networks(proxies) -> str:
    """TRUSTED_PROXIES as gunicorn's forwarded_allow_ips: only they may set X-Forwarded-Proto."""
    networks = []
    for proxy in proxies:
        try:
            networks.append(str(ipaddress.ip_network(proxy.strip(), strict=False)))
        except ValueError:
            continue  # the app ignores an unparsable entry too (request_context._is_trusted)
    return ",".join(networks)


wsgi_app = "commandcentral.wsgi:application"
workers = worker_count()
# gthread, even with one thread: its main loop keeps the heartbeat going while a thread streams a
# long response (an audit export of a million rows). A sync worker sends none and is killed after
# `timeout` mid-stream, truncating the download.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))  # above SQLite's 20 s busy timeout
graceful_timeout = 30
keepalive = 5
# With no trusted proxy, gunicorn's default would still believe X-Forwarded-Proto from 127.0.0.1.
forwarded_allow_ips = trusted_proxy_networks(django_settings.TRUSTED_PROXIES)
# django-structlog already writes one JSON line per request; a second access log is opt-in.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = django_settings.LOG_LEVEL.lower()
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"  # worker heartbeats on tmpfs never stall on a slow disk

_owned_metrics_dir = None


def on_starting(server):
    """Runs in the master before any worker exists."""
    global _owned_metrics_dir
    if server.cfg.workers > 1 and not USES_REDIS:
        server.log.warning(
            "Running %d workers without REDIS_URL/CACHE_URL: the cache is per worker, so API throttles "
            "(login attempts included) allow up to %d times their configured rate. Set REDIS_URL.",
            server.cfg.workers,
            server.cfg.workers,
        )
    if server.cfg.workers > 1:
        # Each worker keeps its own counters; a scrape must sum them all, not show one worker's.
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if not directory:
            directory = _owned_metrics_dir = tempfile.mkdtemp(prefix="commandcentral-metrics-")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        os.makedirs(directory, exist_ok=True)
        for stale in glob.glob(os.path.join(directory, "*.db")):
            os.remove(stale)  # counters of a previous run would be added to this one's


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _owned_metrics_dir:
        shutil.rmtree(_owned_metrics_dir, ignore_errors=True)
