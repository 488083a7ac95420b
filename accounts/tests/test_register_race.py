"""Issue 16 (10, part): eight simultaneous registrations of one email → one 201 and seven 400s, no 500."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from accounts.models import User
from audit.models import AuditEntry

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL): concurrent writers"),
]


@pytest.mark.django_db(transaction=True)
def test_simultaneous_registrations_of_one_email_create_one_user():
    barrier = threading.Barrier(8)

    def register(n):
        try:
            barrier.wait()
            response = APIClient().post("/api/v1/auth/register/", {"email": "race@example.com", "password": f"Long-enough-pass-{n}!x",
                                                                     "name": f"Racer {n}"}, format="json")
            return response.status_code, response.json()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(register, range(8)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [400] * 7, results
    assert all(body == {"email": ["A user with this email already exists."]} for status, body in results if status == 400)
    user = User.objects.get(email="race@example.com")
    assert AuditEntry.objects.filter(event_name="user.created", entity_id=str(user.pk)).count() == 1
    assert AuditEntry.objects.filter(event_name="user.created").count() == 1  # the refused ones left nothing
