"""Inserting one new row with SQL built once per table, for the rows every write appends.

A create and every audited write insert rows whose `save()` does nothing an INSERT needs: the
update-or-insert decision, parent models, and compiling the same INSERT again on every call. This
builds each table's INSERT once. The `pre_save`/`post_save` signals are still sent, as `save()` sends
them, when anything listens (django-auditlog listens to a project's `post_save`: that is how its
create row is written).

Only public API: the fields' documented `pre_save()` and `get_db_prep_save()` (what Django's
INSERT compiler calls for each value; for Django's plain text, boolean and integer fields, a value of
the type they keep goes as it is, which is what those methods return for it),
`connection.ops.quote_name()`, the backend's `can_return_columns_from_insert` feature and
`ops.last_insert_id()`, a plain cursor, and the documented `Model._state`. The row written is the row
`save()` writes: `audit/tests/test_append.py` and `projects/tests/test_plain_insert.py` compare the
two, column by column, on SQLite and PostgreSQL. Each caller keeps a setting that takes `save()`
instead (`AUDIT_FAST_APPEND`, `PROJECT_FAST_INSERT`).
"""

from django.db import connections, models
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import signals

# Django's own field classes (exactly: a subclass may convert differently) whose pre_save() is
# `getattr(obj, attname)` and whose get_db_prep_save() returns a value of these types unchanged:
# CharField/TextField's to_python() keeps a str, BooleanField's keeps a bool. A value of any other
# type (a lazy string, an expression, None for a boolean) takes the fields' own methods.
_KEPT = {models.CharField: (str, type(None)), models.TextField: (str, type(None)), models.BooleanField: (bool,)}
# The integer fields keep an int (not a bool) and None, unless the backend adapts integers itself
# (psycopg 3 wraps them in its sized integer types).
_KEPT_INTEGERS = {cls: (int, type(None)) for cls in (
    models.IntegerField, models.BigIntegerField, models.SmallIntegerField, models.PositiveIntegerField,
    models.PositiveBigIntegerField, models.PositiveSmallIntegerField)}


def _kept_types(field, connection):
    """The value types `field` passes to the database unchanged on `connection`, or None."""
    kept = _KEPT.get(type(field))
    if kept is None and type(connection.ops).adapt_integerfield_value is BaseDatabaseOperations.adapt_integerfield_value:
        kept = _KEPT_INTEGERS.get(type(field))
    return kept


class _Insert:
    """The INSERT of one model on one database: its SQL, and the fields whose values it takes."""

    def __init__(self, model, connection):
        quote = connection.ops.quote_name
        pk = model._meta.pk
        # An auto-incremented key is the database's to give; any other key is a value like the rest.
        self.returns_key = pk.db_returning
        self.fields = tuple(field for field in model._meta.local_concrete_fields
                            if not (self.returns_key and field is pk))
        # Per field: (field, attribute, the value types it keeps); see _KEPT.
        self.values = tuple((field, field.attname, _kept_types(field, connection)) for field in self.fields)
        columns = ", ".join(quote(field.column) for field in self.fields)
        values = ", ".join(["%s"] * len(self.fields))
        self.sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({values})"
        self.table, self.pk_column = model._meta.db_table, pk.column
        self.returning = self.returns_key and connection.features.can_return_columns_from_insert
        if self.returning:
            self.sql += f" RETURNING {quote(pk.column)}"

    def execute(self, obj, connection) -> None:
        params = []
        for field, attname, kept in self.values:
            if kept is not None:
                value = getattr(obj, attname)  # what Field.pre_save() returns for these classes
                params.append(value if type(value) in kept else field.get_db_prep_save(value, connection))
            else:
                params.append(field.get_db_prep_save(field.pre_save(obj, True), connection))
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            if self.returning:
                key = cursor.fetchone()[0]
            elif self.returns_key:
                key = connection.ops.last_insert_id(cursor, self.table, self.pk_column)
        if self.returns_key:
            obj.pk = key
        obj._state.adding = False  # Model._state is documented: what save() sets once a row exists
        obj._state.db = connection.alias


_inserts: dict[tuple, _Insert] = {}


def _insert(model, connection) -> _Insert:
    key = (model, connection.alias, connection.vendor)
    plan = _inserts.get(key)
    if plan is None:
        plan = _inserts[key] = _Insert(model, connection)
    return plan


def insert(obj, using: str) -> None:
    """INSERT `obj` (a new row of a model without save() logic of its own to run: no overridden
    save(), no parent model, no field its save() would fill), send the signals save() sends, and set
    its key and `_state` as save() does."""
    model, connection = type(obj), connections[using]
    if signals.pre_save.has_listeners(model):
        signals.pre_save.send(sender=model, instance=obj, raw=False, using=using, update_fields=None)
    _insert(model, connection).execute(obj, connection)
    if signals.post_save.has_listeners(model):
        signals.post_save.send(sender=model, instance=obj, created=True, update_fields=None, raw=False, using=using)
