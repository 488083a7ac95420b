"""Django's PostgreSQL backend with django-prometheus' query metrics, the metric children bound once.

django-prometheus sets psycopg's cursor factory once per connection (as here), but its cursor looks
the metric children up by label on every statement; `commandcentral.db_backends.metrics` binds them
when the class is built. Connections are counted by django-prometheus' own mixin.
"""

from django.db.backends.postgresql import base as django_base
from django_prometheus.db.backends.postgresql import base

from ..metrics import counted_cursor_class


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = django_base.DatabaseWrapper.get_connection_params(self)
        params["cursor_factory"] = counted_cursor_class(params["cursor_factory"], self.alias, self.vendor)
        return params
