"""/search/?q=…: the results on a page of their own. Works without JavaScript; the palette's Enter
with no result chosen lands here too."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .engine import MAX_LIMIT, MAX_QUERY_LENGTH, TYPES, search

TYPE_LABELS = {"project": "Project", "decision": "Decision", "entity": "Entity", "person": "Person", "event": "Audit row"}


class SearchForm(forms.Form):
    q = forms.CharField(max_length=MAX_QUERY_LENGTH, required=False, strip=True)
    type = forms.ChoiceField(choices=[("", "Everything"), *[(kind, TYPE_LABELS[kind]) for kind in TYPES]], required=False)


@login_required
def search_page(request):
    """No query: the form alone. A query: up to MAX_LIMIT results, best first. An invalid one (too
    long, a NUL character, an unknown type): the form with its error, answered 400."""
    form = SearchForm(request.GET)
    results, status = None, 200
    if not form.is_valid():
        status = 400
    elif form.cleaned_data["q"]:
        kind = form.cleaned_data["type"]
        results = [
            {**result.as_dict(), "label": TYPE_LABELS[result.type]}
            for result in search(request.user, form.cleaned_data["q"], types=(kind,) if kind else TYPES, limit=MAX_LIMIT)
        ]
    return render(request, "search/search.html", {"form": form, "results": results}, status=status)
