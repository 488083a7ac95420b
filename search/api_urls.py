"""This app's part of /api/v1/ (included by commandcentral.api.urls, in its `api` namespace)."""

from django.urls import path

from .api import SearchView

urlpatterns = [
    path("search/", SearchView.as_view(), name="search"),
]
