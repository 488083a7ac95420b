"""core.access.visible_project_ids, and the scopes built from the ids it read, follow the one rule:
visible_projects (and through it role_of), for every role, deleted projects and inactive accounts."""

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from core.access import (
    ALL_LIVE,
    people_sharing_projects,
    role_of,
    rows_of_visible_projects,
    visible_project_ids,
    visible_projects,
)
from decisions.models import Decision
from decisions.tests.factories import DecisionFactory
from projects.models import MembershipRole, Project
from projects.tests.factories import MembershipFactory, ProjectFactory
from states.models import EntityState
from states.tests.factories import EntityStateFactory


def test_the_ids_and_the_scopes_built_from_them_agree_with_visible_projects(project, roles, owner, member):
    other = ProjectFactory(owner=member)  # the member owns one and is on the team of another
    MembershipFactory(project=other, user=roles["viewer"], role=MembershipRole.VIEWER)
    deleted_owned = ProjectFactory(owner=owner)
    deleted_on_team = ProjectFactory(owner=roles["outsider"])
    MembershipFactory(project=deleted_on_team, user=member, role=MembershipRole.MEMBER)
    Project.objects.filter(pk__in=[deleted_owned.pk, deleted_on_team.pk]).update(deleted_at=timezone.now())
    ProjectFactory(owner=roles["outsider"])  # nobody else's business
    for candidate in Project.objects.all():
        DecisionFactory(project=candidate)
        EntityStateFactory(project=candidate)
    inactive_member = UserFactory(email="gone.member@example.com", is_active=False)
    MembershipFactory(project=project, user=inactive_member, role=MembershipRole.MEMBER)
    inactive_staff = UserFactory(email="gone.staff@example.com", is_staff=True, is_active=False)
    users = [*roles.values(), inactive_member, inactive_staff, AnonymousUser()]

    for user in users:
        expected = set(visible_projects(user).values_list("pk", flat=True))
        assert expected == {p.pk for p in Project.objects.all() if role_of(p, user) is not None and p.deleted_at is None}, user
        ids = visible_project_ids(user)
        if user.is_authenticated and user.is_active and user.is_staff:
            assert ids is ALL_LIVE
        else:
            assert len(ids) == len(set(ids)) and set(ids) == expected, user
        assert set(visible_projects(user, ids=ids).values_list("pk", flat=True)) == expected, user
        assert set(Decision.objects.visible_to(user, project_ids=ids)) == set(Decision.objects.visible_to(user)), user
        assert set(EntityState.objects.visible_to(user, project_ids=ids)) == set(EntityState.objects.visible_to(user)), user
        assert (set(rows_of_visible_projects(Decision.objects.all(), user, operators_see_all=False, ids=ids))
                == set(rows_of_visible_projects(Decision.objects.all(), user, operators_see_all=False))), user
        assert (set(people_sharing_projects(user, User.objects.all(), ids=ids))
                == set(people_sharing_projects(user, User.objects.all()))), user

    assert set(visible_project_ids(member)) == {project.pk, other.pk}  # not the deleted one it is on
    assert set(visible_project_ids(owner)) == {project.pk}  # not its deleted one
    assert visible_project_ids(inactive_member) == [] and visible_project_ids(AnonymousUser()) == []
