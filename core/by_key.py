"""`Model._base_manager.get(pk=...)` with the SQL built and compiled once per model and database.

Profiling `make bench` (bench/README.md) showed the ORM spending ~0.1 ms per primary-key read on
building the queryset and compiling the same SELECT again, next to ~0.03 ms for SQLite to answer
it. The hottest such reads are the JWT user of every API request and the row a transition locks.
`get_by_key()` compiles the query Django would run once (`select_for_update()` included, so
PostgreSQL still locks the row), then binds the key with the primary key field's own
`get_db_prep_value()` and builds the instance with the compiler's own converters and
`Model.from_db()`: the same SQL, the same values, the same instance as the ORM call it replaces
(commandcentral/tests/test_by_key.py compares them field by field on both databases).
"""

from django.db import connections, router

_PLACEHOLDER_KEYS = {"UUIDField": "00000000-0000-0000-0000-000000000000"}
_compiled: dict = {}


def get_by_key(model, pk, *, for_update: bool = False):
    """The row of `model` with primary key `pk` (`model.DoesNotExist` if none), optionally row-locked."""
    using = router.db_for_read(model) if not for_update else router.db_for_write(model)
    connection = connections[using]
    key = (model, using, for_update)
    plan = _compiled.get(key)
    if plan is None:
        plan = _compiled[key] = _compile(model, using, for_update)
    sql, attnames, converters = plan
    with connection.cursor() as cursor:
        cursor.execute(sql, [model._meta.pk.get_db_prep_value(model._meta.pk.to_python(pk), connection)])
        row = cursor.fetchone()
    if row is None:
        raise model.DoesNotExist(f"{model._meta.object_name} matching query does not exist.")
    row = list(row)
    for position, functions, expression in converters:  # what SQLCompiler.apply_converters does
        value = row[position]
        for convert in functions:
            value = convert(value, expression, connection)
        row[position] = value
    return model.from_db(using, attnames, row)


def _compile(model, using, for_update):
    placeholder = model._meta.pk.to_python(_PLACEHOLDER_KEYS.get(model._meta.pk.get_internal_type(), 0))
    queryset = model._base_manager.using(using).filter(pk=placeholder).order_by()
    if for_update:
        queryset = queryset.select_for_update()
    compiler = queryset.query.get_compiler(using)
    sql, params = compiler.as_sql(with_limits=False)
    if len(params) != 1:  # pragma: no cover - a base manager that filters would need its own params
        raise ValueError(f"{model.__name__}'s base manager adds query parameters; use the ORM")
    columns = [column for column, _sql, _alias in compiler.select]
    attnames = [column.target.attname for column in columns]
    converters = [(position, functions, expression)
                  for position, (functions, expression) in compiler.get_converters(columns).items()]
    return sql, attnames, converters
