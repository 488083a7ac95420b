from django.contrib import admin
from django.urls import include, path

from . import pages

urlpatterns = [
    # Before admin.site.urls: the admin's login goes through the one login throttle (issue 16).
    path("admin/login/", pages.admin_login, name="admin_login_throttled"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("commandcentral.api.urls")),
    path("", include("commandcentral.ops_urls")),
    path("", include("commandcentral.page_urls")),
]

handler400 = "commandcentral.error_views.bad_request"
handler403 = "commandcentral.error_views.permission_denied"
handler404 = "commandcentral.error_views.page_not_found"
handler500 = "commandcentral.error_views.server_error"
