from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("commandcentral.api_urls")),
    path("", include("commandcentral.ops_urls")),
    path("", include("commandcentral.page_urls")),
]
