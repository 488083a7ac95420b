"""For tests that go through a real request: the whole trail still verifies, every row sealed."""

import io

from django.core.management import call_command

from audit.models import AuditEntry


def assert_trail_verifies() -> None:
    """`manage.py verify_audit` says OK and recomputed one leaf per audit row (nothing unsealed or lost)."""
    out = io.StringIO()
    call_command("verify_audit", stdout=out, stderr=io.StringIO())
    rows = AuditEntry.objects.count()
    assert f"OK: {rows} leaves recomputed from their rows" in out.getvalue(), out.getvalue()
