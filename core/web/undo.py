"""The Undo offered after a delete on the pages: one offer, shown once, on the next page."""

from django.urls import reverse

SESSION_KEY = "undo_offer"


def offer_undo(request, *, message: str, restore_view: str, pk=None, args=()) -> None:
    """Offer Undo on the next page: a POST to `restore_view` with `pk` (or `args`)."""
    request.session[SESSION_KEY] = {"message": message, "url": reverse(restore_view, args=[pk] if pk is not None else args)}


def undo_offer(request) -> dict:
    """Context processor: the pending offer, taken out of the session as the page renders it."""
    session = getattr(request, "session", None)
    if session is None or SESSION_KEY not in session:
        return {}
    return {"undo_offer": session.pop(SESSION_KEY)}
