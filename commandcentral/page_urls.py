"""Browser pages (session login, htmx)."""

from django.urls import path

from audit import views as audit_views
from decisions import views as decision_views
from discussions import views as discussion_views
from projects import views as project_views
from states import views as state_views
from webhooks import views as webhook_views

from . import pages

urlpatterns = [
    path("login", pages.PageLoginView.as_view(), name="login"),
    path("logout", pages.logout_view, name="logout"),
    path("logout/everywhere", pages.logout_everywhere, name="logout_everywhere"),
    path("", pages.dashboard, name="dashboard"),
    path("projects/", project_views.project_list, name="project_list"),
    path("projects/new/", project_views.project_create, name="project_create"),
    path("projects/<uuid:pk>/", pages.project_detail, name="project_detail"),
    path("projects/<uuid:pk>/webhooks/", webhook_views.project_webhooks, name="project_webhooks"),
    path("webhooks/<uuid:pk>/", webhook_views.webhook_detail, name="webhook_detail"),
    path("webhooks/<uuid:pk>/<slug:action>/", webhook_views.webhook_action, name="webhook_action"),
    path("projects/<uuid:pk>/edit/", project_views.project_edit, name="project_edit"),
    path("projects/<uuid:pk>/delete/", project_views.project_delete, name="project_delete"),
    path("projects/<uuid:pk>/restore/", project_views.project_restore, name="project_restore"),
    path("projects/<uuid:pk>/transitions/<slug:name>/", project_views.project_transition, name="project_transition"),
    path("projects/<uuid:pk>/team/", project_views.team_add, name="project_team_add"),
    path("projects/<uuid:pk>/team/<uuid:user_id>/remove/", project_views.team_remove, name="project_team_remove"),
    path("projects/<uuid:pk>/team/<uuid:user_id>/restore/<slug:role>/", project_views.team_restore,
         name="project_team_restore"),
    path("projects/<uuid:project_pk>/decisions/new/", decision_views.decision_create, name="decision_create"),
    path("decisions/", decision_views.decision_list, name="decision_list"),
    path("decisions/<uuid:pk>/", decision_views.decision_detail, name="decision_detail"),
    path("decisions/<uuid:pk>/edit/", decision_views.decision_edit, name="decision_edit"),
    path("decisions/<uuid:pk>/delete/", decision_views.decision_delete, name="decision_delete"),
    path("decisions/<uuid:pk>/restore/", decision_views.decision_restore, name="decision_restore"),
    path("decisions/<uuid:pk>/reviews/", decision_views.decision_review, name="decision_review"),
    path("decisions/<uuid:pk>/transitions/<slug:name>/", decision_views.decision_transition,
         name="decision_transition"),
    path("decisions/<uuid:pk>/comments/", discussion_views.decision_comments, name="decision_comments"),
    path("projects/<uuid:pk>/comments/", discussion_views.project_comments, name="project_comments"),
    path("comments/<uuid:pk>/", discussion_views.comment_detail, name="comment_detail"),
    path("comments/<uuid:pk>/edit/", discussion_views.comment_edit, name="comment_edit"),
    path("comments/<uuid:pk>/delete/", discussion_views.comment_delete_view, name="comment_delete"),
    path("states/", state_views.entity_list, name="entity_list"),
    path("states/<uuid:pk>/", state_views.entity_detail, name="entity_detail"),
    path("audit/", audit_views.audit_list, name="audit_list"),
    path("audit/export.csv", audit_views.audit_export, name="audit_export"),
    path("audit/<int:pk>/", audit_views.audit_entry, name="audit_entry"),
    path("audit/<int:pk>/proof.json", audit_views.audit_entry_proof, name="audit_entry_proof"),
]
