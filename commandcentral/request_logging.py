"""What django-structlog's `request_finished` line carries beyond its defaults.

django-structlog 11 logs `request` ("GET /path?query"), `code`, and the bound context: `request_id`,
`user_id`, and our `correlation_id` and `client_ip` (core.request_context). These receivers
add the fields a log query filters on directly: `method`, `path`, `status` and `duration_ms`.
"""

import time

from django.dispatch import receiver
from django_structlog import signals


@receiver(signals.bind_extra_request_metadata, dispatch_uid="commandcentral_request_started")
def note_request_start(request, logger, log_kwargs, **kwargs):
    request.log_started_at = time.perf_counter()


@receiver(signals.bind_extra_request_finished_metadata, dispatch_uid="commandcentral_request_finished")
def add_request_summary(request, logger, response, log_kwargs, **kwargs):
    log_kwargs["method"] = request.method
    log_kwargs["path"] = request.path
    log_kwargs["status"] = response.status_code
    started = getattr(request, "log_started_at", None)
    if started is not None:
        # Time to the response object; a streamed body (exports) keeps flowing after this.
        log_kwargs["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)


class OneLinePerRequest:
    """A logging filter for the console in development: `request_started` adds nothing that
    `request_finished` does not say (with the status and the time), so only the latter is printed."""

    def filter(self, record) -> bool:
        message = record.msg
        return not (isinstance(message, dict) and message.get("event") == "request_started")
