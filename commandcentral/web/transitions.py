"""Transitions on the pages: what a page shows about a lifecycle, and running one from a form POST."""

from django.contrib import messages
from django.http import Http404

from commandcentral.core.transitions import (
    RequirementsMissing,
    TransitionRefused,
    UnknownTransition,
    allowed_transitions,
    perform_transition,
    transition_specs,
)

from .diagrams import state_machine_svg
from .forms import RationaleForm

# Plain words for the requirement predicates a refusal names (the names themselves stay in the message,
# as the API reports them).
REQUIREMENT_TEXT = {
    "has_question": "a question",
    "has_two_options": "at least two options",
    "has_valid_selected_option": "one of the options chosen",
    "has_open_project": "a project that is not completed or killed",
}


def state_panel(obj, user) -> dict:
    """What a page shows about an object's lifecycle: its transitions for this user and the drawing."""
    allowed = allowed_transitions(obj, user)
    return {
        "allowed_transitions": allowed,
        "is_final_state": not any(obj.state in spec.sources for spec in transition_specs(type(obj)).values()),
        "machine_svg": state_machine_svg(type(obj), current=obj.state, allowed=allowed),
        "rationale_form": RationaleForm(),
    }


def refusal_message(refused: TransitionRefused) -> str:
    if isinstance(refused, RequirementsMissing):
        needed = ", ".join(REQUIREMENT_TEXT.get(name, name) for name in refused.missing)
        return f"{refused.message} It needs {needed}."
    return refused.message


def run_transition(request, obj, name: str, form) -> bool:
    """Run transition `name` from a page POST; the outcome is reported through django messages."""
    if not form.is_valid():
        errors = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        messages.error(request, f"Nothing was changed: {errors}")
        return False
    try:
        perform_transition(obj, name, actor=request.user, **form.cleaned_data)
    except UnknownTransition:
        raise Http404("No such transition.")
    except TransitionRefused as refused:
        messages.error(request, refusal_message(refused))
        return False
    entity = obj._meta.verbose_name
    messages.success(request, f"{name.capitalize()} done: the {entity} is now {obj.state}.")
    return True


def add_service_error(form, error) -> None:
    """Show a service's Conflict / InvalidInput on the form, on its field when the form has one."""
    field = getattr(error, "field", None)
    form.add_error(field if field in form.fields else None, error.message)
