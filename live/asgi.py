"""The ASGI application: Django's handler, minus a thread per open event stream.

Django's ASGIHandler runs each request in a ThreadSensitiveContext: the request's sync code (sync
middleware, the DRF checks) runs on a thread of that request's own, created on first use and kept
until the response has been sent. For an event stream the response is sent for hours, so every open
stream would keep an idle thread. Requests for the stream are handled without that context instead:
their sync code runs on asgiref's one shared thread for thread-sensitive code (the documented default
when the outermost caller is async), only at connect and for a catch-up read, and each call closes its
database connection (live.api, live.hub). Every other request is Django's usual one.
"""

from django.core.handlers.asgi import ASGIHandler as DjangoASGIHandler
from django.urls import reverse


class ASGIHandler(DjangoASGIHandler):
    _stream_path = None

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope.get("path") == self.stream_path():
            await self.handle(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    @classmethod
    def stream_path(cls) -> str:
        if cls._stream_path is None:
            cls._stream_path = reverse("api:events-stream")
        return cls._stream_path
