"""Forms the surfaces share."""

from django import forms


class RationaleForm(forms.Form):
    rationale = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why? It is stored in the audit trail.",
    )


class DecideForm(RationaleForm):
    """Decide: pick one of the decision's options (the admin passes the decision as `obj`)."""

    takes_obj = True
    selected_option = forms.ChoiceField(choices=(), widget=forms.RadioSelect, label="Chosen option")
    field_order = ["selected_option", "rationale"]

    def __init__(self, *args, obj=None, **kwargs):
        super().__init__(*args, **kwargs)
        options = getattr(obj, "options", None) or []
        self.fields["selected_option"].choices = [(o.get("id"), f"{o.get('label')} ({o.get('id')})") for o in options]
