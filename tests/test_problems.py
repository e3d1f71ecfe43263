"""Every API error is an RFC 7807 problem (application/problem+json) in the user's language."""

from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from rulecenter.accounts import auth
from rulecenter.announcements import api as announcements_api
from rulecenter.announcements import selectors
from rulecenter.announcements import services as announcement_services
from rulecenter.common import api as common_api
from rulecenter.common import idempotency, pagination, problems
from rulecenter.common.problems import PROBLEM_MEDIA_TYPE, ProblemDetail

pytestmark = pytest.mark.django_db


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content.decode()
    assert response["Content-Type"] == f"{PROBLEM_MEDIA_TYPE}; charset=utf-8"
    body: dict[str, Any] = response.json()
    ProblemDetail.model_validate(body)
    assert body["status"] == status
    return body


@pytest.mark.parametrize(
    "path", ["/api/v1/nope", "/api/v1/announcements/x/y", "/api/v1/", "/api/v1/docs/extra"]
)
def test_unknown_api_urls_are_404_problems(client: Client, path: str) -> None:
    body = problem(client.get(path), 404)
    assert body["type"] == "urn:rulecenter:problem:not-found"
    assert body["title"] == "未找到"
    assert body["instance"] == path


def test_an_unknown_url_points_to_the_schema(client: Client) -> None:
    body = problem(client.get("/api/v1/nope"), 404)
    assert body["detail"] == "API 中没有地址“/api/v1/nope”。可用的接口见 /api/v1/openapi.json。"


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_a_method_not_offered_is_a_405_problem_with_allow(client: Client, method: str) -> None:
    response = getattr(client, method)("/api/v1/announcements")
    body = problem(response, 405)
    assert response["Allow"] == "GET, POST"
    assert body["detail"] == f"此地址不支持 {method.upper()} 方法；可用的方法：GET, POST。"


def test_a_crash_is_a_500_problem_that_hides_the_cause(
    client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(**kwargs: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(selectors, "announcement_get_public", explode)
    body = problem(client.get("/api/v1/announcements/1"), 500)
    assert body["title"] == "服务器错误"
    assert "secret internals" not in str(body)
    assert "secret internals" in caplog.text


def test_problems_answer_in_english_when_asked(client: Client) -> None:
    response = client.get("/api/v1/nope", headers={"accept-language": "en"})
    body = problem(response, 404)
    assert body["title"] == "Not found"
    assert body["detail"].startswith("The API has no address")
    assert response["Content-Language"] == "en"


def test_problems_default_to_simplified_chinese(client: Client) -> None:
    response = client.get("/api/v1/announcements", {"page": 0})
    body = problem(response, 422)
    assert body["title"] == "请求参数有误"
    assert response["Content-Language"] == "zh-hans"


def test_the_html_site_keeps_its_html_404(client: Client) -> None:
    response = client.get("/news/999999/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


MESSAGES = [
    *[problem_type.title for problem_type in problems.PROBLEM_TYPES],
    *problems.FIELD_MESSAGES.values(),
    "不能为空。",
    problems.NOT_FOUND_DETAIL,
    problems.URL_UNKNOWN,
    problems.AUTHENTICATION_REQUIRED,
    problems.PERMISSION_DENIED_DETAIL,
    problems.VALIDATION_DETAIL,
    problems.BODY_UNPARSABLE,
    problems.BAD_REQUEST_DETAIL,
    problems.METHOD_NOT_ALLOWED_DETAIL,
    problems.THROTTLED_DETAIL,
    problems.THROTTLED_WAIT_DETAIL,
    problems.SERVER_ERROR_DETAIL,
    idempotency.KEY_REUSED,
    idempotency.KEY_IN_FLIGHT,
    announcements_api.CATEGORY_UNKNOWN,
    announcements_api.ANNOUNCEMENT_UNKNOWN,
    common_api.PAGE_SIZE_TOO_LARGE,
    announcements_api.ANNOUNCEMENT_WITHDRAWN,
    announcements_api.GONE.title,
    announcement_services.ANNOUNCEMENT_DELETE_PUBLISHED,
    announcement_services.ANNOUNCEMENT_STATUTORY_FROZEN,
    announcement_services.ANNOUNCEMENT_WITHDRAWN_FROZEN,
    announcement_services.ANNOUNCEMENT_STATUS_BY_ACTION,
    announcement_services.PUBLISH_NEEDS_REVIEW,
    announcement_services.PUBLISH_NOT_APPROVED,
    announcement_services.PUBLISH_APPROVED_BY_AUTHOR,
    announcement_services.ALREADY_PUBLISHED,
    announcement_services.REVIEW_ONLY_DRAFTS,
    announcement_services.ALREADY_APPROVED,
    announcement_services.OWN_DRAFT_APPROVAL,
    announcement_services.WITHDRAW_ONLY_PUBLISHED,
    announcement_services.COMMENT_REQUIRED,
    announcement_services.REASON_REQUIRED,
    pagination.PAGE_INVALID,
    auth.TOKEN_INVALID,
]


@pytest.mark.parametrize("message", MESSAGES)
def test_every_api_message_has_an_english_translation(message: str) -> None:
    """A message added without its English (common/locale/en) would answer English clients in Chinese."""
    with translation.override("en"):
        english = translation.gettext(message)
    assert english != message
    assert not any("\u4e00" <= char <= "\u9fff" for char in english)
    placeholders = {part.split("}")[0] for part in message.split("{")[1:]}
    assert placeholders == {part.split("}")[0] for part in english.split("{")[1:]}
