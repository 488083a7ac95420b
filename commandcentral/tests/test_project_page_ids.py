"""The owner's project page shows the team form and the invitation form side by side: each id on it is
unique, so that each label names the field of its own form (a click on it focuses that field)."""

import re
from collections import Counter

from commandcentral.tests.test_invitation_pages import signed_in


def test_the_owners_project_page_has_each_id_once_and_each_form_its_own_fields(project, owner):
    response = signed_in(owner).get(project.get_absolute_url())
    assert response.status_code == 200
    page = response.content.decode()
    repeated = [name for name, count in Counter(re.findall(r'\sid="([^"]+)"', page)).items() if count > 1]
    assert repeated == []
    invitations = page[page.index('id="invitations"'):]
    invite_form = invitations[:invitations.index("</form>", invitations.index('action="/projects/'))]
    for name in ("email", "role"):
        field_id = re.search(rf'name="{name}"[^>]*\sid="([^"]+)"', invite_form).group(1)
        assert f'<label for="{field_id}">' in invite_form
        assert field_id != f"id_{name}"  # the team form's
