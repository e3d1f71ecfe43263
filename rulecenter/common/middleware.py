"""Middleware that pages need and the JSON API does not: sessions, the signed-in user, messages.

The API authenticates every call with a bearer token (accounts.auth sets `request.user` itself) and keeps
no session, cookie or flash message; its only sign-in is the token. Each class here runs the middleware it
wraps for every path but the API's, where it hands the request straight on: an API call does not pay for a
session store, a lazy user, two message stores and their signers it never reads (issue 17). The API's own
limits and errors are ninja's (common.limits, common.problems).
"""

import logging
from collections.abc import Callable

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from . import replicas

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"


class PagesOnly:
    """Mixed in before a middleware class: that middleware for pages, nothing for requests under API_PREFIX.

    The result is still a subclass of the middleware it wraps, so Django's checks (the admin's) find it.
    Synchronous only (Django adapts it under ASGI); the wrapped classes have no process_view hook.
    """

    sync_capable = True
    async_capable = False

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info.startswith(API_PREFIX):
            skipped: HttpResponseBase = self.get_response(request)  # type: ignore[attr-defined]
            return skipped
        response: HttpResponseBase = super().__call__(request)  # type: ignore[misc]
        return response


class PageSessionMiddleware(PagesOnly, SessionMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        try:
            return super().process_response(request, response)
        except SessionInterrupted as interrupted:
            # Django words any database error while saving a changed session as "the session was deleted"
            # (400). With the primary unreachable the page was read from a replica and is whole; only the
            # session's change (a notice shown once) is not kept. Serve the page: reading goes on.
            if not _unreachable(interrupted):
                raise
            logger.warning(
                "session not saved, the database is unreachable: %s %s", request.method, request.path
            )
            replicas.replicas.primary_failed()
            return response


def _unreachable(error: BaseException) -> bool:
    from .problems import database_unreachable

    seen: BaseException | None = error
    while seen is not None:
        if database_unreachable(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class PageAuthenticationMiddleware(PagesOnly, AuthenticationMiddleware):
    pass


class PageMessageMiddleware(PagesOnly, MessageMiddleware):
    pass


class DatabaseUnavailableMiddleware:
    """A page whose database cannot be reached (the primary down or failing over) answers 503 with when to
    come back, in the reader's language — not a 500. Inner-most, so it sees what the view raised; the API
    answers the same as a problem (common/problems.py)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from .problems import database_unreachable
        from .views import database_unavailable

        if not database_unreachable(exception):
            return None  # a bug, not an outage: Django's 500

        return database_unavailable(request, exception)
