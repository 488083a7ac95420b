"""The domain core every app builds on; it imports no app's models (import-linter pins it).

- `access`: who may see and do what: role_of, the can_* checks, the visibility scopes.
- `transitions`: the one transition action (check → execute → log) for FSM models and entity states.
- `soft_delete`: soft delete and restore of a project or a decision (check → write → log).
- `recording`: the audit recording API (record_event, audited_write, the request/command context).
- `errors`: domain errors every surface maps the same way.
- `by_key`, `base_models`: a compiled primary-key read; abstract UUID/timestamp models.
"""
