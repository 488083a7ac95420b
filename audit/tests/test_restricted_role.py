"""Nothing empties the trail — flush and auditlogflush refuse, and the documented (docs/audit.md)
restricted PostgreSQL role can append to it but not change, delete or truncate it.

Each test runs `manage.py` in a process of its own with production settings, as an operator would.
"""

import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from audit.tests.test_live_server_ledger import _test_database_url

BASE_DIR = Path(django_settings.BASE_DIR)
ROLE = "commandcentral_app"


def manage(*args, env: dict, check=False) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True,
                          text=True, timeout=180, check=check)


def production_env(database_url: str) -> dict:
    return {
        "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "ENV_FILE": os.devnull,
        "DJANGO_SETTINGS_MODULE": "commandcentral.settings", "DEBUG": "0",
        "SECRET_KEY": "restricted-role-test-secret-key-0123456789-abcdefghijklmnop",
        "DATABASE_URL": database_url, "LOG_LEVEL": "ERROR", "CONN_MAX_AGE": "0",
        "AUDIT_SIGNING_KEY": "PRIVATE+KEY+live.test/audit+446bcd85+AdPiowLR59AdV0pAjdJu6OkLX0cR6X4PeZmLYAOWa3xp",
        # The signer's record of this throwaway database, not the checkout's development one.
        "AUDIT_SIGNER_STATE": str(Path(tempfile.mkdtemp(prefix="cc-restricted-role-")) / "audit-signer.state"),
    }


WRITE_SOME_HISTORY = (
    "from accounts.models import User; from projects.services import project_create; "
    "from core.transitions import perform_transition; "
    "u = User.objects.create_user('role@example.com', 'a-long-enough-password'); "
    "p = project_create(actor=u, name='Written by the app role'); "
    "perform_transition(p, 'activate', actor=u, rationale='go'); print(p.pk)"
)


def test_flush_and_auditlogflush_refuse_a_database_with_a_trail(tmp_path):
    database = tmp_path / "commandcentral.sqlite3"  # not a test database: the refusal applies
    env = production_env(f"sqlite:///{database}")
    manage("migrate", "--noinput", env=env, check=True)
    manage("shell", "-c", WRITE_SOME_HISTORY, env=env, check=True)
    with sqlite3.connect(database) as db:
        before = db.execute("SELECT count(*) FROM audit_auditentry").fetchone()[0]
    assert before >= 3  # user created, project created, activated

    flushed = manage("flush", "--noinput", env=env)
    audit_flushed = manage("auditlogflush", "-y", env=env)

    for result, name in ((flushed, "flush"), (audit_flushed, "auditlogflush")):
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"{name} refused: it would erase the audit trail" in result.stderr
        assert "Traceback" not in result.stderr
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM audit_auditentry").fetchone()[0] == before
        assert db.execute("SELECT count(*) FROM projects_project").fetchone()[0] == 1
    assert manage("verify_audit", env=env).returncode == 0


def test_flush_still_empties_a_database_without_a_trail(tmp_path):
    env = production_env(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    manage("migrate", "--noinput", env=env, check=True)
    assert manage("flush", "--noinput", env=env).returncode == 0


def readme_sql() -> str:
    readme = (BASE_DIR / "docs" / "audit.md").read_text()
    match = re.search(r"<!-- restricted-role-sql -->\s*```sql\n(.*?)```", readme, re.S)
    assert match, "docs/audit.md lost its restricted-role SQL block"
    return match.group(1)


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL): database roles")
@pytest.mark.django_db(transaction=True)
def test_the_readme_role_appends_to_the_trail_and_cannot_rewrite_it():
    import psycopg
    from psycopg import errors

    with connection.cursor() as cursor:  # as the tables' owner, as docs/audit.md says
        cursor.execute(readme_sql())
    test_db = urllib.parse.urlsplit(_test_database_url())
    as_app = f"postgres://{ROLE}:change-me@{test_db.hostname or ''}{f':{test_db.port}' if test_db.port else ''}{test_db.path}"
    env = production_env(as_app)
    try:
        wrote = manage("shell", "-c", WRITE_SOME_HISTORY, env=env)
        assert wrote.returncode == 0, wrote.stderr
        assert manage("audit_seal", env=env).returncode == 0
        verified = manage("verify_audit", env=env)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        deploy = manage("check", "--deploy", "--database", "default", env=env)
        assert "audit.W002" not in deploy.stdout + deploy.stderr

        dsn = as_app.replace("postgres://", "postgresql://", 1)
        for statement in ("UPDATE audit_auditentry SET failure_reason = 'rewritten'",
                          "DELETE FROM audit_auditentry", "TRUNCATE audit_auditentry",
                          "DELETE FROM audit_ledgerleaf", "UPDATE audit_ledgernode SET hash = hash"):
            with psycopg.connect(dsn) as app, pytest.raises(errors.InsufficientPrivilege):
                app.execute(statement)
        with psycopg.connect(dsn) as app:
            rows = app.execute("SELECT count(*) FROM audit_auditentry WHERE event_name = 'project.activate'").fetchone()[0]
        assert rows == 1
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP OWNED BY {ROLE}; DROP ROLE IF EXISTS {ROLE}")
