"""The API's speed-ups, kept in one place so a reader knows where private internals are used.

- `list_sql`: compiled SQL of the default list pages, cached per caller scope; refuses any
  parameter it cannot attribute to the caller and falls back to the ORM.
- `output`: `FastOutputMixin`, rows printed by a plan of plain DRF fields; anything else
  takes DRF's own serializer path.

`core.by_key` (reads by key) and `commandcentral.db_backends.sqlite3`
are the other two; `bench/README.md` names what each one buys and its fallback.
"""
