"""The parts of a page that update themselves: static/js/live.js and htmx ask for one of them with
`?partial=<name>` when the event stream says something changed, and swap in just that fragment."""

from django.core.exceptions import BadRequest


def requested_part(request, parts) -> str | None:
    """The part of the page asked for: None for the whole page, else one of `parts` (a 400 otherwise,
    rather than a whole page htmx would swap into a badge)."""
    name = request.GET.get("partial")
    if name is None:
        return None
    if name not in parts:
        raise BadRequest(f"This page has no part {name!r}; it has {', '.join(sorted(parts))}.")
    return name
