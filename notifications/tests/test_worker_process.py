"""The real thing end to end: a mention through the API, then `manage.py db_worker` in a process of its
own (production settings, mail written to files by Django's file backend) builds the notification from
the ledger and mails it, with its link back and its unsubscribe link."""

import email
import os
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from notifications.models import BuilderState, Notification

from .support import comment

pytestmark = pytest.mark.django_db(transaction=True)

BASE_DIR = Path(django_settings.BASE_DIR)
SITE = "https://cc.example.com"


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = urllib.parse.quote(db.get("USER") or "", safe="")
    password = urllib.parse.quote(db.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}{db.get('HOST') or ''}{port}/{urllib.parse.quote(db['NAME'], safe='')}"


def test_a_worker_process_builds_and_mails_a_mention_to_a_file(project, owner, member, tmp_path):
    if connection.vendor == "sqlite" and not Path(connection.settings_dict["NAME"]).is_file():
        pytest.skip("the test database is in memory: another process cannot open it")
    made = comment(owner, project, f"over to you, @{member.handle}")
    assert BuilderState.objects.get().scheduled  # the seal after the request's commit queued the builder

    mailbox = tmp_path / "mail"
    env = {
        "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "ENV_FILE": os.devnull,
        "DJANGO_SETTINGS_MODULE": "commandcentral.settings", "SECRET_KEY": django_settings.SECRET_KEY, "DEBUG": "0",
        "DATABASE_URL": _database_url(), "EMAIL_URL": f"filemail://{mailbox}", "NOTIFICATIONS_SITE_URL": SITE,
        "AUDIT_SIGNER_STATE": str(tmp_path / "signer.state"), "LOG_LEVEL": "WARNING",
    }
    finished = subprocess.run(
        [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay", "--interval", "0", "--queue-name", "*",
         "--no-reload"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr[-3000:]

    note = Notification.objects.get()
    assert (note.recipient, note.kind, note.subject_id) == (member, "mentioned", made["id"]) and note.emailed_at
    files = list(mailbox.iterdir())
    assert len(files) == 1
    text = files[0].read_text()
    assert f"To: {member.email}" in text
    assert f"{SITE}/projects/{project.pk}/#comment-{made['id']}" in text
    unsubscribe = re.search(rf"{re.escape(SITE)}(/notifications/unsubscribe/\S+/)", text).group(1)
    header = email.message_from_string(text.split("\n-----", 1)[0])["List-Unsubscribe"]
    assert re.sub(r"\s+", "", header) == f"<{SITE}{unsubscribe}>"
