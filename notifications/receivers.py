"""The maintenance tick's work for notifications (audit.tasks.maintenance_ran, every few seconds)."""

from .builder import resume as resume_builder
from .mail import resume_instant, schedule_due_digests


def on_maintenance(sender=None, using="default", **kwargs) -> None:
    """The builder's and the mail's safety nets (a run or a queueing lost with its worker), and the
    daily digests that are due."""
    resume_builder()
    resume_instant()
    schedule_due_digests()
