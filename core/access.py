"""Who may see and do what: the one rule, written once.

`role_of(project, user)` is the rule: operator, owner, member, viewer, or None (anyone else: 404).
Everything else is built from it:
- the `can_*` checks below (the FSM decorators' `permission=` callables, services, pages, admin);
- `visible_projects(user)`: the same rule as SQL, for lists; `visible_project(user, pk)`: the same
  rule for one row read by key; `visible_project_ids(user)`: the ids it lists, read once for a
  caller that scopes several queries by them (tests pin that they agree for every role);
- `rows_of_visible_projects(...)`: every other model's scope (decisions, audit rows, entity states),
  so the anonymous/inactive guard and the operator shortcut are written here and nowhere else;
- `scope_key(user)`: what those scopes branch on, for caches of compiled list SQL.

The rule is about projects and their teams, yet the core stands below every app: the projects app
hands its two models in when Django starts (`use_project_models`, from ProjectsConfig.ready), so the
dependency is written where it is made instead of hidden behind a lookup by label.
"""

from django.db import connection
from django.db.models import BooleanField, Exists, Expression, F, OuterRef, Q

from .by_key import get_by_key

OPERATOR, OWNER, MEMBER, VIEWER = "operator", "owner", "member", "viewer"

_models: dict[str, type] = {}


def use_project_models(*, project, membership) -> None:
    """Called once by the projects app: the models the rule reads (a project, its team memberships)."""
    _models.update(project=project, membership=membership)


def _project_model():
    try:
        return _models["project"]
    except KeyError:
        raise RuntimeError("core.access needs the projects app (in INSTALLED_APPS) to hand in its models") from None


def _membership_model():
    try:
        return _models["membership"]
    except KeyError:
        raise RuntimeError("core.access needs the projects app (in INSTALLED_APPS) to hand in its models") from None


def is_active_user(user) -> bool:
    """Signed in and not deactivated: nobody else sees or does anything."""
    return user is not None and user.is_authenticated and user.is_active


def scope_key(user) -> str:
    """What every visibility scope branches on: "nobody", "operator" or "user"."""
    if not is_active_user(user):
        return "nobody"
    return OPERATOR if user.is_staff else "user"


# --- The rule ------------------------------------------------------------------------------------


def role_of(project, user) -> str | None:
    """operator, owner, member, viewer, or None for anyone else. Cached on the project per user."""
    if not is_active_user(user):
        return None
    if user.is_staff:
        return OPERATOR
    return team_role(project, user)


def note_roles(projects, user) -> None:
    """role_of for a page of projects with one query: each project gets `my_role`, and role_of's
    per-project cache is filled so later checks on these projects ask nothing more."""
    projects = list(projects)
    roles = dict(_membership_model().objects.filter(user_id=getattr(user, "pk", None), project__in=[p.pk for p in projects])
                 .values_list("project_id", "role"))
    for project in projects:
        project._roles = {user.pk: roles.get(project.pk)}
        project.my_role = role_of(project, user)


def can_create_projects(user) -> bool:
    """Any active person; a service account works only inside the projects it was given."""
    return is_active_user(user) and not getattr(user, "is_service", False)


UNDO_SECONDS = 600  # how long whoever deleted a project or a decision may undo it


def can_restore(obj, user) -> bool:
    """Operators always (the admin). Whoever deleted it, within UNDO_SECONDS (the pages' Undo), and only
    while they may still edit it there: a project while they may steer it, a decision while they may
    contribute to its project. Undo is an edit like any other: a member removed from the team since the
    delete must not bring back (and so keep changing) what is no longer theirs."""
    if not is_active_user(user):
        return False
    if user.is_staff:
        return True
    from django.utils import timezone

    recent = obj.deleted_at is not None and (timezone.now() - obj.deleted_at).total_seconds() <= UNDO_SECONDS
    if not (recent and obj.deleted_by_id == user.pk):
        return False
    return can_steer(obj, user) if obj._meta.model_name == "project" else can_contribute(obj.project, user)


def knows_deleted(obj, user) -> bool:
    """Who may learn that a deleted project or decision exists: operators, and whoever deleted it (they
    are told why an Undo is refused: 403, recorded). Anyone else gets the 404 of an unknown object."""
    return is_active_user(user) and (user.is_staff or obj.deleted_by_id == user.pk)


def can_see(project, user) -> bool:
    return role_of(project, user) is not None


def can_steer(project, user) -> bool:
    """Operators and the owner may edit the project, manage its team and move it between states."""
    return role_of(project, user) in (OPERATOR, OWNER)


def can_contribute(project, user) -> bool:
    """Operators, the owner and members may create and edit decisions and track entities."""
    return role_of(project, user) in (OPERATOR, OWNER, MEMBER)


def can_edit_decisions(decision, user) -> bool:
    """Operators, the project owner and members may create, edit and activate decisions."""
    return can_contribute(decision.project, user)


def can_govern_decisions(decision, user) -> bool:
    """Operators and the project owner decide and archive."""
    return can_steer(decision.project, user)


def team_role(project, user) -> str | None:
    """owner, member, viewer or None: the user's place on the team, operators included (role_of answers
    "operator" for them whatever their place). Shares role_of's per-project cache of memberships."""
    if not is_active_user(user):
        return None
    if project.owner_id == user.pk:
        return OWNER
    cache = getattr(project, "_roles", None)
    if cache is None:
        cache = project._roles = {}
    if user.pk not in cache:
        cache[user.pk] = _read_membership(project.pk, user)
    return cache[user.pk]


def team_projects(user) -> list[tuple[object, str]]:
    """(project, team role) for each live project `user` owns or is on the team of, by name: what "my
    projects" means (an operator sees every project, but is on the team of these)."""
    if not is_active_user(user):
        return []
    roles = dict(_membership_model().objects.filter(user=user).values_list("project_id", "role"))
    projects = (_project_model().objects.filter(deleted_at__isnull=True)
                .filter(Q(owner=user) | Q(pk__in=list(roles))).order_by("name", "slug"))
    return [(project, OWNER if project.owner_id == user.pk else roles[project.pk]) for project in projects]


def can_be_reviewer(project, user) -> bool:
    """Who may be named a reviewer of a project's decisions: its owner and its members, people only
    (an operator only when also on the team; viewers and service accounts never)."""
    return not getattr(user, "is_service", False) and team_role(project, user) in (OWNER, MEMBER)


def can_review(decision, user) -> bool:
    """A reviewer the decision names who may still be one (the team may have changed since)."""
    return (is_active_user(user) and decision.reviewers.filter(pk=user.pk).exists()
            and can_be_reviewer(decision.project, user))


def can_track_entity(entity, user) -> bool:
    """Who may register and transition an entity of another service.

    With a project: its operators, owner and members (`can_contribute`); viewers may not.
    Without one: operators and the account that registered it.
    """
    if entity.project_id is not None:
        return can_contribute(entity.project, user)
    if not is_active_user(user):
        return False
    return user.is_staff or (entity.registered_by_id is not None and entity.registered_by_id == user.pk)


def can_register_without_project(user) -> bool:
    """Entities outside any project are registered by operators only (a project's key space belongs to
    its project; a key outside all of them would let anyone block another project's key)."""
    return is_active_user(user) and user.is_staff


def can_comment(project, user) -> bool:
    """Operators, the owner and members write comments on a project and its decisions; viewers read them."""
    return role_of(project, user) in (OPERATOR, OWNER, MEMBER)


def can_edit_comment(comment, user) -> bool:
    """Its author, while they may still comment on its project (a member who left the team may not)."""
    return (is_active_user(user) and comment.author_id is not None and comment.author_id == user.pk
            and can_comment(comment.project, user))


def can_hide_comments(user) -> bool:
    """Operators hide a comment (and show it again); nobody else does."""
    return is_active_user(user) and user.is_staff


def can_be_mentioned(project, user) -> bool:
    """Whom an @handle in a comment on `project` reaches: its owner and the people on its team."""
    if not is_active_user(user):
        return False
    return project.owner_id == user.pk or _read_membership(project.pk, user) is not None


# --- The rule as queries -------------------------------------------------------------------------


ALL_LIVE = None  # visible_project_ids for an operator: every live project, not listed


def visible_projects(user, projects=None, *, ids=()):
    """Live projects `user` may see (role_of is not None exactly for these). Anything else answers 404.

    ids: what visible_project_ids(user) answered, read once by a caller that scopes several queries
    (search): the rule is then `id IN (those ids)`, which combines with any other index, where the
    subquery below makes PostgreSQL read every live project to test each one."""
    projects = _project_model().objects.all() if projects is None else projects
    if not is_active_user(user):
        return projects.none()
    live = projects.filter(deleted_at__isnull=True)
    if user.is_staff:
        return live
    if ids != ():
        return live.filter(_among("pk", ids))
    member_of = _membership_model().objects.filter(user=user).values("project_id")
    # A subquery rather than a join: no duplicates, no distinct() needed.
    return live.filter(Q(owner=user) | Q(pk__in=member_of))


def visible_project_ids(user) -> list | None:
    """The ids of visible_projects(user), read now; ALL_LIVE (None) for an operator, who sees every
    live project (listing them would read the table for nothing).

    Anyone else sees the few projects they own or are on the team of. One query, the UNION of two
    parts, each visible_projects itself (the one rule) applied to a few candidates: the projects they
    own (the owner index), the projects their memberships name (the membership's user index, then the
    primary key). Not to every live project, as the rule's OR would have PostgreSQL do."""
    if not is_active_user(user):
        return []
    if user.is_staff:
        return ALL_LIVE
    projects = _project_model().objects.order_by()
    owned = projects.filter(owner=user)
    on_team = projects.filter(pk__in=_membership_model().objects.filter(user=user).order_by().values("project_id"))
    return list(visible_projects(user, owned).values_list("pk", flat=True)
                .union(visible_projects(user, on_team).values_list("pk", flat=True)))


def eligible_reviewers(users, project):
    """can_be_reviewer as SQL: of `users`, the active people who are the project's owner or members."""
    member_of = _membership_model().objects.filter(project_id=project.pk, role=MEMBER).values("user_id")
    return users.filter(is_active=True, is_service=False).filter(Q(pk=project.owner_id) | Q(pk__in=member_of))


def people_sharing_projects(user, users, *, ids=()):
    """Of `users`, whom `user` may find by name: operators anyone; anyone else the owners and team
    members of the projects they can see (whom those projects' pages show them already). Nobody else,
    so a search never tells an outsider that an account exists. ids: as for visible_projects."""
    if not is_active_user(user):
        return users.none()
    if user.is_staff:
        return users
    projects = visible_projects(user, ids=ids)
    team = _membership_model().objects.filter(_among("project", ids) if ids != () else Q(project__in=projects.values("pk")))
    team = team.values("user_id")
    return users.filter(Q(pk__in=projects.values("owner_id")) | Q(pk__in=team))


def reviewable_projects(user):
    """can_be_reviewer as SQL over projects: the live projects whose owner or member `user` is (a person)."""
    if not is_active_user(user) or getattr(user, "is_service", False):
        return _project_model().objects.none()
    member_of = _membership_model().objects.filter(user=user, role=MEMBER).values("project_id")
    return _project_model().objects.filter(deleted_at__isnull=True).filter(Q(owner=user) | Q(pk__in=member_of))


def steered_projects(user):
    """Live projects `user` may steer (can_steer as SQL): every one for operators, else those they own."""
    projects = visible_projects(user)
    return projects if is_active_user(user) and user.is_staff else projects.filter(owner=user)


def rows_of_visible_projects(rows, user, *, field: str = "project", operators_see_all: bool = True,
                             correlated: bool = False, own: Q | None = None, ids=()):
    """`rows` whose `field` is a project `user` can see.

    operators_see_all: operators get every row (False: only rows of live projects, as for anyone).
    correlated: an EXISTS per row instead of `IN (subquery)`; SQLite then walks a (field, -id) index
    newest first and stops after one page instead of sorting every match (the audit trail).
    own: rows outside any project that this user may see as well (entities they registered).
    ids: what visible_project_ids(user) answered: the condition is then `field IN (those ids)` (an
    operator's ALL_LIVE: the subquery of the live projects).
    """
    if not is_active_user(user):
        return rows.none()
    if user.is_staff and operators_see_all:
        return rows
    visible = visible_projects(user, ids=ids)
    if ids != () and ids is not ALL_LIVE:
        condition = Q(_among(field, ids))
    elif correlated:
        condition = Exists(visible.filter(pk=OuterRef(f"{field}_id")))
    else:
        condition = Q(**{f"{field}__in": visible.values("pk")})
    return rows.filter(condition | own if own is not None else condition)


class _AmongIds(Expression):
    """`column = ANY(%s)` with the ids as one array parameter. The same ids as a list are one
    parameter each, each prepared by Django and quoted by the driver: ~1 ms of Python per hundred ids
    and query, the most expensive part of a search by someone on a few hundred projects."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, column, ids):
        super().__init__()
        self.column, self.ids = column, ids

    def get_source_expressions(self):
        return [self.column]

    def set_source_expressions(self, expressions):
        [self.column] = expressions

    def as_sql(self, compiler, connection):
        sql, params = compiler.compile(self.column)
        array = "{" + ",".join(str(pk) for pk in self.ids) + "}"
        return f"{sql} = ANY(%s::{self.column.output_field.db_type(connection)}[])", [*params, array]


def _among(field: str, ids) -> Q:
    """`field IN ids` (a project's key or a foreign key to a project): one parameter on PostgreSQL."""
    if connection.vendor == "postgresql":
        return Q(_AmongIds(F(f"{field}_id" if field != "pk" else "pk"), list(ids)))
    return Q(**{f"{field}__in": list(ids)})


def _read_membership(project_id, user) -> str | None:
    return _membership_model().objects.filter(project_id=project_id, user=user).values_list("role", flat=True).first()


def visible_project(user, pk):
    """The live project `pk` if `user` may see it, else Project.DoesNotExist (callers answer 404).

    The same rule as visible_projects(), applied to one row read by key: building and compiling the
    subquery was a fifth of a project request (bench/README.md). The role looked up stays cached on
    the project for the permission checks that follow; an owner reading their own project is its
    `owner` already.

    Every 404 costs the same queries, whatever the reason (no such project, not the caller's, deleted,
    even the caller's own deleted project): the caller's membership is read for each, so the time of a
    404 does not tell which it was.
    """
    Project = _project_model()
    if pk is None:
        raise Project.DoesNotExist
    reads_membership = is_active_user(user) and not user.is_staff
    try:
        project = get_by_key(Project, pk)
    except Project.DoesNotExist:
        if reads_membership:
            _read_membership(pk, user)
        raise
    role = role_of(project, user)
    if project.deleted_at is not None or role is None:
        if reads_membership and project.owner_id == user.pk:
            _read_membership(pk, user)  # role_of knew the owner without asking
        raise Project.DoesNotExist
    if project.owner_id == user.pk:
        project.owner = user
    return project
