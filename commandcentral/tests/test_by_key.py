"""get_by_key() returns what `Model._base_manager.get(pk=...)` returns (the same SQL, compiled once)."""

import uuid

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from core.by_key import get_by_key
from core.transitions import perform_transition
from projects.models import Project


def same_row(fast, orm):
    assert type(fast) is type(orm)
    for field in type(orm)._meta.concrete_fields:
        assert getattr(fast, field.attname) == getattr(orm, field.attname), field.attname
        assert type(getattr(fast, field.attname)) is type(getattr(orm, field.attname)), field.attname
    assert fast._state.adding is False and fast._state.db == orm._state.db


def test_user_and_project_match_the_orm(project, owner):
    project.settings = {"nested": {"list": [1, None, "x"]}, "ratio": 0.25}
    project.save()
    perform_transition(project, "activate", actor=owner, rationale="go")  # state_changed_* set
    for _ in range(2):  # the second call runs the cached SQL
        same_row(get_by_key(User, owner.pk), User.objects.get(pk=owner.pk))
        same_row(get_by_key(Project, project.pk), Project.objects.get(pk=project.pk))
        same_row(get_by_key(Project, str(project.pk)), Project.objects.get(pk=project.pk))  # a key as text


def test_missing_row_is_does_not_exist(db):
    with pytest.raises(Project.DoesNotExist):
        get_by_key(Project, uuid.uuid4())
    with pytest.raises(User.DoesNotExist):
        get_by_key(User, uuid.uuid4())


def test_loaded_fsm_state_guards_a_concurrent_save(project, owner):
    """The instance remembers its loaded state like an ORM-loaded one (ConcurrentTransitionMixin)."""
    stale = get_by_key(Project, project.pk)
    perform_transition(project, "activate", actor=owner)
    from django_fsm import ConcurrentTransition

    stale.name = "Renamed from a stale copy"
    with pytest.raises(ConcurrentTransition):
        stale.save()


def test_for_update_is_one_query_and_locks_on_postgresql(project):
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        locked = get_by_key(Project, project.pk, for_update=True)
    assert locked.pk == project.pk
    selects = [query["sql"] for query in captured.captured_queries if query["sql"].startswith("SELECT")]
    assert len(selects) == 1
    assert selects[0].endswith("FOR UPDATE") == connection.features.has_select_for_update


def test_api_request_reads_the_token_user_by_key(api_client, owner):
    from rest_framework_simplejwt.tokens import AccessToken

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(owner)}")
    response = api_client.get("/api/v1/auth/me/")
    assert response.status_code == 200 and response.json()["email"] == owner.email
    owner.is_active = False
    owner.save()
    response = api_client.get("/api/v1/auth/me/")
    assert response.status_code == 401  # simplejwt's own is_active check still applies
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(User(pk=uuid.uuid4()))}")
    assert api_client.get("/api/v1/auth/me/").status_code == 401


def test_a_token_naming_no_valid_key_is_a_401(api_client, owner):
    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken.for_user(owner)
    token["user_id"] = "not-a-uuid"
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api_client.get("/api/v1/auth/me/")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
