"""/api/v1/: one router; each app registers its viewsets here."""

from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.reverse import reverse
from rest_framework.routers import DefaultRouter

from csp.decorators import csp_update
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from audit.api import EventViewSet
from audit.api_witness import WitnessAddCheckpointView, WitnessKeyView
from audit.api_ledger import (
    LedgerCheckpointView,
    LedgerConsistencyView,
    LedgerKeyView,
    LedgerStatusView,
    LedgerVerifyView,
)
from accounts.api import (
    InvitationView,
    LoginView,
    LogoutEverywhereView,
    LogoutView,
    MeView,
    ProjectInvitationsView,
    RefreshView,
    RegisterView,
)
from states.api import EntityStateViewSet, StateMachineViewSet
from decisions.api import DecisionViewSet, MarkdownRenderer
from discussions.api import CommentViewSet, DecisionCommentsView, ProjectCommentsView
from projects.api import ProjectViewSet
from webhooks.api import ProjectWebhooksView, WebhookViewSet
from live import api_urls as live_urls
from notifications import api_urls as notifications_urls
from search import api_urls as search_urls

# What the API docs add to our Content-Security-Policy (settings), on their own pages only:
# - data: images: Swagger UI's and ReDoc's icons are data: SVGs in their stylesheet and bundles.
# - ReDoc: two inline <style>s, by hash rather than 'unsafe-inline': its bundle adds one with
#   perfect-scrollbar's CSS as it loads, and styled-components adds empty ones that it fills through the
#   CSSOM (which CSP does not govern). Both belong to the pinned drf-spectacular-sidecar; after an upgrade
#   the browser test fails and Chromium's message names the hash of any new one.
# - ReDoc: its search index runs in a worker made from a blob: URL, which only a script already running
#   in the page can create.
# ReDoc's sidebar logo stays refused (img-src): an image from cdn.redoc.ly, which ReDoc drops on error.
DOCS_CSP = {"img-src": ["data:"]}
REDOC_CSP = {
    **DOCS_CSP,
    "style-src": [
        "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",  # perfect-scrollbar's CSS
        "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # the empty string
    ],
    "worker-src": ["blob:"],
}

class APIRoot(DefaultRouter.APIRootView):
    """CommandCentral's API. Log in (top right, or `POST auth/login/` for a token), then follow the links:
    the resources, how to authenticate, the docs, the ledger and the state machines."""

    permission_classes = [AllowAny]  # a list of links: no data
    EXTRA = {
        "auth-login": "api:auth-login", "auth-refresh": "api:auth-refresh", "auth-me": "api:auth-me",
        "docs": "api:docs", "redoc": "api:redoc", "schema": "api:schema",
        "ledger-key": "api:ledger-key", "ledger-checkpoint": "api:ledger-checkpoint",
    }

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        for name, url_name in self.EXTRA.items():
            response.data[name] = reverse(url_name, request=request, format=kwargs.get("format"))
        return response


router = DefaultRouter()
router.APIRootView = APIRoot
router.register("projects", ProjectViewSet, basename="project")
router.register("decisions", DecisionViewSet, basename="decision")
router.register("events", EventViewSet, basename="event")
router.register("state-machines", StateMachineViewSet, basename="state-machine")
router.register("entity-states", EntityStateViewSet, basename="entity-state")
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register("comments", CommentViewSet, basename="comment")

app_name = "api"
urlpatterns = [
    path("auth/register/", RegisterView.as_view(), name="auth-register"),
    path("auth/login/", LoginView.as_view(), name="auth-login"),
    path("auth/refresh/", RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout/", LogoutView.as_view(), name="auth-logout"),
    path("auth/logout/everywhere/", LogoutEverywhereView.as_view(), name="auth-logout-everywhere"),
    path("auth/me/", MeView.as_view(), name="auth-me"),
    path("projects/<str:project_id>/webhooks/", ProjectWebhooksView.as_view(), name="project-webhooks"),
    path("projects/<str:project_id>/invitations/", ProjectInvitationsView.as_view(), name="project-invitations"),
    path("invitations/<str:pk>/", InvitationView.as_view(), name="invitation-detail"),
    path("projects/<str:project_id>/comments/", ProjectCommentsView.as_view(), name="project-comments"),
    path("decisions/<str:decision_id>/comments/", DecisionCommentsView.as_view(), name="decision-comments"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The docs under our Content-Security-Policy (DOCS_CSP above, templates/api/): Swagger UI's init script
    # is served by the same URL with ?script instead of inline; both pages take their styles from files.
    path(
        "docs/",
        csp_update(DOCS_CSP)(
            SpectacularSwaggerSplitView.as_view(url_name="api:schema", template_name="api/swagger_ui.html")
        ),
        name="docs",
    ),
    path(
        "redoc/",
        csp_update(REDOC_CSP)(SpectacularRedocView.as_view(url_name="api:schema", template_name="api/redoc.html")),
        name="redoc",
    ),
    # No trailing slash: the URL names a file.
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
    # C2SP tlog-witness names the call add-checkpoint, without a trailing slash.
    path("witness/add-checkpoint", WitnessAddCheckpointView.as_view(), name="witness-add-checkpoint"),
    path("witness/key/", WitnessKeyView.as_view(), name="witness-key"),
    # Their patterns in this list, not include()d: every include() is one more resolver each request tries
    # before it reaches the router's. The stream's goes before the router (whose events/<pk>/ would take
    # events/stream/), the rest after it, where requests for the router's resources never look.
    *live_urls.urlpatterns,
    *router.urls,
    *notifications_urls.urlpatterns,
    *search_urls.urlpatterns,
]
