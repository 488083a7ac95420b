"""Transitions on the pages: what a page shows about a lifecycle, and running one from a form POST."""

from django.contrib import messages
from django.http import Http404

from core.errors import plain_list
from core.transitions import (
    TransitionRefused,
    UnknownTransition,
    allowed_transitions,
    perform_transition,
    transition_specs,
)

from .diagrams import state_machine_svg
from .forms import RationaleForm

def state_panel(obj, user, *, refused=None, posted=None, message="") -> dict:
    """What a page shows about an object's lifecycle: each transition this user may run from here, with
    its requirements as a checklist (from the model's @requirement words) and, until they hold, the
    reason its button is disabled; the drawing marks as reachable only what can be done now.

    `refused`/`posted`/`message`: after a refused or invalid POST, the transition stays open with what the
    user sent and why it was refused, next to the form. When it can no longer be run at all (another tab
    or person moved the object first), `lost` keeps what they wrote, to copy.
    """
    specs = transition_specs(type(obj))
    transitions = []
    for name in allowed_transitions(obj, user):
        checklist = specs[name].checklist(obj)
        blocked = [item["text"] for item in checklist if item["met"] is False]
        transitions.append({
            "name": name, "to": specs[name].target, "checklist": checklist,
            "final": not any(specs[name].target in spec.sources for spec in specs.values()),
            "blocked": f"It needs {plain_list(blocked)} first." if blocked else "",
            "open": refused == name, "posted": posted if refused == name else {},
            "refusal": message if refused == name else "",
        })
    ready = [t["name"] for t in transitions if not t["blocked"]]
    lost = None
    if refused and refused not in [t["name"] for t in transitions] and any((posted or {}).values()):
        lost = {"name": refused, "posted": posted, "message": message}
    return {
        "lost_transition": lost,
        "allowed_transitions": [t["name"] for t in transitions],
        "transitions": transitions,
        "is_final_state": not any(obj.state in spec.sources for spec in specs.values()),
        "machine_svg": state_machine_svg(type(obj), current=obj.state, allowed=ready),
        "rationale_form": RationaleForm(),
        "who_can_act": _who_can_act(obj),
    }


def _who_can_act(obj) -> str:
    project = obj if obj._meta.model_name == "project" else getattr(obj, "project", None)
    owner = getattr(project, "owner", None)
    return f"the owner, {owner.email}, or an operator" if owner is not None else "an operator"


REFUSED_KEY = "refused_transition"


def refused_from(request, obj) -> dict:
    """state_panel's `refused`/`posted` for `obj`, once, after a refused transition POST."""
    refused = request.session.get(REFUSED_KEY)
    if not refused or refused.get("pk") != str(obj.pk):
        return {}
    del request.session[REFUSED_KEY]
    return {"refused": refused["name"], "posted": refused["posted"], "message": refused.get("message", "")}


def refusal_message(refused: TransitionRefused) -> str:
    return refused.message


def run_transition(request, obj, name: str, form) -> bool:
    """Run transition `name` from a page POST; the outcome is reported through django messages."""
    if not form.is_valid():
        errors = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        _keep_what_was_sent(request, obj, name, f"Nothing was changed: {errors}")
        return False
    try:
        perform_transition(obj, name, actor=request.user, **form.cleaned_data)
    except UnknownTransition:
        raise Http404("No such transition.")
    except TransitionRefused as refused:
        _keep_what_was_sent(request, obj, name, refusal_message(refused))
        return False
    entity = obj._meta.verbose_name
    messages.success(request, f"{name.capitalize()} done: the {entity} is now {obj.state}.")
    return True


def _keep_what_was_sent(request, obj, name: str, message: str) -> None:
    """The refusal at the top of the page, and for the page it redirects to (refused_from): this transition
    open again, with what the user sent and the refusal beside the form, so nothing they typed is lost."""
    messages.error(request, message)
    request.session[REFUSED_KEY] = {"pk": str(obj.pk), "name": name, "message": message, "posted": {
        key: request.POST.get(key, "")[:5000] for key in ("rationale", "selected_option")}}


def add_service_error(form, error) -> None:
    """Show a service's Conflict / InvalidInput on the form, on its field when the form has one."""
    field = getattr(error, "field", None)
    form.add_error(field if field in form.fields else None, error.message)
