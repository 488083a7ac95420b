"""The ledger's periodic work runs as a task on django-tasks' database backend."""

import io

import pytest
from django.core.management import call_command
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from audit.models import LedgerCheckpoint, LedgerQueue
from audit.tasks import ledger_maintenance
from projects.services import project_create

pytestmark = pytest.mark.django_db(transaction=True)


def test_maintenance_is_queued_once_seals_signs_and_queues_its_next_run(owner, settings):
    settings.AUDIT_SEAL_ON_COMMIT = False  # leave rows pending, as a crashed writer would
    project_create(actor=owner, name="Needs sealing")
    assert LedgerQueue.objects.exists()

    first, second = io.StringIO(), io.StringIO()
    call_command("schedule_maintenance", "--every", "300", stdout=first)
    call_command("schedule_maintenance", "--every", "300", stdout=second)
    assert "queued already" in second.getvalue()
    assert DBTaskResult.objects.filter(task_path=ledger_maintenance.module_path).count() == 1

    call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0", "--queue-name", "*", "--no-reload",
                 verbosity=0)

    assert not LedgerQueue.objects.exists()
    checkpoint = LedgerCheckpoint.objects.get()
    assert checkpoint.tree_size >= 2
    runs = DBTaskResult.objects.filter(task_path=ledger_maintenance.module_path).order_by("enqueued_at")
    assert [run.status for run in runs] == [TaskResultStatus.SUCCESSFUL, TaskResultStatus.READY]
    assert runs[0].return_value["tree_size"] == checkpoint.tree_size
