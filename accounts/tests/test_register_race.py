"""Eight simultaneous registrations of one email → one account, eight 201s (a taken
address is answered as a new one), no 500."""

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
    assert [status for status, _ in results] == [201] * 8, results
    assert all(set(body) == set(results[0][1]) for _, body in results)
    user = User.objects.get(email="race@example.com")
    assert sum(body["id"] == str(user.pk) for _, body in results) == 1
    assert AuditEntry.objects.filter(event_name="user.created", entity_id=str(user.pk)).count() == 1
    assert AuditEntry.objects.filter(event_name="user.created").count() == 1  # the turned-away ones created nothing
    assert AuditEntry.objects.filter(event_name="auth.register_existing", entity_id=str(user.pk)).count() == 7
