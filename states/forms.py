"""Forms of the admin's audited transition (validation only; the service decides)."""

from django import forms

from core.web.forms import RationaleForm

from .models import EntityState, validate_state
from .services import allowed_next_states


class EntityTransitionForm(RationaleForm):
    to_state = forms.CharField(max_length=50, validators=[validate_state])

    field_order = ["to_state", "rationale"]

    def __init__(self, *args, entity: EntityState, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = allowed_next_states(entity)
        if allowed is not None:
            # Offer what the machine allows; the service still re-checks under the row lock.
            self.fields["to_state"] = forms.ChoiceField(choices=[(state, state) for state in allowed])
        self.fields["to_state"].help_text = (
            "Any other state: this entity type has no state machine." if allowed is None else ""
        )
