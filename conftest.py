"""Shared fixtures: the five roles (operator, owner, member, viewer, outsider) and an API client; the
audit chain guard."""

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from projects.models import MembershipRole
from projects.tests.factories import MembershipFactory, ProjectFactory


_audit_rows_written = 0


def _count_audit_row(sender, created=False, **kwargs):
    global _audit_rows_written
    _audit_rows_written += created


def pytest_configure(config):
    from django.db.models.signals import post_save

    post_save.connect(_count_audit_row, sender="audit.AuditEntry", dispatch_uid="conftest_count_audit_rows")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After every test that wrote audit rows (in this process), the ledger must still verify.

    Runs after the test body and before its database is rolled back or flushed: pending rows are
    sealed, then every leaf is recomputed from its row (verify_ledger), so a signal handler,
    middleware or service that changes an audit row after it was written, or a row that escapes the
    sequencer, fails the test that made it happen. Tests that break the ledger on purpose carry
    @pytest.mark.audit_tamper.
    """
    written_before = _audit_rows_written
    result = yield
    if _audit_rows_written != written_before and not item.get_closest_marker("audit_tamper"):
        from django.db import connection

        from audit.ledger.sequencer import seal_pending
        from audit.ledger.verification import verify_ledger

        if connection.needs_rollback:
            return result  # the test left its transaction failed: nothing it wrote can be read or kept
        seal_pending()  # verification reads only: what the test left queued is sealed first
        report = verify_ledger()
        if not report.ok:
            failure = report.failure
            pytest.fail(
                f"audit ledger broken after this test ({failure.kind} at row #{failure.row_id}, leaf {failure.leaf_index}): "
                f"{failure.message}",
                pytrace=False,
            )
    return result


@pytest.fixture(autouse=True)
def _signer_record_per_test(tmp_path, settings):
    """The signer's record lives outside the database; each test's database starts empty, so its record
    must too (a record left by an earlier test would rightly make the signer refuse this test's tree)."""
    settings.AUDIT_SIGNER_STATE = str(tmp_path / "audit-signer.state")


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
