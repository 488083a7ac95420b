"""Reads of tracked entities for the pages."""

from .models import EntityState


def project_entities(*, project, user):
    """The entities of `project` this user may see (all, if they can see the project), by service, type, id.

    Context for `templates/states/_project_entities.html` (as `entities`).
    """
    return (
        EntityState.objects.visible_to(user)
        .for_project(project)
        .select_related("last_transition_by")
        .order_by("service", "entity_type", "entity_id")
    )
