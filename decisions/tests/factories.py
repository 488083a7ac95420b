import factory

from decisions.models import Decision
from projects.tests.factories import ProjectFactory


def two_options():
    return [
        {"id": "a", "label": "Option A", "pros": ["cheap"], "cons": ["slow"]},
        {"id": "b", "label": "Option B", "description": "The other one"},
    ]


class DecisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Decision

    project = factory.SubFactory(ProjectFactory)
    title = factory.Sequence(lambda n: f"Decision {n}")
    question = "Which option should we take?"
    context = "Some context."
    options = factory.LazyFunction(two_options)
    tags = factory.LazyFunction(lambda: ["infra"])
    created_by = factory.SelfAttribute("project.owner")
