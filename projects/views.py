"""Project pages. Lookups start from Project.objects.visible_to(user): hidden → 404."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.api.support import visible_project_or_404
from core.errors import ActionForbidden, Conflict, InvalidInput, require
from core.web.forms import RationaleForm
from core.web.transitions import add_service_error, run_transition
from core.access import can_steer, note_roles
from core.web.soft_delete import SoftDeletePages
from core.web.undo import offer_undo

from . import selectors, services
from .forms import ProjectForm, TeamAddForm
from .models import Membership, MembershipRole, Project, ProjectState

PAGE_SIZE = 25


def _visible_project(request, pk) -> Project:
    return visible_project_or_404(request.user, pk)


def _require_steer(request, project: Project, action: str) -> None:
    require(can_steer(project, request.user), actor=request.user, obj=project, action=action,
            message="Only the owner or an operator can change this project.")


SORTS = {"newest": ("-created_at", "Newest first"), "oldest": ("created_at", "Oldest first"),
         "name": ("name", "Name"), "state": ("state", "State"), "updated": ("-updated_at", "Recently changed")}


@login_required
def project_list(request):
    filterset = selectors.project_list(user=request.user, params=request.GET)
    sort = request.GET.get("sort") if request.GET.get("sort") in SORTS else "newest"
    page = Paginator(filterset.qs.order_by(SORTS[sort][0], "pk"), PAGE_SIZE).get_page(request.GET.get("page"))
    note_roles(page.object_list, request.user)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "projects/project_list.html", {
        "filter": filterset, "page": page, "query": query.urlencode(), "states": ProjectState.choices,
        "sorts": [(key, label) for key, (_, label) in SORTS.items()], "sort": sort,
        "mine": request.GET.get("member") == str(request.user.pk),
    })


@login_required
def project_create(request):
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.project_create(actor=request.user, **form.cleaned_data)
        except InvalidInput as error:
            add_service_error(form, error)
        else:
            messages.success(request, f"Project '{project.name}' created. It is proposed until you activate it.")
            namesakes = Project.objects.visible_to(request.user).filter(name__iexact=project.name).exclude(pk=project.pk)
            if namesakes.exists():
                messages.warning(request, f"Another project you can see is also called '{project.name}': "
                                          "rename one of them if they are not the same thing.")
            return redirect(project)
    return render(request, "projects/project_form.html", {"form": form})


@login_required
def project_edit(request, pk):
    project = _visible_project(request, pk)
    _require_steer(request, project, "update")
    fields = ("name", "slug", "description", "repo_url", "repo_path")
    form = ProjectForm(request.POST or None, initial={name: getattr(project, name) for name in fields})
    if request.method == "POST" and form.is_valid():
        changes = dict(form.cleaned_data)
        if not changes["slug"]:
            del changes["slug"]  # an emptied slug keeps the current one rather than breaking links
        try:
            services.project_update(project=project, actor=request.user, **changes)
        except (Conflict, InvalidInput) as error:
            add_service_error(form, error)
        else:
            messages.success(request, "Project saved.")
            return redirect(project)
    return render(request, "projects/project_form.html", {"form": form, "project": project})


DELETE_PAGES = SoftDeletePages(
    rows=Project._base_manager.all(), soft_delete=services.project_soft_delete, restore=services.project_restore,
    consequence="It disappears from every list and page. You can undo this for ten minutes; "
                "after that only an operator can restore it.",
    back_to=lambda project: "project_list",
)


@login_required
@require_http_methods(["GET", "POST"])
def project_delete(request, pk):
    """GET asks first; POST deletes (soft) and offers an Undo on the next page."""
    return DELETE_PAGES.delete_view(request, _visible_project(request, pk))


@login_required
@require_POST
def project_restore(request, pk):
    """Undo a delete: whoever deleted it (for a while, while they still steer it) or an operator. Its
    deleter is refused with a 403 (the service records it); anyone else gets a 404."""
    return DELETE_PAGES.restore_view(request, pk)


@login_required
@require_POST
def project_transition(request, pk, name):
    project = _visible_project(request, pk)
    run_transition(request, project, name, RationaleForm(request.POST))
    return redirect(project)


@login_required
@require_POST
def team_add(request, pk):
    project = _visible_project(request, pk)
    form = TeamAddForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        messages.error(request, f"Nobody was added: {errors}")
        return redirect(project)
    try:
        membership = services.membership_add_person(
            project=project, actor=request.user, email=form.cleaned_data["email"], role=form.cleaned_data["role"]
        )
    except (ActionForbidden, InvalidInput) as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{membership.user} is now a {membership.role} of this project.")
    return redirect(project)


@login_required
def team_remove(request, pk, user_id):
    """GET asks first (what the person loses); POST removes them and offers an Undo on the next page,
    which puts them back with the role they had. Both go through the membership services: the same rule,
    and an audit row each (a refusal included)."""
    project = _visible_project(request, pk)
    user = get_object_or_404(get_user_model(), pk=user_id)
    membership = Membership.objects.filter(project=project, user=user).first()
    try:
        if request.method != "POST":
            services.require_team_manager(project, request.user, "team_remove")
            if membership is None:
                raise services.not_a_member(user)
            return render(request, "projects/team_remove_confirm.html", {"project": project, "membership": membership})
        services.membership_remove(project=project, actor=request.user, user=user)
    except (ActionForbidden, InvalidInput) as error:
        messages.error(request, error.message)
    else:
        offer_undo(request, message=f"{user} was removed from the team.", restore_view="project_team_restore",
                   args=[project.pk, user.pk, membership.role])
    return redirect(project)


@login_required
@require_POST
def team_restore(request, pk, user_id, role):
    """Undo a removal: the person back on the team with `role` (membership_add: only those who may manage
    the team; any role they could give through the team form anyway)."""
    project = _visible_project(request, pk)
    user = get_object_or_404(get_user_model(), pk=user_id)
    if role not in MembershipRole.values:
        raise Http404("No such role.")
    try:
        membership = services.membership_add(project=project, actor=request.user, user=user, role=role)
    except (ActionForbidden, InvalidInput) as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{membership.user} is back on the team as a {membership.role}.")
    return redirect(project)
