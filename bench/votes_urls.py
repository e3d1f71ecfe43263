"""The project's URLs plus the HTTP ceilings for votes: a constant authenticated POST endpoint and the constant
GET page of bench.views.

It runs everything a vote runs except the vote itself — the same server, URL resolution, ninja, the bearer
token lookup, parsing and validating the same JSON body, a JSON answer with 201 — so votes/s divided by its
requests/s is the share of the HTTP ceiling that voting reaches.
"""

from django.http import HttpRequest
from django.urls import path
from ninja.responses import Status

from config.urls import handler404, handler500
from config.urls import urlpatterns as project_urlpatterns
from rulecenter.accounts.auth import BearerTokenAuth
from rulecenter.common.problems import ProblemAPI
from rulecenter.consultations.schemas import VoteIn

from .views import constant

bench_api = ProblemAPI(title="bench", version="bench", urls_namespace="bench-api", docs_url=None)


@bench_api.post("/constant-vote", auth=BearerTokenAuth(), response={201: dict[str, str]}, url_name="constant")
def constant_vote(request: HttpRequest, payload: VoteIn) -> Status[dict[str, str]]:
    return Status(
        201, {"choice": "support", "label": "支持", "reason": "", "submitted_at": "2025-01-18T12:00:00+08:00"}
    )


urlpatterns = [
    # Under /api/ like the votes endpoint, so the page-only middleware skips it as it skips the API.
    path("api/bench/", bench_api.urls),
    path("bench/constant/", constant, name="bench-constant"),  # the GET ceiling on the same server
    *project_urlpatterns,
]

__all__ = ["handler404", "handler500", "urlpatterns"]
