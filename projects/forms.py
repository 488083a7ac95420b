"""Page forms for projects. They only validate; writes go through projects.services."""

from django import forms

from .models import MembershipRole


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=220, required=False, help_text="Leave empty to derive it from the name.")
    description = forms.CharField(required=False, max_length=20000, widget=forms.Textarea(attrs={"rows": 4}))
    repo_url = forms.URLField(label="Repository URL", max_length=500, required=False, assume_scheme="https")
    repo_path = forms.CharField(label="Repository path", max_length=500, required=False)


class TeamAddForm(forms.Form):
    """The address only: looking it up is the service's, after it checked that the caller may manage the
    team (projects.services.membership_add_person)."""

    email = forms.EmailField(label="Email of the person to add", max_length=254)
    role = forms.ChoiceField(choices=MembershipRole.choices, initial=MembershipRole.MEMBER)
