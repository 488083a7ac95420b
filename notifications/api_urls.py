"""This app's part of /api/v1/ (included by commandcentral.api.urls, in its `api` namespace)."""

from django.urls import path

from . import api

urlpatterns = [
    path("notifications/", api.NotificationListView.as_view(), name="notification-list"),
    path("notifications/read/", api.MarkReadView.as_view(), name="notification-read"),
    path("notifications/preferences/", api.PreferencesView.as_view(), name="notification-preferences"),
    path("projects/<str:project_id>/watch/", api.WatchView.as_view(), name="project-watch"),
]
