import pytest

from states.tests.factories import EntityStateFactory


@pytest.fixture
def task(project):
    """A task of `project` in backlog."""
    return EntityStateFactory(project=project, entity_type="task", current_state="backlog")
