from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path

from . import pages

urlpatterns = [
    # Before admin.site.urls: the admin's login goes through the one login throttle.
    path("admin/login/", pages.admin_login, name="admin_login_throttled"),
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico on every page without a <link rel=icon> (the admin, the API docs).
    path("favicon.ico", lambda request: redirect(static("favicon.svg"), permanent=True)),
    path("api/v1/", include("commandcentral.api.urls")),
    # The browsable API's "Log in"/"Log out" links (DRF reverses rest_framework:login/logout): our own
    # throttled page login and logout, not DRF's unthrottled copy of Django's.
    path("api/auth/", include(([
        path("login/", pages.PageLoginView.as_view(), name="login"),
        path("logout/", pages.logout_view, name="logout"),
    ], "rest_framework"))),
    path("", include("commandcentral.ops_urls")),
    path("", include("commandcentral.page_urls")),
    path("", include("commandcentral.account_urls")),
    path("", include("notifications.urls")),
    path("", include("search.urls")),
]

handler400 = "commandcentral.error_views.bad_request"
handler403 = "commandcentral.error_views.permission_denied"
handler404 = "commandcentral.error_views.page_not_found"
handler500 = "commandcentral.error_views.server_error"
