"""Redis down (issue 14's degraded mode): pages and the API still answer from the database, rate limits let
reads through, and sign-in is refused (failed attempts cannot be counted) — never a 500.

Redis here is an address nobody listens on (connection refused), the cache the one production uses."""

from typing import Any

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from rulecenter.accounts.models import Role
from rulecenter.accounts.tests.factories import bearer, token_for, user_create
from rulecenter.announcements.models import Announcement, Category
from rulecenter.common.cache import ResilientRedisCache

pytestmark = pytest.mark.django_db

NOBODY = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis_down(settings: Settings) -> Any:
    settings.CACHES = {
        "default": {
            "BACKEND": "rulecenter.common.cache.ResilientRedisCache",
            "LOCATION": NOBODY,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
        }
    }
    settings.AXES_HANDLER = "rulecenter.common.limits.SigninCacheHandler"
    return settings


@pytest.mark.usefixtures("redis_down")
def test_pages_and_the_api_answer_without_redis(client: Client) -> None:
    for path in (
        "/news/",
        "/rules/",
        "/calendar/",
        "/feeds/news.rss",
        "/api/v1/announcements",
    ):
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.status_code)


@pytest.mark.usefixtures("redis_down")
def test_writes_go_on_without_redis(client: Client) -> None:
    Category.objects.create(slug="rule-changes", name="规则变更")
    headers = bearer(token_for(user_create("editor", roles=(Role.EDITOR,))))
    created = client.post(
        "/api/v1/announcements",
        {"title": "发货规则变更", "body": "正文", "category": "rule-changes"},
        content_type="application/json",
        headers=headers,
    )
    assert created.status_code == 201, created.content
    assert Announcement.objects.count() == 1


@pytest.mark.usefixtures("redis_down")
def test_sign_in_is_refused_while_failed_attempts_cannot_be_counted(client: Client) -> None:
    user_create("boss", is_staff=True, is_superuser=True).set_password("a-long-password-1")
    answer = client.post("/admin/login/", {"username": "boss", "password": "a-long-password-1"})
    assert answer.status_code == 503
    assert answer["Retry-After"] == "30"
    assert "登录暂停" in answer.content.decode()
    assert client.get("/admin/login/").status_code == 200  # the form itself is a page like any other


def test_the_cache_answers_as_a_miss_and_leaves_redis_alone_for_a_while() -> None:
    backend = ResilientRedisCache(NOBODY, {"OPTIONS": {"socket_connect_timeout": 0.5}})
    assert backend.get("k", "default") == "default"
    assert backend.down
    assert backend.add("k", 1) is False
    backend.set("k", 1)
    assert backend.get_many(["k"]) == {}
    with pytest.raises(ValueError, match="not found"):
        backend.incr("k")
    assert not backend.reachable()


def test_a_queue_that_is_down_does_not_turn_a_committed_write_into_an_error(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    """The lifecycle's wake-up and a consultation's result are queued after commit, robustly: with RQ's Redis
    down the write stands and answers; `run_due` / `run_due_consultations` make the transitions on time."""
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone
    from redis.exceptions import ConnectionError as RedisConnectionError

    from rulecenter.consultations.services import windows
    from rulecenter.rules import services as rule_services

    class QueueDown:
        def using(self, **kwargs: Any) -> Any:
            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(rule_services, "run_due_lifecycle", QueueDown())
    monkeypatch.setattr(windows, "draft_due_results", QueueDown())
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        rule_services._enqueue_wakeups([timezone.now() + timedelta(hours=1)])
        windows._enqueue_result(timezone.now() + timedelta(days=7))
    assert len(callbacks) == 2  # both ran, both failed, neither raised


@pytest.mark.usefixtures("redis_down")
def test_rate_limits_let_requests_through_and_say_so_once(caplog: pytest.LogCaptureFixture) -> None:
    from rulecenter.common.limits import Rate, limit_hit

    rate = Rate(count=1, seconds=60)
    with caplog.at_level("WARNING"):
        assert [limit_hit(scope="test", ident="a", rate=rate) for _ in range(5)] == [None] * 5
    assert len([r for r in caplog.records if "Redis unreachable" in r.getMessage()]) == 1
    assert not [r for r in caplog.records if "not checked" in r.getMessage()]
