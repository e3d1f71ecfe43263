"""One authenticated endpoint that reads nothing: what a token alone costs, and what it acts as.

The token tests use these URLs in this process (`pytest.mark.urls`) and in the server process they start.
"""

from django.http import HttpRequest
from django.urls import path

from rulecenter.accounts.auth import BearerTokenAuth
from rulecenter.accounts.roles import request_actor
from rulecenter.common.problems import ProblemAPI

tokens_api = ProblemAPI(title="token tests", version="tests", urls_namespace="token-tests-api", docs_url=None)


@tokens_api.post("/whoami", auth=BearerTokenAuth(), response=dict[str, object], url_name="whoami")
def whoami(request: HttpRequest) -> dict[str, object]:
    """Who the token acts as: its user and roles, from the request's user and actor only."""
    actor = request_actor(request)
    return {"user": request.user.pk, "username": request.user.get_username(), "roles": sorted(actor.roles)}


WHOAMI = "/tests/api/whoami"
urlpatterns = [path("tests/api/", tokens_api.urls)]
