"""Django's SQLite backend with django-prometheus' query metrics, the cursor class built once.

django-prometheus 2.5 defines a new cursor *class* in every `create_cursor()` on SQLite, and Django
opens a cursor per query: building those classes was ~9% of a transition and of a project read
(bench/README.md). Here the class is built once per cursor class, alias and vendor
(`commandcentral.db_backends.metrics`), with the metric children bound; connections are counted by
django-prometheus' own mixin.
"""

from django_prometheus.db.backends.sqlite3 import base

from ..metrics import counted_cursor_class


class DatabaseFeatures(base.DatabaseFeatures):
    pass


class DatabaseWrapper(base.DatabaseWrapper):
    def create_cursor(self, name=None):
        return self.connection.cursor(factory=counted_cursor_class(self.CURSOR_CLASS, self.alias, self.vendor))
