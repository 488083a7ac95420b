"""A database that does not answer gets a 503 with Retry-After, on the API and the pages, not a 500.

So does a connection lost during the request: the server ended the session (a restart, a failover,
`pg_terminate_backend`, an idle timeout) or the network cut it, after the request had used it. A retry
gets a new connection, so the client is asked to retry rather than told of a bug.

The middleware catches the errors that views raise, DRF views included. DRF's exception handler
(core.api.support) leaves these errors alone, and DRF re-raises them. The middleware
logs one warning line per request. A middleware can raise one outside any view: django_structlog
reads the session's user before the view for every request with a session cookie. Such an error
reaches handler500 (commandcentral.error_views.server_error), which answers the same 503. Django
logs that one as an error, with its traceback.
"""

import psycopg
import structlog
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from core.errors import error_body

from .ops import check_database

logger = structlog.get_logger(__name__)

RETRY_AFTER_SECONDS = 10


# SQLSTATEs with which PostgreSQL ends a session rather than fails a statement: class 08 (connection
# exception) and 57P01-57P05 (administrator or crash shutdown, server starting, database dropped, idle
# session timeout). 57014 (a cancelled or timed-out statement) is the statement's own failure.
SESSION_ENDED_SQLSTATES = ("08", "57P")


def database_unreachable(error: Exception) -> bool:
    """True when `error` came from a database that does not answer, false when it came from the query.

    OperationalError also covers SQLite's "no such table". InterfaceError also covers a parameter
    that SQLite cannot bind. Both are bugs and must stay 500s, so the database is asked once more,
    with /ready's round trip. An error from a database that answers that round trip was the query's
    own, unless the connection it came from was lost (connection_lost). ProgrammingError,
    IntegrityError and DataError are never outages.
    """
    if not isinstance(error, (OperationalError, InterfaceError)):
        return False
    if connection.connection is None:
        return True  # it could not even connect; a second try would only wait out connect_timeout again
    if connection_lost(error):
        return True
    try:
        check_database()
    except DatabaseError:
        return True
    return False


def connection_lost(error: Exception) -> bool:
    """True when PostgreSQL's driver reports that the connection itself ended, not the statement.

    The round trip cannot tell: when the lost connection was inside a transaction, Django drops it as
    the atomic block exits and opens a new one, which answers. psycopg raises an OperationalError
    without a SQLSTATE only when libpq could not talk to the server at all (closed socket, broken
    connection); the server's own farewell carries one of SESSION_ENDED_SQLSTATES. SQLite has no
    connection to lose: its errors are judged by the round trip alone.
    """
    cause = error.__cause__
    if not isinstance(cause, psycopg.Error):
        return False
    if cause.sqlstate is None:
        return isinstance(cause, psycopg.OperationalError)  # psycopg's InterfaceErrors are misuse: a bug
    return cause.sqlstate.startswith(SESSION_ENDED_SQLSTATES)


def database_unavailable_response(request) -> HttpResponse:
    """503 with Retry-After: JSON under /api/, a stand-alone page elsewhere. The error is never shown."""
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body(503, "The database is unavailable; retry later.", code="database_unavailable"),
                                status=503)
    else:
        # Stand-alone template with no request context: the user and the session are in the database.
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    """Answers 503 + Retry-After when a view fails because the database does not answer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not database_unreachable(exception):
            return None
        # A warning with the error, not a traceback: during an outage every request ends here.
        logger.warning("database_unavailable", error=repr(exception), path=request.path)
        return database_unavailable_response(request)
