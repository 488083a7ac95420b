"""The permission matrix (who may do what, per role), computed by asking the real rules, never written down.

Each cell comes from calling the predicate the services and `perform_transition` call (the FSM
`permission=` callables through `TransitionSpec.has_perm`, `can_steer`, `can_edit_decisions`,
`can_track_entity`, `can_restore`) on throwaway, unsaved objects: one project whose role cache already
holds each person's membership, so nothing touches the database.
"""

import copy
from dataclasses import dataclass
from typing import Callable

from django.contrib.auth import get_user_model
from django.utils import timezone

from core.transitions import requirement_text, transition_specs
from core.access import (
    can_be_reviewer,
    can_comment,
    can_create_projects,
    can_edit_decisions,
    can_hide_comments,
    can_register_without_project,
    can_restore,
    can_steer,
    can_track_entity,
    role_of,
)
from decisions.models import Decision
from projects.models import MembershipRole, Project

from .models import EntityState

# service_member / service_viewer: a service account (Api-Key) given that role in the project.
ROLES = ("operator", "owner", "member", "viewer", "service_member", "service_viewer", "outsider")
ALLOWED, FORBIDDEN, HIDDEN = "allowed", "forbidden", "hidden"
LEGEND = {
    ALLOWED: "may do it",
    FORBIDDEN: "sees the object but may not: 403, recorded as permission_denied",
    HIDDEN: "cannot see the object: 404, its existence is not revealed",
}


@dataclass
class _World:
    people: dict
    project: Project
    decision: Decision
    entity: EntityState
    loose_entity: EntityState  # an entity without a project, registered by "registrant"


def _world() -> _World:
    User = get_user_model()
    people = {
        "operator": User(email="operator@matrix.invalid", is_staff=True, is_active=True),
        "owner": User(email="owner@matrix.invalid", is_active=True),
        "member": User(email="member@matrix.invalid", is_active=True),
        "viewer": User(email="viewer@matrix.invalid", is_active=True),
        "service_member": User(email="ci@service.invalid", is_active=True, is_service=True),
        "service_viewer": User(email="dashboard@service.invalid", is_active=True, is_service=True),
        "outsider": User(email="outsider@matrix.invalid", is_active=True),
        "registrant": User(email="service@matrix.invalid", is_active=True),
    }
    project = Project(name="matrix", slug="matrix", owner=people["owner"])
    # role_of's per-project cache: the memberships these people would have, with no query.
    project._roles = {
        people["operator"].pk: None,  # an operator on no team (can_be_reviewer asks for their place on it)
        people["member"].pk: MembershipRole.MEMBER.value,
        people["viewer"].pk: MembershipRole.VIEWER.value,
        people["service_member"].pk: MembershipRole.MEMBER.value,
        people["service_viewer"].pk: MembershipRole.VIEWER.value,
        people["outsider"].pk: None,
        people["registrant"].pk: None,
    }
    return _World(
        people=people,
        project=project,
        decision=Decision(project=project, title="matrix"),
        entity=EntityState(project=project, service="matrix", entity_type="task", entity_id="1"),
        loose_entity=EntityState(
            project=None, service="matrix", entity_type="task", entity_id="2", registered_by=people["registrant"]
        ),
    )


def _dotted(function: Callable | None) -> str | None:
    return f"{function.__module__}.{function.__qualname__}" if function else None


def _cells(world: _World, allowed: Callable, *, roles=ROLES, visible: Callable | None = None) -> dict:
    visible = visible or (lambda user: role_of(world.project, user) is not None)
    cells = {}
    for role in roles:
        user = world.people[role]
        cells[role] = HIDDEN if not visible(user) else ALLOWED if allowed(user) else FORBIDDEN
    return cells


def _row(action: str, description: str, rule: str | None, roles: dict, transition: dict | None = None) -> dict:
    return {"action": action, "description": description, "rule": rule, "transition": transition, "roles": roles}


def _transition_rows(world: _World, entity_type: str, obj) -> list[dict]:
    return [
        _row(
            f"{entity_type}.{spec.name}",
            f"{spec.name} a {entity_type}",
            _dotted(spec.permission),
            _cells(world, lambda user, spec=spec: spec.has_perm(obj, user)),
            {"name": spec.name, "from": list(spec.sources), "to": spec.target,
             "requires": [{"name": condition.__name__, "text": requirement_text(condition)} for condition in spec.conditions]},
        )
        for spec in transition_specs(type(obj)).values()
    ]


def _deleted_just_now_by(obj, user):
    """`obj` as `user` left it by deleting it a moment ago (its role cache shared with the world's)."""
    deleted = copy.copy(obj)
    deleted.deleted_at, deleted.deleted_by = timezone.now(), user
    return deleted


def _undo_rows(world: _World) -> list[dict]:
    # Each role is asked as the one who deleted it: the question is whether their role still lets them.
    # Whoever deleted it knows it exists, so nobody is "hidden": an outsider here is a team member
    # removed since the delete, who is refused (403, recorded) like any other forbidden edit.
    everyone = lambda user: True  # noqa: E731
    return [
        _row(f"{kind}.restore", f"undo deleting a {kind} (as whoever deleted it, within ten minutes)",
             _dotted(can_restore),
             _cells(world, lambda user, obj=obj: can_restore(_deleted_just_now_by(obj, user), user), visible=everyone))
        for kind, obj in (("project", world.project), ("decision", world.decision))
    ]


def permission_matrix() -> dict:
    """{roles, legend, actions: [{action, description, rule, transition, roles: {role: outcome}}]}."""
    world = _world()
    project, decision = world.project, world.decision
    everyone = lambda user: True  # noqa: E731
    actions = [
        _row("project.view", "see a project, its decisions and its audit", _dotted(role_of),
             _cells(world, everyone)),
        _row("project.create", "create a project (the creator becomes its owner)",
             _dotted(can_create_projects), _cells(world, can_create_projects, visible=everyone)),
        _row("project.update", "edit a project, manage its team", _dotted(can_steer),
             _cells(world, lambda user: can_steer(project, user))),
        *_transition_rows(world, "project", project),
        _row("decision.create", "create and edit decisions", _dotted(can_edit_decisions),
             _cells(world, lambda user: can_edit_decisions(decision, user))),
        *_transition_rows(world, "decision", decision),
        *_undo_rows(world),
        _row("decision.review", "be named a decision's reviewer, and review it (approve, object, abstain)",
             _dotted(can_be_reviewer), _cells(world, lambda user: can_be_reviewer(project, user))),
        _row("comment.create", "comment on a project or a decision (and edit or delete one's own)",
             _dotted(can_comment), _cells(world, lambda user: can_comment(project, user))),
        _row("comment.hide", "hide a comment, or show it again", _dotted(can_hide_comments),
             _cells(world, can_hide_comments)),
        _row("entity_state.track", "register and transition entity states of a project",
             _dotted(can_track_entity), _cells(world, lambda user: can_track_entity(world.entity, user))),
        _row("entity_state.register_without_project", "register an entity that has no project",
             _dotted(can_register_without_project),
             _cells(world, can_register_without_project, roles=(*ROLES, "registrant"), visible=everyone)),
        _row(
            "entity_state.track_without_project",
            "see and transition an entity that has no project ('registrant' is the account that registered it)",
            _dotted(can_track_entity),
            # Without a project, whoever may track such an entity is also exactly who may see it.
            _cells(world, everyone, roles=(*ROLES, "registrant"),
                   visible=lambda user: can_track_entity(world.loose_entity, user)),
        ),
    ]
    return {"roles": list(ROLES), "legend": LEGEND, "actions": actions}
