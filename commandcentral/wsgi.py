"""The WSGI application (gunicorn: `commandcentral.wsgi:application`)."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commandcentral.settings")
application = get_wsgi_application()


def freeze_startup_objects() -> None:
    """Load the URLconf (and every view, serializer and form it imports) now instead of at the first
    request, then move everything start-up made into the garbage collector's permanent generation.

    Those ~135,000 objects live as long as the process, yet every full collection walked them: a pause
    of ~50 ms every thousand or so writes, felt by every request queued behind it. Frozen, a full
    collection takes ~1 ms (bench/README.md, "Sixth round").
    """
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the import is the point
    gc.collect()
    gc.freeze()


freeze_startup_objects()
