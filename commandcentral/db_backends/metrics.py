"""Query metrics on a cursor class: the counters and histogram of django-prometheus, children bound once.

django-prometheus' cursor wrapper looks its metric children up by label on every statement
(`execute_total.labels(alias, vendor)`, `query_duration_seconds.labels(**labels).time()`, and an
exception-counting context manager): about 35 Python calls per query, a fifth of a write's SQL cost
in Python (bench/README.md). The labels never change for a cursor class, so the children are looked
up once, when the class is built, through prometheus_client's public `labels()`; each statement then
pays one `inc()` and one `observe()`.

The metrics are django-prometheus' own objects (`django_db_execute_total`,
`django_db_execute_many_total`, `django_db_query_duration_seconds`, `django_db_errors_total`) with the
same labels and the same values: a statement is counted before it runs, its duration observed
whether it succeeds or fails, and a failure counted by exception type, as its wrapper does.
`commandcentral/tests/test_ops.py` checks each of them.
"""

from functools import lru_cache
from time import perf_counter

from django_prometheus.db import errors_total, execute_many_total, execute_total, query_duration_seconds


@lru_cache(maxsize=None)
def counted_cursor_class(cursor_class, alias: str, vendor: str):
    """`cursor_class` whose execute()/executemany() update the query metrics of (alias, vendor)."""
    executed = execute_total.labels(alias, vendor)
    executed_many = execute_many_total.labels(alias, vendor)
    duration = query_duration_seconds.labels(alias, vendor)

    class CountedCursor(cursor_class):
        def execute(self, *args, **kwargs):
            executed.inc()
            start = perf_counter()
            try:
                return super().execute(*args, **kwargs)
            except BaseException as error:
                errors_total.labels(alias, vendor, type(error).__name__).inc()
                raise
            finally:
                duration.observe(max(perf_counter() - start, 0))

        def executemany(self, query, param_list, *args, **kwargs):
            executed.inc(len(param_list))
            executed_many.inc(len(param_list))
            start = perf_counter()
            try:
                return super().executemany(query, param_list, *args, **kwargs)
            except BaseException as error:
                errors_total.labels(alias, vendor, type(error).__name__).inc()
                raise
            finally:
                duration.observe(max(perf_counter() - start, 0))

    CountedCursor.__name__ = CountedCursor.__qualname__ = f"Counted{cursor_class.__name__}"
    return CountedCursor
