"""Input serializers copy DRF's plain fields by their attributes (core/api/speedups/output.py,
_copy_fields); `API_SHALLOW_FIELD_COPIES = False` deep-copies them as DRF does. Both must validate
alike, and each serializer must own its bound copies."""

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from core.api.governed import TransitionRequestSerializer
from core.api.speedups.output import CachedFieldsMixin
from projects.serializers import ProjectWriteSerializer

BODIES = [
    {"name": "Apollo", "slug": "apollo-x", "description": "d", "settings": {"a": [1]}, "metadata": {},
     "repo_path": "src", "repo_url": "https://example.com/r.git"},
    {"name": "  Padded  "},
    {"name": "   "},
    {"name": "x" * 201},
    {"name": 7, "description": ["not", "text"]},
    {"name": "Nul\x00"},
    {"name": "Ok", "settings": ["not an object"]},
    {"name": "Ok", "settings": {"k": "v\x00"}},
    {"name": "Ok", "slug": "not a slug!"},
    {"name": "Ok", "repo_url": "not a url"},
    {"name": "Ok", "state": "active", "typo": 1},
    {},
]
RATIONALES = [{}, {"rationale": "Budget"}, {"rationale": 5}, {"rationale": "x" * 5001}, {"reason": "typo"}]


def _outcome(serializer_class, body):
    serializer = serializer_class(data=body)
    valid = serializer.is_valid()
    return valid, dict(serializer.validated_data) if valid else None, serializer.errors


@pytest.mark.parametrize("serializer_class,bodies", [(ProjectWriteSerializer, BODIES), (TransitionRequestSerializer, RATIONALES)])
def test_validation_is_the_same_with_deep_copies(settings, serializer_class, bodies):
    for body in bodies:
        settings.API_SHALLOW_FIELD_COPIES = True
        shallow = _outcome(serializer_class, body)
        settings.API_SHALLOW_FIELD_COPIES = False
        deep = _outcome(serializer_class, body)
        assert shallow == deep, body


def test_each_serializer_owns_its_bound_copies_and_the_prototype_stays_unbound():
    first, second = ProjectWriteSerializer(data={"name": "a"}), ProjectWriteSerializer(data={"name": "b"})
    prototype = first._prototype_fields()
    for name in ("name", "slug", "settings", "repo_url"):
        mine, theirs = first.fields[name], second.fields[name]
        assert mine is not theirs and mine is not prototype[name]
        assert mine.parent is first and theirs.parent is second and mine.field_name == name
        assert getattr(prototype[name], "parent", None) is None and getattr(prototype[name], "field_name", None) is None
    assert issubclass(TransitionRequestSerializer, CachedFieldsMixin)
    assert first.is_valid() and second.is_valid()
    assert (first.validated_data["name"], second.validated_data["name"]) == ("a", "b")


def test_the_api_answers_alike_either_way(api_client, settings, member):
    """Through the real stack: a refused body is the same 400 with nothing written, an accepted one the
    same 201 with its audit row."""
    api_client.force_authenticate(member)
    refusals = {}
    for shallow in (True, False):
        settings.API_SHALLOW_FIELD_COPIES = shallow
        before = AuditEntry.objects.count()
        refused = api_client.post(reverse("api:project-list"), {"name": "  ", "settings": [1], "typo": 1}, format="json")
        assert refused.status_code == 400
        refusals[shallow] = refused.json()
        assert AuditEntry.objects.count() == before
        created = api_client.post(reverse("api:project-list"), {"name": f"Shallow {shallow}"}, format="json")
        assert created.status_code == 201 and created.json()["name"] == f"Shallow {shallow}"
        assert AuditEntry.objects.get(entity_id=created.json()["id"], event_name="project.created").actor == member
    assert refusals[True] == refusals[False]
    assert "name" in str(refusals[True]) and "settings" in str(refusals[True])
