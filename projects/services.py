"""Every write to projects and their team."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, router, transaction

from core import plain_insert
from core.recording import audited_write
from core.errors import InvalidInput, record_refusal, require
from core.soft_delete import restore, soft_delete
from core.transitions import remember_state

from core.access import can_create_projects, can_steer

from .models import Membership, MembershipRole, Project, ProjectState
from .slugs import base_slug, unique_live_slug

EDITABLE_FIELDS = ("name", "slug", "description", "settings", "metadata", "repo_path", "repo_url")


def _check_objects(fields: dict) -> None:
    for name in ("settings", "metadata"):
        if name in fields and not isinstance(fields[name], dict):
            raise InvalidInput(f"{name.capitalize()} must be a JSON object.", field=name)


def _slug_taken(slug: str, exclude_pk=None) -> bool:
    same_slug = Project.objects.live().filter(slug=slug)
    if exclude_pk is not None:  # exclude(pk=None) compiles to a negated IS NULL: a tenth of a create
        same_slug = same_slug.exclude(pk=exclude_pk)
    return same_slug.exists()


def _insert(project: Project) -> None:
    """The new row, with its INSERT built once (core.plain_insert): the same row, the same signals
    (django-auditlog's create row comes from post_save), and django-fsm-2's remembered state as
    save() leaves them. `PROJECT_FAST_INSERT = False` (a Django setting) takes save()."""
    if getattr(settings, "PROJECT_FAST_INSERT", True):
        plain_insert.insert(project, router.db_for_write(Project, instance=project))
        remember_state(project)
    else:
        project.save()


def project_create(*, actor, name: str, **fields) -> Project:
    """Any active person may create a project (not a service account); they become its owner. State
    starts at proposed.

    A slug is unique among live projects by the database's constraint, so the INSERT is simply tried
    (in a savepoint); a taken slug, chosen or generated, moves on to the first free `-2`, `-3`... (never
    "already exists": that would tell anyone which slugs hidden projects use). The usual create then
    costs no look-up query (bench/README.md).
    """
    require(can_create_projects(actor), actor=actor, obj=None, action="project.create",
            message="A service account works only in the projects it was given; it cannot create projects.")
    chosen = fields.pop("slug", "")
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"project_create got unexpected fields {sorted(unknown)}")
    _check_objects(fields)
    with audited_write(actor):
        project = Project(name=name, slug=chosen or base_slug(name), owner=actor, **fields)
        try:
            with transaction.atomic():
                _insert(project)
        except IntegrityError:
            if not _slug_taken(project.slug):
                raise
            project.slug = unique_live_slug(chosen or name, taken=_slug_taken)
            _insert(project)
    return project


def project_update(*, project: Project, actor, **changes) -> Project:
    require(can_steer(project, actor), actor=actor, obj=project, action="update",
            message="Only the owner or an operator can edit this project.")
    if project.is_closed:
        raise record_refusal(actor=actor, obj=project, action="update",
                             message=f"This project is {project.state}; it can no longer be edited.")
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"project_update got unexpected fields {sorted(unknown)}")
    _check_objects(changes)
    if "slug" in changes and changes["slug"] != project.slug and _slug_taken(changes["slug"], project.pk):
        # Suffixed like a new project's, not refused: a refusal would reveal a hidden project's slug.
        changes["slug"] = unique_live_slug(changes["slug"], taken=lambda slug: _slug_taken(slug, project.pk))
    with audited_write(actor):
        for name, value in changes.items():
            setattr(project, name, value)
        project.save()
    return project


def project_soft_delete(*, project: Project, actor) -> Project:
    return soft_delete(project, actor=actor, allowed=can_steer(project, actor), conflict=_delete_conflict,
                       forbidden="Only the owner or an operator can delete this project.")


def _delete_conflict(project: Project) -> str | None:
    if project.state != ProjectState.PROPOSED:
        return f"This project is {project.state}; only proposed projects can be deleted."
    return None


def project_restore(*, project: Project, actor) -> Project:
    """Operators (the admin's restore action), or whoever deleted it within a few minutes while they
    still steer it (Undo)."""
    return restore(project, actor=actor, conflict=_restore_conflict,
                   forbidden="Only an operator can restore a deleted project (or whoever deleted it, for ten "
                             "minutes, while they still own it).")


def _restore_conflict(project: Project) -> str | None:
    if _slug_taken(project.slug, project.pk):
        return f"Another live project already uses the slug '{project.slug}'."
    return None


def not_a_member(user) -> InvalidInput:
    return InvalidInput(f"{user} is not a member of this project.", field="user_id")


def require_team_manager(project: Project, actor, action: str) -> None:
    """ActionForbidden (recorded) unless `actor` may manage the team: its owner or an operator."""
    require(can_steer(project, actor), actor=actor, obj=project, action=action,
            message="Only the owner or an operator can manage the team.")


def membership_add(*, project: Project, actor, user, role: str = MembershipRole.MEMBER,
                   from_shell: bool = False) -> Membership:
    """Add `user` to the team, or change their role if they are already on it.

    `from_shell`: an operator's management command (no signed-in actor; the rows say actor_type=system),
    e.g. `service_key create` giving a service account its project.
    """
    if not from_shell:
        require_team_manager(project, actor, "team_add")
    if role not in MembershipRole.values:
        raise InvalidInput(f"Unknown role '{role}'.", field="role")
    if user.pk == project.owner_id:
        raise InvalidInput("The owner is already part of the project.", field="user_id")
    if not user.is_active:
        raise InvalidInput("Inactive users cannot join a project.", field="user_id")
    with audited_write(actor):
        membership = Membership.objects.filter(project=project, user=user).first()
        if membership is None:
            membership = Membership(project=project, user=user, role=role)
            membership.save()
        elif membership.role != role:
            membership.role = role
            membership.save()
    return membership


def membership_add_person(*, project: Project, actor, role: str = MembershipRole.MEMBER, email: str | None = None,
                          user_id=None) -> Membership:
    """membership_add for the person an email (the page, the API) or a user id (the API) names.

    Whether `actor` may manage the team is checked, and a refusal recorded, before anyone is looked up:
    a caller who may not gets the same 403 whether or not the address has an account, so adding people
    to a project one can see is no way to find out who is registered.
    """
    require_team_manager(project, actor, "team_add")
    User = get_user_model()
    if email is not None:
        user = User.objects.filter(email__iexact=email).first()
        missing = InvalidInput("There is no user with this email address.", field="email")
    else:
        user = User.objects.filter(pk=user_id).first()
        missing = InvalidInput("No such user.", field="user_id")
    if user is None:
        raise missing
    return membership_add(project=project, actor=actor, user=user, role=role)


def membership_remove(*, project: Project, actor, user) -> None:
    require_team_manager(project, actor, "team_remove")
    membership = Membership.objects.filter(project=project, user=user).first()
    if membership is None:
        raise not_a_member(user)
    with audited_write(actor):
        membership.delete()
