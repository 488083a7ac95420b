"""The invitation link's page and the project page's Invitations card, through the Django test client."""

from datetime import timedelta

import pytest
from django.test import Client

from accounts.invitations import invitation_create
from accounts.models import Invitation, User
from accounts.tests.factories import PASSWORD, UserFactory
from audit.models import AuditEntry
from projects.models import Membership


def signed_in(user) -> Client:
    client = Client()
    assert client.post("/login", {"username": user.email, "password": PASSWORD}).status_code == 302
    return client


@pytest.fixture
def invitation(project, owner):
    return invitation_create(project=project, actor=owner, email="new@example.com", role="member")


def test_a_stranger_sets_a_name_and_password_and_is_signed_in_as_the_new_member(invitation, project):
    client = Client()
    page = client.get(invitation.link_path())
    assert page.status_code == 200 and project.name in page.content.decode()
    response = client.post(invitation.link_path(), {"name": "New Person", "password1": "a-long-unusual-pass",
                                                    "password2": "a-long-unusual-pass"})
    assert response.status_code == 302 and response["Location"] == project.get_absolute_url()
    user = User.objects.get(email="new@example.com")
    assert user.name == "New Person" and user.check_password("a-long-unusual-pass") and user.handle == "new"
    assert Membership.objects.get(project=project, user=user).role == "member"
    invitation.refresh_from_db()
    assert invitation.state == "accepted" and invitation.accepted_by == user
    assert client.get(project.get_absolute_url()).status_code == 200  # signed in, and on the team
    row = AuditEntry.objects.get(event_name="invitation.accepted")
    assert row.actor == user and row.project_id == project.pk
    assert AuditEntry.objects.filter(event_name="user.created", entity_id=str(user.pk)).exists()
    assert AuditEntry.objects.filter(event_name="membership.created", actor=user).exists()


def test_a_bad_password_is_a_400_and_keeps_nothing(invitation):
    response = Client().post(invitation.link_path(), {"name": "N", "password1": "123", "password2": "123"})
    assert response.status_code == 400
    assert not User.objects.filter(email="new@example.com").exists()
    assert Invitation.objects.get().state == "pending"
    mismatch = Client().post(invitation.link_path(), {"name": "N", "password1": "a-long-unusual-pass",
                                                      "password2": "another-long-pass"})
    assert mismatch.status_code == 400 and not User.objects.filter(email="new@example.com").exists()


def test_a_signed_in_user_with_the_address_joins(project, owner):
    person = UserFactory(email="known@example.com")
    invitation = invitation_create(project=project, actor=owner, email="known@example.com", role="viewer")
    anonymous = Client().get(invitation.link_path())
    assert anonymous.status_code == 200 and "Log in" in anonymous.content.decode()
    client = signed_in(person)
    assert client.get(invitation.link_path()).status_code == 200
    response = client.post(invitation.link_path())
    assert response.status_code == 302
    assert Membership.objects.get(project=project, user=person).role == "viewer"
    assert Invitation.objects.get().state == "accepted"
    assert AuditEntry.objects.get(event_name="invitation.accepted").actor == person


def test_someone_signed_in_with_another_address_is_refused_without_the_project(invitation, project, outsider):
    response = signed_in(outsider).post(invitation.link_path())
    assert response.status_code == 403 and project.name not in response.content.decode()
    assert not Membership.objects.filter(user=outsider).exists()


def test_a_used_link_is_gone(invitation, project):
    client = Client()
    client.post(invitation.link_path(), {"name": "N", "password1": "a-long-unusual-pass",
                                         "password2": "a-long-unusual-pass"})
    again = Client().get(invitation.link_path())
    assert again.status_code == 410 and project.name not in again.content.decode()
    assert Client().post(invitation.link_path(), {"name": "X", "password1": "a-long-unusual-pass",
                                                  "password2": "a-long-unusual-pass"}).status_code == 410
    assert User.objects.filter(email="new@example.com").count() == 1


def test_a_revoked_or_expired_link_is_gone_and_an_unknown_one_is_404(invitation, project):
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=invitation.created_at - timedelta(seconds=1))
    expired = Client().get(invitation.link_path())
    assert expired.status_code == 410 and project.name not in expired.content.decode()
    assert Client().get("/invitations/" + "0" * 64 + "/").status_code == 404


def test_the_page_is_throttled(invitation):
    from accounts.throttles import InvitationThrottle

    InvitationThrottle.THROTTLE_RATES = {"invitation": "2/min"}
    try:
        client = Client()
        assert client.get("/invitations/wrong/").status_code == 404
        assert client.get("/invitations/wrong/").status_code == 404
        response = client.get(invitation.link_path())
        assert response.status_code == 429 and response["Retry-After"]
    finally:
        del InvitationThrottle.THROTTLE_RATES  # back to the settings' rates


# --- The project page's Invitations card ---------------------------------------------------------------


def test_owners_see_the_invite_form_and_pending_invitations_members_do_not(invitation, project, owner, member):
    page = signed_in(owner).get(project.get_absolute_url()).content.decode()
    assert 'id="invitations"' in page and 'data-invitation="new@example.com"' in page
    assert 'id="invitations"' not in signed_in(member).get(project.get_absolute_url()).content.decode()


def test_invite_and_revoke_from_the_project_page(project, owner, member):
    client = signed_in(owner)
    response = client.post(f"/projects/{project.pk}/invitations/", {"email": "page@example.com", "role": "viewer"})
    assert response.status_code == 302
    invitation = Invitation.objects.get(email="page@example.com")
    assert invitation.role == "viewer" and invitation.invited_by == owner
    refused = client.post(f"/projects/{project.pk}/invitations/", {"email": member.email, "role": "member"}, follow=True)
    assert "already on this project" in refused.content.decode()
    assert signed_in(member).post(f"/invitations/{invitation.pk}/revoke/").status_code == 302
    assert Invitation.objects.get(pk=invitation.pk).state == "pending"
    assert AuditEntry.objects.filter(event_name="invitation.revoke", event_type="permission_denied").exists()
    assert client.post(f"/invitations/{invitation.pk}/revoke/").status_code == 302
    assert Invitation.objects.get(pk=invitation.pk).state == "revoked"
    assert signed_in(UserFactory(email="x@example.com")).post(f"/invitations/{invitation.pk}/revoke/").status_code == 404


def test_someone_added_to_the_team_meanwhile_keeps_their_role(project, owner):
    person = UserFactory(email="later@example.com")
    invitation = invitation_create(project=project, actor=owner, email=person.email, role="viewer")
    Membership.objects.create(project=project, user=person, role="member")
    assert signed_in(person).post(invitation.link_path()).status_code == 302
    assert Membership.objects.get(project=project, user=person).role == "member"
    assert Invitation.objects.get(pk=invitation.pk).state == "accepted"


def test_operators_see_invitations_in_the_admin_read_only(invitation, operator):
    client = signed_in(operator)
    page = client.get("/admin/accounts/invitation/")
    assert page.status_code == 200 and "new@example.com" in page.content.decode()
    assert client.get("/admin/accounts/invitation/add/").status_code == 403


def test_someone_with_an_account_logs_in_and_comes_back_to_join(project, owner):
    person = UserFactory(email="returning@example.com")
    invitation = invitation_create(project=project, actor=owner, email=person.email, role="member")
    client = Client()
    page = client.get(invitation.link_path()).content.decode()
    assert f'href="/login?next={invitation.link_path()}"' in page
    back = client.post("/login", {"username": person.email, "password": PASSWORD, "next": invitation.link_path()})
    assert back.status_code == 302 and back["Location"] == invitation.link_path()
    assert client.post(invitation.link_path()).status_code == 302
    assert Membership.objects.get(project=project, user=person).role == "member"
