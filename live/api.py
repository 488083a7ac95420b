"""GET /api/v1/events/stream/: the audit rows the caller may see, as Server-Sent Events, while they are sealed.

Each sealed row is one message: `id:` its leaf index, `event:` its event name (`change` with ?as=change,
for clients that listen to one named event), `data:` the row as a webhook delivery carries it
(audit.serializers.event_data). `Last-Event-ID` (sent by EventSource when it reconnects) or ?after=N
resumes after leaf N without a gap; with neither, the stream starts at the tip. Unread-notification
counts arrive as `event: notifications` without an id, so the id a client resumes from stays a leaf.

Authentication, permission, throttles, the query string and the project are checked once, at connect,
by DRF's own machinery, exactly as for events/ (audit.api.visible_events); the open stream itself is
served by live.hub. Only an ASGI server can hold many such connections: under WSGI (gunicorn,
runserver) the view answers at once instead of tying up a worker (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.http import HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from accounts.models import ServiceKey
from audit.api import visible_events
from core.api.support import check_query_parameters, visible_project_or_404
from core.errors import error_body

from .hub import Stream, catch_up, current_tip, hub, latest_notification, visible_scope

QUERY_PARAMETERS = frozenset({"after", "project", "as"})
MAX_LEAF_DIGITS = 18  # a leaf index is a 64-bit integer


class JSONErrors(BaseContentNegotiation):
    """A refusal is JSON whatever the Accept header (EventSource sends `Accept: text/event-stream`);
    the stream itself is not rendered by DRF."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None


def leaf_position(value: str, name: str) -> int:
    """A client's resume point: a non-negative integer, else a 400 naming where it came from."""
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > MAX_LEAF_DIGITS:
        raise serializers.ValidationError({name: ["Must be a non-negative integer: the id of the last event received."]})
    return int(value)


class EventStreamGate(APIView):
    """The connect-time half: who is asking, what they may see, where they resume. Returns the stream."""

    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONErrors
    filter_backends = ()  # check_query_parameters reads the view's backends
    http_method_names = ["get", "options"]

    def get(self, request):
        check_query_parameters(request, self, QUERY_PARAMETERS)
        as_change = False
        if "as" in request.query_params:
            if request.query_params["as"] != "change":
                raise serializers.ValidationError({"as": ["Use as=change (every row as `event: change`), or leave it out."]})
            as_change = True
        if request.headers.get("Last-Event-ID") is not None:
            cursor = leaf_position(request.headers["Last-Event-ID"], "Last-Event-ID")
        elif "after" in request.query_params:
            cursor = leaf_position(request.query_params["after"], "after")
        else:
            cursor = None
        # The tip first, then what the caller may see: a change of access sealed after this tip reaches
        # the process's watcher (live.hub), one sealed before it is in the scope read below.
        opened_at, notifications_at = current_tip(), latest_notification()
        queryset = visible_events(request)  # a ?project= the caller cannot see is a 404 here, as on events/
        project_id = None
        if request.query_params.get("project"):
            project_id = visible_project_or_404(request.user, request.query_params["project"]).pk
            queryset = queryset.filter(project_id=project_id)
        user = request.user
        stream = Stream(user_id=user.pk, scope=visible_scope(user), project_id=project_id, opened_at=opened_at,
                        notifications_at=notifications_at)
        deadline = None
        if isinstance(request.auth, ServiceKey):
            stream.via, stream.key_id = "api_key", request.auth.pk
        elif request.auth is not None and hasattr(request.auth, "payload"):  # a JWT: it ends when the token does
            stream.via, stream.generation = "jwt", user.token_generation
            deadline = request.auth.payload.get("exp")
        elif request.auth is None:
            stream.via, stream.generation = "session", user.session_generation
        if cursor is None:
            cursor = opened_at
        response = StreamingHttpResponse(
            messages(stream, queryset, cursor, as_change=as_change, deadline=deadline),
            content_type="text/event-stream; charset=utf-8",
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # nginx: pass each message on as it comes
        return response


_gate = EventStreamGate.as_view()


def _connect(request):
    """The gate, on a worker thread; its database connection is closed before the stream starts."""
    try:
        return _gate(request)
    finally:
        connections.close_all()


@csrf_exempt
async def event_stream(request):
    if not isinstance(request, ASGIRequest):
        return refuse_under_wsgi(request)
    return await sync_to_async(_connect)(request)


def refuse_under_wsgi(request):
    """A WSGI worker would hold one client each (or read the endless stream to its end): never here."""
    if settings.LIVE_STREAM_URL.startswith(("http://", "https://")):
        query = request.META.get("QUERY_STRING", "")
        return HttpResponseRedirect(settings.LIVE_STREAM_URL + (f"?{query}" if query else ""), status=307)
    return JsonResponse(
        error_body(503, "The event stream is served by the ASGI server (uvicorn commandcentral.asgi:application), "
                        "not by this WSGI process; see docs/operations.md, \"The live event stream\".",
                   code="stream_not_served_here"),
        status=503, headers={"Retry-After": "30"},
    )


async def messages(stream: Stream, queryset, cursor: int, *, as_change: bool, deadline: float | None):
    """The stream's body: a retry line, then every visible event after `cursor`, then the live ones."""
    await sync_to_async(connections.close_all)()  # whatever the response's middleware opened
    current = hub()
    current.join(stream)
    heartbeat = settings.LIVE_STREAM_HEARTBEAT
    try:
        yield f"retry: {settings.LIVE_STREAM_RETRY_MS}\n\n".encode()
        while not current.polled.is_set():  # the watcher's first read (it retries while the database is away)
            try:
                async with asyncio.timeout(heartbeat):
                    await current.polled.wait()
            except TimeoutError:
                yield b": keepalive\n\n"
        while not stream.closed:
            stream.wake.clear()
            start = current.covered_from()
            if cursor + 1 < start:  # behind the ring: this stream reads what it missed itself
                events, cursor = await sync_to_async(catch_up)(queryset, cursor, start)
                text = b"".join(event.message(as_change) for event in events if stream.sees(event))
                if text:
                    yield text
                continue
            chunk = current.pending(stream, cursor, as_change)
            out = [chunk] if chunk else []
            cursor = max(cursor, current.tip)
            if stream.notices:
                out.extend(f'event: notifications\ndata: {{"unread": {count}}}\n\n'.encode() for count in stream.notices)
                stream.notices.clear()
            if out:
                yield b"".join(out)
                continue
            wait = heartbeat if deadline is None else min(heartbeat, deadline - time.time())
            if wait <= 0:
                return  # the token has expired: the client reconnects with a fresh one and its Last-Event-ID
            try:
                async with asyncio.timeout(wait):  # no task per wait, unlike wait_for
                    await stream.wake.wait()
            except TimeoutError:
                yield b": keepalive\n\n"
    finally:
        current.leave(stream)
