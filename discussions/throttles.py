"""How fast one person may write comments: `THROTTLE_COMMENT` (default 30/min), API and pages alike."""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

DEFAULT_RATE = "30/min"


class CommentRateThrottle(SimpleRateThrottle):
    """Per signed-in account (a service account is one too), on the shared cache, for new comments only:
    reads, edits and deletes count against the user rate like every other call."""

    scope = "comment"

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope) or DEFAULT_RATE

    def get_cache_key(self, request, view):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None  # refused before it writes anything
        return self.cache_format % {"scope": self.scope, "ident": user.pk}
