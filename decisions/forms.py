"""Page forms for decisions. They only validate; writes go through decisions.services."""

from itertools import zip_longest

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.text import slugify

from core.access import eligible_reviewers
from core.web.forms import DecideForm

from .models import Decision, DecisionState, Verdict
from .options import clean_options, clean_tags

ROW_FIELDS = ("id", "label", "description", "pros", "cons")
EMPTY_ROWS = 2


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def rows_from_options(options) -> list[dict]:
    """Stored options as the editable rows of the form (pros and cons one per line)."""
    return [
        {
            "id": option.get("id", ""),
            "label": option.get("label", ""),
            "description": option.get("description", ""),
            "pros": "\n".join(option.get("pros", [])),
            "cons": "\n".join(option.get("cons", [])),
        }
        for option in options or []
    ]


def options_from_rows(rows: list[dict]) -> list[dict]:
    """Rows → the stored shape; blank rows are dropped and an empty id is derived from the label."""
    options = []
    for number, row in enumerate(rows, start=1):
        if not any(row[key].strip() for key in ROW_FIELDS):
            continue
        label = row["label"].strip()
        option = {
            "id": row["id"].strip() or slugify(label, allow_unicode=True)[:50] or f"option-{number}",
            "label": label,
        }
        if row["description"].strip():
            option["description"] = row["description"].strip()
        for key in ("pros", "cons"):
            if lines := _lines(row[key]):
                option[key] = lines
        options.append(option)
    return options


class DecisionForm(forms.Form):
    title = forms.CharField(max_length=200)
    question = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}),
                               help_text="Needed before the decision can be activated.")
    context = forms.CharField(required=False, max_length=20000, widget=forms.Textarea(attrs={"rows": 4}))
    tags = forms.CharField(required=False, max_length=1000, help_text="Comma-separated, e.g. infra, hiring")
    review_by = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                help_text="When this decision should be looked at again.")
    supersedes = forms.ModelChoiceField(queryset=Decision.objects.none(), required=False,
                                        help_text="A decided decision this one replaces once decided.")
    related_decisions = forms.ModelMultipleChoiceField(
        queryset=Decision.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    reviewers = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.none(), required=False, widget=forms.CheckboxSelectMultiple,
        help_text="People of the team asked to approve or object before it is decided.",
    )
    required_approvals = forms.IntegerField(
        min_value=0, max_value=100, initial=0, required=False,
        help_text="Approvals needed before deciding; 0: the owner decides alone.",
    )

    def __init__(self, *args, project, user, decision: Decision | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        same_project = Decision.objects.visible_to(user).filter(project=project).order_by("title")
        if decision is not None:
            same_project = same_project.exclude(pk=decision.pk)
        current = decision.supersedes_id if decision is not None else None
        self.fields["supersedes"].queryset = same_project.filter(Q(state=DecisionState.DECIDED) | Q(pk=current))
        self.fields["related_decisions"].queryset = same_project
        self.fields["reviewers"].queryset = team_people(project)
        if self.is_bound:
            self.option_rows = self._posted_rows()
        else:
            stored = rows_from_options(decision.options if decision is not None else [])
            # One blank row after the stored ones (two on a new decision) so that adding works without JS.
            blanks = 1 if stored else EMPTY_ROWS
            self.option_rows = stored + [dict.fromkeys(ROW_FIELDS, "") for _ in range(blanks)]

    def _posted_rows(self) -> list[dict]:
        columns = [self.data.getlist(f"option_{key}") for key in ROW_FIELDS]
        return [
            dict(zip(ROW_FIELDS, (value or "" for value in values)))
            for values in zip_longest(*columns, fillvalue="")
        ]

    def clean_required_approvals(self) -> int:
        return self.cleaned_data["required_approvals"] or 0

    def clean_tags(self) -> list[str]:
        return clean_tags([tag.strip() for tag in self.cleaned_data["tags"].split(",") if tag.strip()])

    def clean(self):
        cleaned = super().clean()
        try:
            cleaned["options"] = clean_options(options_from_rows(self.option_rows))
        except ValidationError as error:
            self.add_error(None, ValidationError([f"Options: {message}" for message in error.messages]))
        return cleaned

    def changes(self) -> dict:
        """The cleaned values as keyword arguments of decision_create / decision_update."""
        return {key: self.cleaned_data[key] for key in (
            "title", "question", "context", "options", "tags", "review_by", "supersedes", "related_decisions",
            "reviewers", "required_approvals",
        )}


def team_people(project):
    """Who may be named a reviewer: the owner and the members (not viewers), by email."""
    return eligible_reviewers(get_user_model().objects.all(), project).order_by("email")


class ReviewForm(forms.Form):
    """A reviewer's verdict from the page; the option is checked by review_create, as on the API."""

    verdict = forms.ChoiceField(choices=Verdict.choices, widget=forms.RadioSelect)
    option = forms.CharField(max_length=50, required=False)
    comment = forms.CharField(required=False, max_length=20000, strip=False, widget=forms.Textarea(attrs={"rows": 3}))


class DecidePageForm(DecideForm):
    """No option chosen is not a form error here: perform_transition refuses it and records the attempt,
    exactly as the API does."""

    selected_option = forms.CharField(max_length=50, required=False, help_text="The option you choose.")
