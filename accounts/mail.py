"""Mail, sent by the task worker (django-tasks: `manage.py db_worker`), never inside a request.

A request only queues a task naming what to write about (an invitation's id, a user's id) and the
site's address it was made on; the worker writes the message, with the link's token, and sends it
through Django's mail API (EMAIL_URL). So a slow or failing mail server never holds a request, and no
token ever sits in the task table. The messages say nothing about whether an address has an account.
"""

import logging

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.template import loader
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tasks import task

from .models import Invitation, User

logger = logging.getLogger("commandcentral.accounts.mail")


def _send(*, to: str, subject: str, body: str) -> None:
    message = EmailMultiAlternatives(" ".join(subject.split()), body, settings.DEFAULT_FROM_EMAIL, [to])
    message.send()


@task(queue_name="default")
def send_invitation(invitation_id: str, site: str = "") -> bool:
    """The invitation's mail, with its link. Nothing is sent for an invitation that is no longer pending."""
    invitation = Invitation.objects.select_related("project", "invited_by").filter(pk=invitation_id).first()
    if invitation is None or not invitation.is_pending:
        return False
    context = {"invitation": invitation, "project": invitation.project, "inviter": invitation.invited_by,
               "link": f"{_site(site)}{invitation.link_path()}", "days": settings.INVITATION_DAYS}
    _send(to=invitation.email, subject=loader.render_to_string("registration/invitation_subject.txt", context),
          body=loader.render_to_string("registration/invitation_email.txt", context))
    return True


@task(queue_name="default")
def send_password_reset(user_id: str, site: str = "") -> bool:
    """The password reset mail of an active user with a usable password (accounts.forms.PasswordResetForm
    only queues it for one); its token is made here, by the worker."""
    user = User.objects.filter(pk=user_id, is_active=True, is_service=False).first()
    if user is None or not user.has_usable_password():
        return False
    context = {
        "user": user,
        "link": f"{_site(site)}/reset/{urlsafe_base64_encode(force_bytes(user.pk))}/{default_token_generator.make_token(user)}/",
        "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
    }
    _send(to=user.email, subject=loader.render_to_string("registration/password_reset_subject.txt", context),
          body=loader.render_to_string("registration/password_reset_email.txt", context))
    return True


def _site(site: str) -> str:
    return (site or "http://127.0.0.1:8000").rstrip("/")
