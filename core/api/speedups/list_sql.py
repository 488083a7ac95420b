"""Default list pages run SQL compiled once per shape instead of building the queryset per request.

Profiling `make bench` (bench/README.md) showed a page of 50 projects or events spending a quarter
of its time building the visibility queryset and compiling it (and the `COUNT(*)` of the same query)
into SQL that differs between two callers only in the caller's primary key. `compiled_rows()` keeps
that SQL per *shape* and binds the next caller's key into it, but only where it can prove that the
key is the one thing that changes:

* the caller: the shape holds the caller's `is_staff` and `is_active` (what `visible_to()` branches
  on); anonymous callers are never compiled. Whatever else the caller's view puts in the shape
  (ValuesListMixin: the view class, action, columns and database, and only requests without URL
  arguments and with nothing but the page size/offset in the query string) is the view's promise
  that nothing else changes its queryset;
* the proof, on the first request of a shape: the queryset is built and compiled twice, for the
  caller and for a *probe*, an unsaved user with another key and only the shape's attributes.
  Both compiles must give the same SQL; a parameter is the caller's key when it is the caller's key
  in the first and the probe's in the second; the only other parameter allowed is the constant `1`
  Django selects inside `EXISTS(...)`, recognised by its place in the SQL. Any other parameter — an
  integer filter (`seq__gt=3`), a string, a date, a key that merely equals the caller's — refuses
  the shape: its requests keep the ORM path, nothing is compiled for it again;
* an empty queryset (`.none()`, which Django refuses to compile) takes the ORM path and is not
  remembered: it says nothing about the shape's next caller.

Rows come back through the compiler's own converters as the `.values()` dicts the ORM would give.
This reads Django internals (`Query.get_compiler().as_sql()`, `compiler.select`,
`compiler.get_converters()`, `Query.low_mark/high_mark/combinator/distinct/order_by`); if a Django
upgrade changes the SQL an `EXISTS` compiles to, shapes with one are refused (the ORM path), not
misread. commandcentral/tests/test_list_sql.py pins identical pages, counts and per-user scoping,
and the refusals.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import EmptyResultSet
from django.db import connections, models
from django.utils import timezone

_plans: dict = {}
_REFUSED = object()
_CALLER_SHAPE = ("is_staff", "is_active")  # the caller's attributes a plan is compiled for
_PLACEHOLDERS = re.compile(r"%%|%s")


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
    printed_converters: tuple  # `converters`, with SQLite's UUID and datetime ones giving printed text


def compiled_rows(shape, user, build, names, *, printed: bool = False):
    """Rows of `build(user)` (a `.values(*names)` queryset) through SQL compiled once per `shape` and the
    caller's `is_staff`/`is_active`; None when the caller is anonymous or the shape cannot be proven
    (the caller takes the ORM path). `build(caller)` must build the queryset for any `caller` it is given.
    `printed`: the rows are only printed by an API serializer, so on SQLite UUIDs and datetimes may come as
    the text it prints (see "SQLite: UUIDs and datetimes as the text the API prints" below)."""
    if not user.is_authenticated or user.pk is None or not isinstance(user, get_user_model()):
        return None
    shape = (shape, *(getattr(user, name) for name in _CALLER_SHAPE))
    plan = _plans.get(shape)
    if plan is None:
        plan = _prove(user, build, tuple(names))
        if plan is None:
            return None  # an empty queryset: nothing learnt about the shape
        _plans[shape] = plan
    if plan is _REFUSED:
        return None
    return CompiledRows(plan, user, printed=printed)


def _prove(user, build, names):
    """A _Plan whose only varying parameter is the caller's key, _REFUSED, or None for an empty queryset."""
    try:
        mine = _compile(build(user), names)
    except EmptyResultSet:
        return None
    model = get_user_model()
    probe_key = _other_key(user.pk)
    if mine is _REFUSED or probe_key is None:
        return _REFUSED
    probe = model(pk=probe_key, **{name: getattr(user, name) for name in _CALLER_SHAPE})
    try:
        theirs = _compile(build(probe), names)
    except Exception:  # noqa: BLE001 - the probe is speculative: whatever it trips over, the ORM path stays
        return _REFUSED
    if theirs is _REFUSED or (mine.using, mine.sql, mine.count_sql) != (theirs.using, theirs.sql, theirs.count_sql):
        return _REFUSED
    connection = connections[mine.using]
    key = model._meta.pk.get_db_prep_value(user.pk, connection)
    other = model._meta.pk.get_db_prep_value(probe_key, connection)
    positions = _key_positions(mine.sql, mine.params, theirs.params, key, other)
    count_positions = _key_positions(mine.count_sql, mine.count_params, theirs.count_params, key, other)
    if positions is None or count_positions is None:
        return _REFUSED
    return _Plan(
        using=mine.using, sql=mine.sql, count_sql=mine.count_sql, params=mine.params, key_positions=positions,
        count_params=mine.count_params, count_key_positions=count_positions, names=names,
        converters=mine.converters, ordering=mine.ordering,
        printed_converters=_printed_converters(mine.converters, connection),
    )


def _other_key(key):
    if isinstance(key, uuid.UUID):
        return uuid.uuid4()
    if isinstance(key, int) and not isinstance(key, bool):
        return -key - 1  # never a stored key
    return None


@dataclass(frozen=True)
class _Compiled:
    using: str
    sql: str
    params: tuple
    count_sql: str
    count_params: tuple
    converters: tuple
    ordering: tuple


def _compile(queryset, names):
    query = queryset.query
    using = queryset.db
    if query.low_mark or query.high_mark is not None or query.combinator or query.distinct:
        return _REFUSED
    compiler = query.get_compiler(using)
    sql, params = compiler.as_sql(with_limits=False)
    if len(compiler.select) != len(names):  # extra() or annotations: not the .values(*names) rows
        return _REFUSED
    count_sql, count_params = queryset.order_by().query.get_compiler(using).as_sql(with_limits=False)
    columns = [column for column, _sql, _alias in compiler.select]
    converters = tuple(
        (position, tuple(functions), expression)
        for position, (functions, expression) in compiler.get_converters(columns).items()
    )
    return _Compiled(
        using=using, sql=sql, params=tuple(params), count_sql=f"SELECT COUNT(*) FROM ({count_sql}) cc_count",
        count_params=tuple(count_params), converters=converters, ordering=tuple(query.order_by),
    )


def _key_positions(sql, mine, theirs, key, other):
    """Where the caller's key goes; None when any parameter is neither that key nor an EXISTS' `1`."""
    constants, count = _exists_constants(sql)
    if not count == len(mine) == len(theirs):
        return None
    positions = []
    for position, (param, probe_param) in enumerate(zip(mine, theirs)):
        if type(param) is type(key) and param == key and type(probe_param) is type(other) and probe_param == other:
            positions.append(position)
        elif not (position in constants and param == probe_param == 1 and not isinstance(param, bool)):
            return None
    return tuple(positions)


def _exists_constants(sql) -> tuple[frozenset, int]:
    """Positions of the parameters that are the constant of `EXISTS(SELECT %s AS "a" FROM ...)`, which Django
    compiles for every Exists(), and the number of placeholders."""
    found, position = set(), 0
    for match in _PLACEHOLDERS.finditer(sql):
        if match.group() == "%%":
            continue
        if sql.endswith("EXISTS(SELECT ", 0, match.start()) and sql.startswith(' AS "a" FROM ', match.end()):
            found.add(position)
        position += 1
    return frozenset(found), position


def _bind(params: tuple, positions: tuple, key) -> list:
    bound = list(params)
    for position in positions:
        bound[position] = key
    return bound


class CompiledRows:
    """What the paginators ask of a values queryset: count(), order_by() of the same order, slices."""

    def __init__(self, plan: _Plan, user, *, printed: bool = False):
        self.plan = plan
        self.printed = printed
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
        names, connection = self.plan.names, self.connection
        converters = self.plan.printed_converters if self.printed and _prints_as_text() else self.plan.converters
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


# --- SQLite: UUIDs and datetimes as the text the API prints -------------------------------------------
#
# SQLite stores a UUIDField as 32 hex digits and a DateTimeField (USE_TZ) as naive UTC text; Django's
# converters turn them into uuid.UUID and aware datetime objects, which the output serializers then
# print straight back as text (`str(uuid)`, ISO 8601 with `Z`). A page of 50 projects did that for
# about 300 values (bench/README.md, fourth round). For rows asked for `printed` (those of the output
# serializers' default pages) these converters give the printed text directly: UUIDs in their dashed
# form, datetimes as DRF prints them in UTC. The serializers print a string as it is, so the output is
# the same bytes. It relies on Django's SQLite storage formats, so anything else takes Django's own
# converters: a value of another form (not 32 hex digits, not a naive datetime), a current time zone
# other than UTC, USE_TZ off, and `LIST_SQL_SQLITE_TEXT = False` (a Django setting). commandcentral/tests/test_list_sql.py compares
# the pages both ways.


def _dashed_uuid(value, expression, connection):
    if value is None:
        return None
    if len(value) != 32:
        return connection.ops.convert_uuidfield_value(value, expression, connection)
    return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"


def _utc_iso(value, expression, connection):
    # The sqlite3 module has already parsed the column (Django registers its "datetime" converter): a
    # naive datetime in UTC, which DRF would make aware, move to UTC and print with "+00:00" as "Z".
    if value is None:
        return None
    if type(value) is not datetime or value.tzinfo is not None:
        return connection.ops.convert_datetimefield_value(value, expression, connection)
    return value.isoformat() + "Z"


def _printed_converters(converters: tuple, connection) -> tuple:
    """`converters` with SQLite's UUID and datetime ones replaced by the printed-text ones (once per plan)."""
    if connection.vendor != "sqlite":
        return converters
    ops = type(connection.ops)
    swaps = {ops.convert_uuidfield_value: _dashed_uuid, ops.convert_datetimefield_value: _utc_iso}
    replaced = []
    for position, functions, expression in converters:
        only = functions[0] if len(functions) == 1 else None
        swap = swaps.get(getattr(only, "__func__", None))
        kind = type(getattr(expression, "output_field", None))
        if swap is not None and kind in (models.UUIDField, models.DateTimeField):
            functions = (swap,)
        replaced.append((position, functions, expression))
    return tuple(replaced)


def _prints_as_text() -> bool:
    """Whether printed rows may take the text converters now (DRF prints datetimes in the current zone)."""
    return (getattr(settings, "LIST_SQL_SQLITE_TEXT", True) and settings.USE_TZ
            and timezone.get_current_timezone_name() == "UTC")
