"""/api/v1/: one router; each app registers its viewsets here."""

from django.urls import include, path
from rest_framework.renderers import JSONRenderer
from rest_framework.routers import DefaultRouter

from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from audit.api import EventViewSet
from audit.api_ledger import (
    LedgerCheckpointView,
    LedgerConsistencyView,
    LedgerKeyView,
    LedgerStatusView,
    LedgerVerifyView,
)
from accounts.api import LoginView, LogoutView, MeView, RefreshView, RegisterView
from states.api import EntityStateViewSet, StateMachineViewSet
from decisions.api import DecisionViewSet, MarkdownRenderer
from projects.api import ProjectViewSet

router = DefaultRouter()
router.register("projects", ProjectViewSet, basename="project")
router.register("decisions", DecisionViewSet, basename="decision")
router.register("events", EventViewSet, basename="event")
router.register("state-machines", StateMachineViewSet, basename="state-machine")
router.register("entity-states", EntityStateViewSet, basename="entity-state")

app_name = "api"
urlpatterns = [
    path("auth/register/", RegisterView.as_view(), name="auth-register"),
    path("auth/login/", LoginView.as_view(), name="auth-login"),
    path("auth/refresh/", RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout/", LogoutView.as_view(), name="auth-logout"),
    path("auth/me/", MeView.as_view(), name="auth-me"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    # SPEC §6 names it without a trailing slash: it is a file.
    path(
        "decisions/<uuid:pk>/record.md",
        DecisionViewSet.as_view({"get": "record"}, renderer_classes=[MarkdownRenderer, JSONRenderer], filterset_class=None),
        name="decision-record-md",
    ),
    path("events/verify/", LedgerVerifyView.as_view(), name="event-verify"),
    path("ledger/key/", LedgerKeyView.as_view(), name="ledger-key"),
    path("ledger/checkpoint/", LedgerCheckpointView.as_view(), name="ledger-checkpoint"),
    path("ledger/consistency/", LedgerConsistencyView.as_view(), name="ledger-consistency"),
    path("ledger/status/", LedgerStatusView.as_view(), name="ledger-status"),
    path("", include(router.urls)),
]
