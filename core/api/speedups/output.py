"""Cheaper ModelSerializers for the hot endpoints: the same fields, the same JSON, less work per request.

Profiling `make bench` (bench/README.md) showed DRF spending most of a list request in two places:

* `ModelSerializer.get_fields()` introspects the model (field kwargs, unique validators) for every
  serializer *instance*: once per request for a list, once per row for a nested serializer without
  a parent cache, and again for every detail, create and transition response. `CachedFieldsMixin`
  builds the fields once per class through DRF's own `get_fields()` and hands each instance a deep
  copy (DRF deep-copies declared fields the same way: `Field.__deepcopy__` re-instantiates them).
* `Serializer.to_representation()` goes through `Field.get_attribute()` (a generic walk over dotted
  sources, Mapping checks, callable checks) and, for every datetime, `timezone.get_current_timezone()`
  (an asgiref Local lookup) — on bound copies of every field, per response. `FastOutputMixin` builds
  once per class (and time zone) a plan of the fields and prints an instance by `getattr` along it.
  A plan exists only when every readable field is one of DRF's own plain field classes (exactly:
  `CharField`, `ChoiceField`, `DateTimeField`, ... — no subclass) on one model column, a plain
  `PrimaryKeyRelatedField`, or a nested serializer that has a plan itself, and the serializer does not
  override `to_representation()`. Those fields read nothing but the value (no context, no parent),
  so the plan applies the converter DRF's field would apply, or that field's own `to_representation`.
  A serializer with any other field (a `SerializerMethodField`, a dotted source, a custom field class
  or subclass) has no plan and goes through DRF's own bound path: fields deep-copied and bound to the
  instance, with its context.

* For lists, building a model instance per row (and per related row) cost more than the SQL and
  the JSON together. `ValuesListMixin` pages a `.values()` queryset of exactly the columns the
  serializer prints (a join for a nested serializer) and `FastOutputMixin.represent_values()` turns
  those rows into the same dicts, with the same plan; a serializer without a plan lists through DRF's
  ListModelMixin.

commandcentral/tests/test_api_output.py pins that the output is identical to plain DRF's.
"""

import copy

from django.conf import settings
from django.db import models
from django.utils import timezone
from rest_framework import ISO_8601, mixins, pagination, serializers
from rest_framework.response import Response
from rest_framework.settings import api_settings

from .list_sql import compiled_rows

_SLOT = "_cached_prototype_fields"
_LEAVES = "_cached_leaf_fields"


def _defined_by_drf(cls, name: str) -> bool:
    owner = next((klass for klass in cls.__mro__ if name in klass.__dict__), None)
    return owner is not None and owner.__module__ == "rest_framework.fields"


def _leaf(field) -> bool:
    """One of DRF's own plain fields, or a subclass that keeps DRF's __init__ and bind(): all its state
    is what DRF's __init__ set from its arguments (which validation and output only read) and what
    bind() sets on each copy. A class with its own __init__ may keep state of its own (a list it
    appends to), and a field that holds another field, serializer or queryset is not a leaf."""
    cls = type(field)
    return isinstance(field, tuple(_PLAIN_FIELDS)) and _defined_by_drf(cls, "__init__") and _defined_by_drf(cls, "bind") \
        and not any(isinstance(value, (serializers.Field, models.QuerySet, models.Manager)) for value in vars(field).values())


def _copy_fields(prototype: dict, leaves: frozenset) -> dict:
    """Each instance's own copy of the prototype fields, to be bound to it. DRF deep-copies a field by
    building it again from its arguments (~25 Python calls); a leaf field's state is exactly what that
    rebuild sets, so a copy of its attributes is the same field for a fraction of it. Anything else (a
    nested serializer, a list field's child, a related field's queryset) is deep-copied as DRF does.
    `API_SHALLOW_FIELD_COPIES = False` (a Django setting) deep-copies every field."""
    if not getattr(settings, "API_SHALLOW_FIELD_COPIES", True):
        return copy.deepcopy(prototype)
    fields = {}
    for name, field in prototype.items():
        if name in leaves:
            clone = fields[name] = field.__class__.__new__(field.__class__)
            clone.__dict__.update(field.__dict__)
        else:
            fields[name] = copy.deepcopy(field)
    return fields


class CachedFieldsMixin:
    """Build a serializer's fields once per class; each instance gets its own copies (_copy_fields)."""

    def get_fields(self):
        prototype = self._prototype_fields()
        return _copy_fields(prototype, type(self).__dict__[_LEAVES])

    def _prototype_fields(self) -> dict:
        cls = type(self)
        prototype = cls.__dict__.get(_SLOT)
        if prototype is None:
            # Meta, declared fields and the model decide the fields; nothing per request does.
            prototype = super().get_fields()
            setattr(cls, _LEAVES, frozenset(name for name, field in prototype.items() if _leaf(field)))
            setattr(cls, _SLOT, prototype)
        return prototype


def _fast_converter(field):
    """A plain function doing what `field.to_representation` does for non-None values, or None."""
    cls = type(field)
    if cls.to_representation is serializers.CharField.to_representation:
        return str
    if cls.to_representation is serializers.UUIDField.to_representation and field.uuid_format == "hex_verbose":
        return str
    if cls.to_representation is serializers.JSONField.to_representation and not field.binary:
        return _identity
    if (
        cls.to_representation is serializers.DateTimeField.to_representation
        and cls.enforce_timezone is serializers.DateTimeField.enforce_timezone
        and getattr(field, "format", api_settings.DATETIME_FORMAT) == ISO_8601
    ):
        zone = field.timezone if hasattr(field, "timezone") else field.default_timezone()
        if zone is None:
            return None

        def datetime_iso(value):
            if isinstance(value, str) or value.tzinfo is None:
                return field.to_representation(value)  # DRF's own handling of the unusual cases
            text = value.astimezone(zone).isoformat()
            return text[:-6] + "Z" if text.endswith("+00:00") else text

        return datetime_iso
    return None


def _identity(value):
    return value


# DRF's own field classes whose to_representation() reads only the value: no context, no parent, no
# request. Exact classes: a subclass may override anything (to_representation, get_attribute, bind).
_PLAIN_FIELDS = frozenset({
    serializers.BooleanField, serializers.CharField, serializers.ChoiceField, serializers.DateField,
    serializers.DateTimeField, serializers.DecimalField, serializers.EmailField, serializers.FloatField,
    serializers.IntegerField, serializers.IPAddressField, serializers.JSONField, serializers.SlugField,
    serializers.URLField, serializers.UUIDField,
})


class FastOutputMixin(CachedFieldsMixin):
    """Read path of a ModelSerializer without DRF's per-field generic machinery (same output)."""

    @classmethod
    def _values_plan(cls):
        """[(name, values lookup, attribute, convert, nested plan)] for `.values()` rows and model instances,
        or None when a field needs DRF (a method, a dotted source, a custom field class)."""
        # Per class and active time zone: the datetime converters bind the zone (like DRF's fields do
        # when they are bound, once per request).
        plans = cls.__dict__.get("_values_plans")
        if plans is None:
            plans = cls._values_plans = {}
        zone = timezone.get_current_timezone_name()
        if zone not in plans:
            plans[zone] = cls._build_values_plan(prefix="")
        return plans[zone]

    @classmethod
    def _build_values_plan(cls, prefix: str):
        if cls.to_representation is not FastOutputMixin.to_representation:
            return None  # the class prints differently: DRF's path, through its own method
        model_fields = {field.name: field for field in cls.Meta.model._meta.concrete_fields}
        attnames = {field.attname: field for field in model_fields.values()}
        plan = []
        # Fields bound to a context-free instance: only plain ones end up in the plan (see _PLAIN_FIELDS).
        for field in cls().fields.values():
            if field.write_only:
                continue
            attrs = field.source_attrs
            if len(attrs) != 1:
                return None
            attr = attrs[0]
            relation = model_fields.get(attr)
            if relation is not None and not relation.is_relation:
                relation = None
            if (isinstance(field, FastOutputMixin) and relation is not None
                    and type(field).get_attribute is serializers.Field.get_attribute):
                nested = type(field)._build_values_plan(prefix=f"{prefix}{attr}__")
                if nested is None:
                    return None
                # A null foreign key reads as None, like DRF's nested serializer.
                plan.append((field.field_name, prefix + relation.attname, attr, None, nested))
            elif type(field) is serializers.PrimaryKeyRelatedField and relation is not None and field.pk_field is None:
                plan.append((field.field_name, prefix + relation.attname, relation.attname, _identity, None))  # DRF: value.pk
            elif attr in attnames and type(field) in _PLAIN_FIELDS:
                plan.append((field.field_name, prefix + attr, attr, _fast_converter(field) or field.to_representation, None))
            else:
                return None
        return plan

    @classmethod
    def values_lookups(cls) -> list[str] | None:
        """The `.values()` lookups represent_values() needs, or None if this serializer needs model instances."""
        plan = cls._values_plan()
        if plan is None:
            return None
        lookups = []

        def walk(steps):
            for _name, lookup, _attr, _convert, nested in steps:
                lookups.append(lookup)
                if nested is not None:
                    walk(nested)

        walk(plan)
        return list(dict.fromkeys(lookups))

    @classmethod
    def represent_values(cls, rows) -> list[dict]:
        """The serializer's output for `.values(*values_lookups())` rows."""
        plan = cls._values_plan()
        return [_represent_row(plan, row) for row in rows]

    def to_representation(self, instance):
        plan = type(self)._values_plan() if isinstance(instance, models.Model) else None
        if plan is None:
            return super().to_representation(instance)  # a method field, a dotted source...: DRF's own path
        # Every field is a column, a key or a nested FastOutput serializer: no bound fields needed.
        return _represent_instance(plan, instance)


def _represent_row(plan, row: dict) -> dict:
    ret = {}
    for name, lookup, _attr, convert, nested in plan:
        value = row[lookup]
        if value is None:
            ret[name] = None
        elif nested is not None:
            ret[name] = _represent_row(nested, row)
        else:
            ret[name] = convert(value)
    return ret


def _represent_instance(plan, instance) -> dict:
    # _represent_row's twin on purpose: a row is one flat dict (nested values under prefixed lookups),
    # an instance a tree of objects; one function taking an accessor paid a call per field.
    ret = {}
    for name, _lookup, attr, convert, nested in plan:
        value = getattr(instance, attr)
        if value is None:
            ret[name] = None
        elif nested is not None:
            ret[name] = _represent_instance(nested, value)
        else:
            ret[name] = convert(value)
    return ret


class ValuesListMixin(mixins.ListModelMixin):
    """`list` over `.values()` rows when the serializer allows it (FastOutputMixin.values_lookups()).

    Same filters, ordering, pagination and output as DRF's ListModelMixin; only the per-row model
    instances are skipped. A view that sets `compiled_default_pages` promises that its list queryset,
    for a request without URL arguments and with nothing but the page size/offset in the query string,
    depends on nothing but `request.user`: such *default pages* run SQL compiled once per shape
    (core.api.speedups.list_sql), which proves the caller's key is the only parameter or keeps the ORM path.
    """

    compiled_default_pages = False

    def list(self, request, *args, **kwargs):
        serializer_class = self.get_serializer_class()
        lookups = getattr(serializer_class, "values_lookups", lambda: None)()
        if lookups is None:
            return super().list(request, *args, **kwargs)
        rows = self._compiled_rows(lookups) or self.filter_queryset(self.get_queryset()).values(*lookups)
        page = self.paginate_queryset(rows)
        if page is not None:
            return self.get_paginated_response(serializer_class.represent_values(page))
        return Response(serializer_class.represent_values(rows))

    def _compiled_rows(self, lookups):
        """A default page through list_sql.compiled_rows(); None for anything else."""
        paginator, request = self.paginator, self.request
        if not self.compiled_default_pages or paginator is None or self.args or self.kwargs:
            return None  # URL arguments (a format suffix included) are not part of a shape
        own = {getattr(paginator, name, None) for name in ("limit_query_param", "offset_query_param")}
        if isinstance(paginator, pagination.CursorPagination):
            own = {paginator.page_size_query_param}  # no cursor: the first page
        if set(request.query_params) - (own - {None}):
            return None

        def build(caller):
            """The page's queryset as this view builds it for `caller` (list_sql compiles it for a probe too)."""
            user = request.user
            request.user = caller
            try:
                queryset = self.filter_queryset(self.get_queryset()).values(*lookups)
                if isinstance(paginator, pagination.CursorPagination):
                    queryset = queryset.order_by(*paginator.get_ordering(request, queryset, self))
                return queryset
            finally:
                request.user = user

        shape = (type(self), self.action, tuple(lookups), getattr(self.queryset, "db", None))
        # Printed: only represent_values() reads these rows, and it prints UUIDs and datetimes as text anyway.
        return compiled_rows(shape, request.user, build, lookups, printed=True)
