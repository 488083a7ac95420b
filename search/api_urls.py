"""This app's part of /api/v1/ (included by commandcentral.api.urls, in its `api` namespace)."""

urlpatterns = []
