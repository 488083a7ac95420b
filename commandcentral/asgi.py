"""ASGI entry point: `uvicorn commandcentral.asgi:application` serves /api/v1/events/stream/ (live/).

The same Django project as the WSGI one (commandcentral.wsgi, gunicorn), with live.asgi's handler:
Django's own, except that an open event stream holds no thread (docs/operations.md, "The live event stream").
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commandcentral.settings")
django.setup(set_prefix=False)  # what django.core.asgi.get_asgi_application() does before building its handler

from live.asgi import ASGIHandler  # noqa: E402  (needs the apps loaded)

application = ASGIHandler()
