"""django-prometheus' SQLite backend, with its instrumented cursor class built once, not per cursor.

django-prometheus 2.5 defines a new cursor *class* (`ExportingCursorWrapper(...)`) in every
`create_cursor()` on SQLite, and Django opens a cursor per query: building those classes was ~9% of
a transition and of a project read (bench/README.md). The class depends only on the cursor class,
the alias and the vendor, so it is built once per combination; it counts and times queries exactly
as before (`django_db_execute_total`, `django_db_query_duration_seconds`, `django_db_errors_total`).
PostgreSQL needs nothing: django-prometheus sets its cursor factory once per connection there.
"""

from functools import lru_cache

from django_prometheus.db.backends.sqlite3 import base
from django_prometheus.db.common import ExportingCursorWrapper

_cursor_class = lru_cache(maxsize=None)(ExportingCursorWrapper)


class DatabaseFeatures(base.DatabaseFeatures):
    pass


class DatabaseWrapper(base.DatabaseWrapper):
    def create_cursor(self, name=None):
        return self.connection.cursor(factory=_cursor_class(self.CURSOR_CLASS, self.alias, self.vendor))
