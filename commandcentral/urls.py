from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from . import pages

urlpatterns = [
    # Before admin.site.urls: the admin's login goes through the one login throttle (issue 16).
    path("admin/login/", pages.admin_login, name="admin_login_throttled"),
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico on every page without a <link rel=icon> (the admin, the API docs).
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("api/v1/", include("commandcentral.api.urls")),
    path("", include("commandcentral.ops_urls")),
    path("", include("commandcentral.page_urls")),
]

handler400 = "commandcentral.error_views.bad_request"
handler403 = "commandcentral.error_views.permission_denied"
handler404 = "commandcentral.error_views.page_not_found"
handler500 = "commandcentral.error_views.server_error"
