"""CommandCentral's own Prometheus metrics, exported at /metrics next to django-prometheus' ones.

Under gunicorn with several workers, gunicorn.conf.py points PROMETHEUS_MULTIPROC_DIR at a shared
directory so a scrape sums every worker's counters instead of showing the one worker it reached.
"""

from prometheus_client import Counter

TRANSITIONS = Counter(
    "commandcentral_transitions",
    "Transition attempts by model, transition name and outcome (success or the refusal's reason code).",
    ["model", "name", "outcome"],
)


def count_transition(model: str, name: str, outcome: str) -> None:
    """Count one transition attempt; `outcome` is "success" or a TransitionRefused.reason_code."""
    TRANSITIONS.labels(model=model, name=name, outcome=outcome).inc()
