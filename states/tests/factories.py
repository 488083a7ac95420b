"""Factories build the *given*; registration and transitions under test go through the services."""

import factory

from states.models import EntityState
from projects.tests.factories import ProjectFactory


class EntityStateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EntityState

    service = "task-runner"
    entity_type = "task"
    entity_id = factory.Sequence(lambda n: f"T-{n}")
    project = factory.SubFactory(ProjectFactory)
    current_state = "backlog"
