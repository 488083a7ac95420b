"""Shared fixtures: the five roles of SPEC §4 and an API client."""

import pytest
from rest_framework.test import APIClient

from commandcentral.accounts.tests.factories import UserFactory
from projects.models import MembershipRole
from projects.tests.factories import MembershipFactory, ProjectFactory


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def operator(db):
    return UserFactory(email="operator@example.com", is_staff=True)


@pytest.fixture
def owner(db):
    return UserFactory(email="owner@example.com")


@pytest.fixture
def member(db):
    return UserFactory(email="member@example.com")


@pytest.fixture
def viewer(db):
    return UserFactory(email="viewer@example.com")


@pytest.fixture
def outsider(db):
    return UserFactory(email="outsider@example.com")


@pytest.fixture
def project(owner, member, viewer):
    """A proposed project owned by `owner`, with `member` and `viewer` on its team."""
    project = ProjectFactory(owner=owner)
    MembershipFactory(project=project, user=member, role=MembershipRole.MEMBER)
    MembershipFactory(project=project, user=viewer, role=MembershipRole.VIEWER)
    return project


@pytest.fixture
def roles(operator, owner, member, viewer, outsider):
    return {"operator": operator, "owner": owner, "member": member, "viewer": viewer, "outsider": outsider}
