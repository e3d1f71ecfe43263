"""Who is signed in, and what that means for caching and for how long a session lasts.

- `private_page`: a view whose page shows the signed-in user's own data (their vote, their exit request)
  answers `Cache-Control: private, no-cache` — a CDN or shared proxy never keeps it — and lets the header
  show the account and its sign-out button (base.html). Shared pages (the news listing, cached for
  everyone) never show either, so one member's page is never served to another.
- Staff sessions end after `RULECENTER_STAFF_SESSION_SECONDS`: whoever can publish in the platform's name
  should not stay signed in for the two weeks a member does.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

View = Callable[..., HttpResponse]


def private_page(view: View) -> View:
    """Mark a page as the signed-in user's own: not stored by shared caches, revalidated by the browser."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        request.private_page = True  # type: ignore[attr-defined]  # base.html shows the account
        response = view(request, *args, **kwargs)
        patch_cache_control(response, private=True, no_cache=True)
        return response

    return wrapped


@receiver(user_logged_in, dispatch_uid="rulecenter.staff_session_expiry")
def _staff_session_expiry(*, request: HttpRequest | None, user: Any, **kwargs: object) -> None:
    if request is not None and getattr(user, "is_staff", False) and hasattr(request, "session"):
        request.session.set_expiry(settings.RULECENTER_STAFF_SESSION_SECONDS)
