"""This app's pages (included by commandcentral.urls)."""

from django.urls import path

from . import views

urlpatterns = [
    path("notifications/", views.notification_list, name="notification_list"),
    path("notifications/bell/", views.notification_bell, name="notification_bell"),
    path("notifications/read/", views.notification_read, name="notification_read"),
    path("notifications/unsubscribe/<str:token>/", views.unsubscribe, name="notification_unsubscribe"),
    path("notifications/invitations/<str:pk>/", views.invitation_link, name="notification_invitation"),
    path("projects/<uuid:pk>/watch/", views.project_watch, name="project_watch"),
]
