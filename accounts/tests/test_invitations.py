"""Invitations through the API, the sign-up policy, and their mail sent by the task worker."""

import re

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import Invitation, User
from accounts.tests.factories import PASSWORD, UserFactory
from audit.models import AuditEntry


def as_user(user) -> APIClient:
    client = APIClient()
    token = client.post(reverse("api:auth-login"), {"email": user.email, "password": PASSWORD},
                        format="json").json()["access_token"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def run_worker() -> None:
    """What `manage.py db_worker` does, until no task is ready."""
    call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0", "--queue-name", "*", "--no-reload",
                 verbosity=0)


def invite(client, project, email="new@example.com", role="member"):
    return client.post(f"/api/v1/projects/{project.pk}/invitations/", {"email": email, "role": role}, format="json")


def test_an_owner_invites_and_sees_it_listed(project, owner):
    response = invite(as_user(owner), project, "New@Example.com", "viewer")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["email"] == "new@example.com" and body["role"] == "viewer" and body["state"] == "pending"
    assert body["invited_by"]["id"] == str(owner.pk) and body["expires_at"]
    invitation = Invitation.objects.get(pk=body["id"])
    assert len(invitation.token_hash) == 64 and invitation.link_token() not in invitation.token_hash
    row = AuditEntry.objects.get(event_name="invitation.created")
    assert row.actor == owner and row.project_id == project.pk and row.extra["email"] == "new@example.com"
    listed = as_user(owner).get(f"/api/v1/projects/{project.pk}/invitations/")
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["results"]] == [body["id"]]


def test_an_operator_may_invite(project, operator):
    assert invite(as_user(operator), project).status_code == 201


@pytest.mark.parametrize("who,status", [("member", 403), ("viewer", 403), ("outsider", 404)])
def test_only_owners_and_operators_invite(project, roles, who, status):
    response = invite(as_user(roles[who]), project)
    assert response.status_code == status
    assert not Invitation.objects.exists()
    if status == 403:
        row = AuditEntry.objects.get(event_type="permission_denied", event_name="project.invite")
        assert row.actor == roles[who] and not row.success
    assert as_user(roles[who]).get(f"/api/v1/projects/{project.pk}/invitations/").status_code == status


@pytest.mark.parametrize("body,field", [({"email": "nope", "role": "member"}, "email"),
                                        ({"email": "x@example.com", "role": "owner"}, "role"),
                                        ({"role": "member"}, "email")])
def test_bad_input_is_400(project, owner, body, field):
    response = as_user(owner).post(f"/api/v1/projects/{project.pk}/invitations/", body, format="json")
    assert response.status_code == 400 and field in response.json()["errors"]
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("email", ["member@example.com", "owner@example.com", "VIEWER@example.com"])
def test_inviting_someone_already_on_the_team_is_refused(project, owner, email):
    response = invite(as_user(owner), project, email)
    assert response.status_code == 400
    assert "already on this project's team" in response.json()["errors"]["email"][0]
    assert not Invitation.objects.exists()


def test_inviting_twice_is_refused_until_revoked(project, owner):
    client = as_user(owner)
    first = invite(client, project)
    assert invite(client, project).status_code == 400
    assert client.delete(f"/api/v1/invitations/{first.json()['id']}/").status_code == 204
    assert invite(client, project).status_code == 201


def test_revoke(project, owner, member, outsider):
    created = invite(as_user(owner), project).json()
    url = f"/api/v1/invitations/{created['id']}/"
    assert as_user(outsider).delete(url).status_code == 404
    assert as_user(member).delete(url).status_code == 403
    assert Invitation.objects.get().state == "pending"
    assert as_user(owner).delete(url).status_code == 204
    assert Invitation.objects.get().state == "revoked"
    row = AuditEntry.objects.get(event_name="invitation.revoked")
    assert row.actor == owner and row.extra["state"] == "revoked"
    again = as_user(owner).delete(url)
    assert again.status_code == 409 and "revoked" in again.json()["detail"]
    assert AuditEntry.objects.filter(event_type="change_denied", event_name="invitation.revoke").count() == 1
    assert as_user(owner).delete("/api/v1/invitations/not-a-uuid/").status_code == 404


def test_a_closed_project_takes_no_invitations(project, owner):
    type(project).objects.filter(pk=project.pk).update(state="killed")  # as its kill transition leaves it
    response = invite(as_user(owner), project)
    assert response.status_code == 409
    assert not Invitation.objects.exists()


# --- The sign-up policy ------------------------------------------------------------------------------


def register(email="stranger@example.com"):
    return APIClient().post(reverse("api:auth-register"), {"email": email, "password": "a-long-unusual-pass"},
                            format="json")


def test_invite_only_refuses_registration_with_a_reason(db, settings):
    settings.SIGNUP = "invite"
    response = register()
    assert response.status_code == 403
    assert "invitation" in response.json()["detail"]
    assert not User.objects.filter(email="stranger@example.com").exists()
    row = AuditEntry.objects.get(event_name="user.register")
    assert row.event_type == "permission_denied" and not row.success and "invitation" in row.failure_reason


def test_invite_only_lets_an_invited_address_register(project, owner, settings):
    settings.SIGNUP = "invite"
    invite(as_user(owner), project, "invited@example.com")
    response = register("Invited@example.com")
    assert response.status_code == 201
    assert User.objects.filter(email="invited@example.com").exists()


def test_a_revoked_invitation_no_longer_opens_registration(project, owner, settings):
    settings.SIGNUP = "invite"
    created = invite(as_user(owner), project, "invited@example.com").json()
    as_user(owner).delete(f"/api/v1/invitations/{created['id']}/")
    assert register("invited@example.com").status_code == 403


def test_open_sign_up_registers_anyone(db, settings):
    settings.SIGNUP = "open"
    assert register().status_code == 201


# --- The mail, sent by the worker ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_invitation_mail_is_sent_by_the_worker_with_a_working_link(project, owner):
    invite(as_user(owner), project, "new@example.com")
    assert mail.outbox == []  # nothing is sent inside the request
    run_worker()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new@example.com"] and project.name in message.subject
    link = re.search(r"http://testserver(/invitations/\w+/)", message.body).group(1)
    assert link == Invitation.objects.get().link_path()
    assert APIClient().get(link).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_the_mail_is_the_same_whether_or_not_the_address_has_an_account(project, owner):
    UserFactory(email="known@example.com")
    client = as_user(owner)
    invite(client, project, "known@example.com")
    invite(client, project, "unknown@example.com")
    run_worker()
    bodies = {message.to[0]: message.body for message in mail.outbox}
    strip = lambda body, email: re.sub(r"/invitations/\w+/", "/invitations/T/", body.replace(email, "E"))  # noqa: E731
    assert strip(bodies["known@example.com"], "known@example.com") == strip(bodies["unknown@example.com"], "unknown@example.com")


@pytest.mark.django_db(transaction=True)
def test_a_revoked_invitation_is_not_mailed(project, owner):
    client = as_user(owner)
    created = invite(client, project).json()
    client.delete(f"/api/v1/invitations/{created['id']}/")
    run_worker()
    assert mail.outbox == []
