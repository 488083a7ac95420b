"""Browser pages (session login, htmx)."""

urlpatterns = []
