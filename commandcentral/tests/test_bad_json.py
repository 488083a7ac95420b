"""Request bodies that used to answer 500 answer 400 and change nothing."""

import pytest

from audit.models import AuditEntry
from projects.models import Project

DEEP_ARRAY = "[" * 10_000 + "]" * 10_000
DEEP_OBJECT = '{"a":' * 10_000 + "1" + "}" * 10_000


@pytest.mark.parametrize("path", ["/api/v1/auth/login/", "/api/v1/auth/refresh/", "/api/v1/auth/register/"])
@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
def test_json_nested_ten_thousand_deep_is_a_400_for_anyone(api_client, db, path, body):
    rows = AuditEntry.objects.count()
    response = api_client.post(path, data=body, content_type="application/json")
    assert response.status_code == 400
    assert "nested deeper than 64 levels" in response.json()["detail"]
    assert AuditEntry.objects.count() == rows


def test_nesting_just_past_the_limit_is_refused_and_at_the_limit_is_parsed(api_client, owner, project):
    api_client.force_authenticate(owner)
    too_deep = '{"settings": ' + '{"a":' * 64 + "1" + "}" * 64 + "}"
    response = api_client.patch(f"/api/v1/projects/{project.pk}/", data=too_deep, content_type="application/json")
    assert response.status_code == 400 and "nested deeper" in response.json()["detail"]
    deep_enough = '{"settings": ' + '{"a":' * 62 + "1" + "}" * 62 + "}"
    response = api_client.patch(f"/api/v1/projects/{project.pk}/", data=deep_enough, content_type="application/json")
    assert response.status_code != 500 and "nested deeper" not in str(response.content)


@pytest.mark.parametrize("body", ['{"settings": {"k": "\\ud800"}}', '{"settings": {"\\udfff": 1}}', '{"name": "x\\ud83d"}'])
def test_a_lone_surrogate_is_a_400_and_changes_nothing(api_client, owner, project, body):
    api_client.force_authenticate(owner)
    before = Project.objects.values().get(pk=project.pk)
    rows = AuditEntry.objects.count()
    response = api_client.patch(f"/api/v1/projects/{project.pk}/", data=body, content_type="application/json")
    assert response.status_code == 400 and "lone surrogate" in response.json()["detail"]
    assert Project.objects.values().get(pk=project.pk) == before and AuditEntry.objects.count() == rows


def test_a_proper_surrogate_pair_is_text_and_accepted(api_client, owner, project):
    api_client.force_authenticate(owner)
    response = api_client.patch(f"/api/v1/projects/{project.pk}/", data='{"description": "rocket \\ud83d\\ude80"}',
                                content_type="application/json")
    assert response.status_code == 200
    assert Project.objects.get(pk=project.pk).description == "rocket \U0001F680"
