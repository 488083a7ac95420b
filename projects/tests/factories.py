"""Factories build the *given*; the behaviour under test goes through services and perform_transition.

The state field is protected, so a factory state is written at construction time (allowed by
django-fsm-2: protection applies to assignment after load), never by queryset.update().
"""

import factory

from accounts.tests.factories import UserFactory
from projects.models import Membership, MembershipRole, Project


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")
    description = factory.Faker("sentence")
    owner = factory.SubFactory(UserFactory)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = MembershipRole.MEMBER
