"""Health, readiness and metrics (no auth)."""

urlpatterns = []
