"""Default list pages run SQL compiled once per shape instead of building the queryset per request.

Profiling `make bench` (bench/README.md) showed a page of 50 projects or events spending a quarter
of its time building the visibility queryset and compiling it (and the `COUNT(*)` of the same query)
into SQL that differs between two callers only in the caller's primary key. For a *default* page —
no filter, ordering or cursor in the query string, only the page size and offset — `compiled_rows()`
compiles the view's own queryset on the first request of each shape and reuses that SQL after it:

* the shape is the view class, the action, the printed columns, the database and the caller's
  `is_staff`/`is_active` (what `visible_to()` branches on);
* the SQL is kept only if every parameter Django produced is either the caller's primary key (bound
  anew for the next caller) or an integer constant of the query's structure, such as the `1` of an
  `EXISTS` subquery; anything else (a string, a date) marks the shape uncompilable and those requests
  keep the ORM path;
* rows come back through the compiler's own converters as the `.values()` dicts the ORM would give.

Any other request (a filter, an ordering, a cursor, `?format=`) builds its queryset as usual.
commandcentral/tests/test_list_sql.py pins identical pages, counts and per-user scoping.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import connections

_plans: dict = {}
_UNCOMPILABLE = object()


@dataclass(frozen=True)
class _Plan:
    using: str
    sql: str
    count_sql: str
    params: tuple  # the compiled parameters; the caller's key goes at `key_positions`
    key_positions: tuple
    count_params: tuple
    count_key_positions: tuple
    names: tuple
    converters: tuple
    ordering: tuple


def compiled_rows(shape, user, build):
    """`CompiledRows` for `build()`'s values queryset, compiled once per `shape`; None when not compilable."""
    plan = _plans.get(shape)
    if plan is None:
        plan = _plans[shape] = _compile(build(), user)
    if plan is _UNCOMPILABLE:
        return None
    return CompiledRows(plan, user)


def _compile(queryset, user):
    query = queryset.query
    using = queryset.db
    connection = connections[using]
    if query.low_mark or query.high_mark is not None or query.combinator or query.distinct:
        return _UNCOMPILABLE
    names = tuple(query.selected) if getattr(query, "selected", None) else (
        *query.extra_select, *query.values_select, *query.annotation_select
    )
    compiler = query.get_compiler(using)
    sql, params = compiler.as_sql(with_limits=False)
    if len(compiler.select) != len(names):
        return _UNCOMPILABLE
    count_query = queryset.order_by().query
    count_sql, count_params = count_query.get_compiler(using).as_sql(with_limits=False)
    key = get_user_model()._meta.pk.get_db_prep_value(user.pk, connection)
    positions = _key_positions(params, key)
    count_positions = _key_positions(count_params, key)
    if positions is None or count_positions is None:
        return _UNCOMPILABLE
    columns = [column for column, _sql, _alias in compiler.select]
    converters = tuple(
        (position, tuple(functions), expression)
        for position, (functions, expression) in compiler.get_converters(columns).items()
    )
    return _Plan(
        using=using,
        sql=sql,
        count_sql=f"SELECT COUNT(*) FROM ({count_sql}) cc_count",
        params=tuple(params),
        key_positions=positions,
        count_params=tuple(count_params),
        count_key_positions=count_positions,
        names=names,
        converters=converters,
        ordering=tuple(query.order_by),
    )


def _key_positions(params, key):
    """Where `params` holds the caller's key; None if any other parameter is not a structural int."""
    positions = []
    for position, param in enumerate(params):
        if param == key and type(param) is type(key):
            positions.append(position)
        # psycopg passes the `1` of EXISTS as Int4, an int subclass; an int key could collide with one.
        elif not isinstance(param, int) or isinstance(param, bool) or isinstance(key, int):
            return None
    return tuple(positions)


def _bind(params: tuple, positions: tuple, key) -> list:
    bound = list(params)
    for position in positions:
        bound[position] = key
    return bound


class CompiledRows:
    """What the paginators ask of a values queryset: count(), order_by() of the same order, slices."""

    def __init__(self, plan: _Plan, user):
        self.plan = plan
        self.connection = connections[plan.using]
        self.key = get_user_model()._meta.pk.get_db_prep_value(user.pk, self.connection)

    def count(self) -> int:
        with self.connection.cursor() as cursor:
            cursor.execute(self.plan.count_sql, _bind(self.plan.count_params, self.plan.count_key_positions, self.key))
            return cursor.fetchone()[0]

    def order_by(self, *fields):
        if tuple(fields) != self.plan.ordering:
            raise ValueError(f"compiled for ordering {self.plan.ordering}, asked for {fields}")
        return self

    def __getitem__(self, item):
        if not isinstance(item, slice) or item.step is not None or (item.start or 0) < 0 or item.stop is None:
            raise TypeError("only [start:stop] slices of a compiled list")
        if item.stop <= (item.start or 0):
            return []
        return self._rows(self.connection.ops.limit_offset_sql(item.start or 0, item.stop))

    def __iter__(self):
        return iter(self._rows(""))

    def _rows(self, limits: str) -> list[dict]:
        with self.connection.cursor() as cursor:
            cursor.execute(f"{self.plan.sql} {limits}", _bind(self.plan.params, self.plan.key_positions, self.key))
            rows = cursor.fetchall()
        names, connection, converters = self.plan.names, self.connection, self.plan.converters
        result = []
        for row in rows:
            row = list(row)
            for position, functions, expression in converters:  # SQLCompiler.apply_converters
                value = row[position]
                for convert in functions:
                    value = convert(value, expression, connection)
                row[position] = value
            result.append(dict(zip(names, row)))
        return result
