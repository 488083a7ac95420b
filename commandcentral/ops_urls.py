"""Health, readiness and metrics (no auth).

The paths carry no trailing slash: SECURE_REDIRECT_EXEMPT matches exactly `health`, `ready` and
`metrics`, and probes are configured with these exact URLs.
"""

from django.urls import path

from . import ops

urlpatterns = [
    path("health", ops.health, name="health"),
    path("ready", ops.ready, name="ready"),
    # Request counts and latencies by view, DB and cache metrics, commandcentral.metrics, the ledger's gauges.
    path("metrics", ops.metrics, name="metrics"),
]
