"""The policy header is the one django-csp builds from the settings, on pages, the API and error pages, and
follows the settings when they change (rulecenter/common/csp.py keeps it built per process)."""

import pytest
from csp.constants import NONE, SELF
from csp.decorators import csp_update
from csp.utils import build_policy
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from pytest_django.fixtures import Settings

from rulecenter.common.csp import SitePolicyMiddleware

pytestmark = pytest.mark.django_db


def directives(header: str) -> set[str]:
    return set(header.split("; "))


@pytest.mark.parametrize("path", ["/news/", "/api/v1/announcements", "/no-such-page/"])
def test_every_response_carries_django_csp_s_policy(client: Client, path: str) -> None:
    header = client.get(path)["Content-Security-Policy"]
    assert directives(header) == directives(build_policy())
    assert "script-src 'self'" in header
    assert "frame-ancestors 'none'" in header


def test_a_changed_policy_is_sent_at_once(client: Client, settings: Settings) -> None:
    client.get("/news/")  # built and kept
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": [SELF], "img-src": [NONE]}}
    # The directives' order is django-csp's affair (it differs between runs): compare them as a set.
    assert directives(client.get("/news/")["Content-Security-Policy"]) == {
        "default-src 'self'",
        "img-src 'none'",
    }
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"default-src": [NONE]}}
    assert directives(client.get("/news/")["Content-Security-Policy-Report-Only"]) == {"default-src 'none'"}


def test_a_view_s_own_policy_still_goes_through_django_csp() -> None:
    @csp_update({"img-src": "https://images.example.com"})
    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    request = RequestFactory().get("/x")
    middleware = SitePolicyMiddleware(view)
    response = middleware(request)
    assert isinstance(response, HttpResponse)
    assert "img-src 'self' data: https://images.example.com" in response["Content-Security-Policy"]
    plain = SitePolicyMiddleware(lambda request: HttpResponse("ok"))(RequestFactory().get("/y"))
    assert isinstance(plain, HttpResponse)
    assert "images.example.com" not in plain["Content-Security-Policy"]
