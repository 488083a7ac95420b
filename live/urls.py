"""This app's pages (included by commandcentral.urls)."""

urlpatterns = []
