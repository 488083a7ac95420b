"""What every page needs to go live: where the event stream is, and how far the trail went when the
page was drawn."""

from django.conf import settings
from django.utils.functional import SimpleLazyObject

from audit.models import AuditEntry


def _latest_audit_id(user) -> int:
    """The newest row this user may read (not the newest of all: that would tell how busy hidden projects are)."""
    return AuditEntry.objects.visible_to(user).order_by("-id").values_list("id", flat=True).first() or 0


def live(request) -> dict:
    """`live_stream_url`: base.html's <body> connects to it (htmx's SSE extension) for signed-in users;
    empty turns live updates off. `live_since`: the newest audit row when the page (or a part of it) was
    drawn; static/js/live.js counts as new only the rows after it, so a change already on the page is
    never announced again when its sealed row arrives a moment later. Lazy: pages without a live list
    never ask for it."""
    return {
        "live_stream_url": settings.LIVE_STREAM_URL,
        "live_since": SimpleLazyObject(lambda: _latest_audit_id(request.user)),
    }
