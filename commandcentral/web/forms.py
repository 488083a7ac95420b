"""Forms the surfaces share."""

from django import forms


class RationaleForm(forms.Form):
    rationale = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why? It is stored in the audit trail.",
    )


class DecideForm(RationaleForm):
    selected_option = forms.CharField(max_length=50, help_text="The id of the chosen option.")
