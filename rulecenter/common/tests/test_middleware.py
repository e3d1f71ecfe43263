"""Pages keep their sessions, signed-in user and messages; the JSON API skips them (common/middleware.py)."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.management import call_command
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory

from rulecenter.accounts.tests.factories import user_create
from rulecenter.common.middleware import (
    PageAuthenticationMiddleware,
    PageMessageMiddleware,
    PageSessionMiddleware,
)


def seen(path: str) -> dict[str, bool]:
    """Which of the three a view at `path` finds on its request."""
    found: dict[str, bool] = {}

    def view(request: HttpRequest) -> HttpResponse:
        found.update(
            session=hasattr(request, "session"),
            user=hasattr(request, "user"),
            messages=hasattr(request, "_messages"),
        )
        return HttpResponse()

    chain = PageSessionMiddleware(PageAuthenticationMiddleware(PageMessageMiddleware(view)))
    chain(RequestFactory().get(path))
    return found


def test_a_page_has_its_session_user_and_messages() -> None:
    assert seen("/consultations/") == {"session": True, "user": True, "messages": True}


def test_an_api_call_pays_for_none_of_them() -> None:
    assert seen("/api/v1/consultations") == {"session": False, "user": False, "messages": False}


@pytest.mark.django_db
def test_a_signed_in_member_s_pages_still_know_them_and_the_api_does_not(client: Client) -> None:
    member = user_create("member-mw")
    client.force_login(member)
    page = client.get("/consultations/")
    assert page.wsgi_request.user == member
    api = client.get("/api/v1/consultations")
    assert api.status_code == 200
    assert isinstance(getattr(api.wsgi_request, "user", AnonymousUser()), AnonymousUser)


def test_the_admin_s_checks_still_find_the_middleware_it_needs() -> None:
    call_command("check", "--fail-level", "WARNING")
