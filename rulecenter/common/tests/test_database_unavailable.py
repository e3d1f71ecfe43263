"""When the database cannot be reached — the primary down or failing over — a write answers 503 in the reader's
language with when to try again, a page 503 too, never a 500; nothing is written (issue 14's degraded mode)."""

from typing import Any

import pytest
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.test import Client

from rulecenter.accounts.models import Role
from rulecenter.accounts.tests.factories import bearer, token_for, user_create
from rulecenter.announcements import selectors, services
from rulecenter.announcements.models import Announcement, Category

pytestmark = pytest.mark.django_db


def refused(*args: Any, **kwargs: Any) -> Any:
    raise OperationalError('connection to server at "10.0.0.5", port 5432 failed: Connection refused')


@pytest.mark.parametrize(
    ("language", "says"),
    [
        ("zh-hans", "系统维护中，暂时无法提交"),
        ("en", "Under maintenance: nothing can be submitted right now"),
    ],
)
def test_a_write_while_the_primary_is_down_is_a_503_problem_in_the_readers_language(
    client: Client, monkeypatch: pytest.MonkeyPatch, language: str, says: str
) -> None:
    Category.objects.create(slug="rule-changes", name="规则变更")
    headers = {**bearer(token_for(user_create("editor", roles=(Role.EDITOR,)))), "Accept-Language": language}
    monkeypatch.setattr(services, "announcement_create", refused)
    answer = client.post(
        "/api/v1/announcements",
        {"title": "发货规则变更", "body": "正文", "category": "rule-changes"},
        content_type="application/json",
        headers=headers,
    )
    assert answer.status_code == 503, answer.content
    assert answer["Content-Type"].startswith("application/problem+json")
    assert answer["Retry-After"] == "30"
    problem = answer.json()
    assert problem["status"] == 503
    assert says in problem["detail"]
    assert "10.0.0.5" not in answer.content.decode()  # the server's address is not the reader's business
    assert not Announcement.objects.exists()


def test_a_page_whose_database_is_down_is_a_503_page_not_a_500(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "listing_state", refused)
    answer = client.get("/news/")
    assert answer.status_code == 503
    assert answer["Retry-After"] == "30"
    assert "系统维护中，暂时无法访问" in answer.content.decode()
    english = client.get("/news/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Under maintenance" in english.content.decode()


def test_a_database_error_that_is_a_bug_stays_a_500_not_a_maintenance_notice(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite says OperationalError for a missing column too: that is our bug, logged and answered as one."""
    import sqlite3

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("no such column: announcements_announcement.x") from sqlite3.OperationalError(
            "no such column: announcements_announcement.x"
        )

    monkeypatch.setattr(selectors, "listing_state", broken)
    monkeypatch.setattr(services, "announcement_create", broken)
    client.raise_request_exception = False
    assert client.get("/news/").status_code == 500
    Category.objects.create(slug="rule-changes", name="规则变更")
    answer = client.post(
        "/api/v1/announcements",
        {"title": "发货规则变更", "body": "正文", "category": "rule-changes"},
        content_type="application/json",
        headers=bearer(token_for(user_create("editor", roles=(Role.EDITOR,)))),
    )
    assert (answer.status_code, answer.json()["type"].rsplit(":", 1)[-1]) == (500, "server-error")

    def locked(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("database is locked") from sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(selectors, "listing_state", locked)
    assert client.get("/news/").status_code == 503


def test_a_page_read_while_the_primary_is_down_is_served_though_its_session_cannot_be_saved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A page that changes the session (a notice shown once) read from a replica with the primary down: Django
    would answer 400 "session deleted"; the page is whole, so it is served and only the change is lost. A
    session save failing for another reason is still Django's 400."""
    from django.contrib.sessions.exceptions import SessionInterrupted
    from django.contrib.sessions.models import Session
    from django.db import ProgrammingError
    from django.test import RequestFactory

    from rulecenter.common import replicas
    from rulecenter.common.middleware import PageSessionMiddleware

    def page(request: HttpRequest) -> HttpResponse:
        request.session["consultation_notice"] = "已记录您的投票"
        return HttpResponse("the page")

    from django.contrib.sessions.backends.db import SessionStore

    existing = SessionStore()
    existing.create()  # saved by UPDATE from now on, as a signed-in member's

    def request() -> HttpRequest:
        asked = RequestFactory().get("/consultations/1/")
        asked.COOKIES["sessionid"] = str(existing.session_key)
        return asked

    monkeypatch.setattr(replicas.replicas, "primary_down_until", 0.0)
    monkeypatch.setattr(Session, "save", refused)
    answer = PageSessionMiddleware(page)(request())
    assert answer.status_code == 200
    assert isinstance(answer, HttpResponse)
    assert answer.content == b"the page"
    assert replicas.replicas.primary_down

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ProgrammingError("column session_data does not exist")

    monkeypatch.setattr(Session, "save", broken)
    with pytest.raises(SessionInterrupted):
        PageSessionMiddleware(page)(request())
