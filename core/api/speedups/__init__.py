"""The API's speed-ups, kept in one place so a reader knows where private internals are used.

- `list_sql`: compiled SQL of the default list pages, cached per caller scope; refuses any
  parameter it cannot attribute to the caller and falls back to the ORM.
- `output`: `FastOutputMixin`, rows printed by a plan of plain DRF fields; anything else
  takes DRF's own serializer path. `CachedFieldsMixin` builds a serializer's fields once per class
  and gives each instance copies of DRF's plain fields by their attributes (anything else is
  deep-copied as DRF does; `API_SHALLOW_FIELD_COPIES = False` deep-copies all).

`core.by_key` (reads by key) and `commandcentral.db_backends` (query metrics) are the other two;
`core.plain_insert` and `core.transitions` build their INSERT and UPDATE once from public field
methods only. `bench/README.md` names what each one buys and its fallback.
"""
