"""This app's part of /api/v1/ (included by commandcentral.api.urls, in its `api` namespace)."""

from django.urls import path

from .api import event_stream

urlpatterns = [
    path("events/stream/", event_stream, name="events-stream"),
]
