"""The REST API's shared plumbing: fields, schema hooks, error mapping, the URL map.

Each app's viewsets live in the app (`projects/api.py`, ...); what they share is here.
The speed-ups (private internals of Django and DRF, each with a plain fallback and its
measured gain in `bench/README.md`) are kept apart in `core.api.speedups`.
"""
