"""Limits on every door (issue 12): sign-in lockout, API per token and per address, votes, search.

Each limit is lowered with the settings fixture (the test settings keep them out of the way of the suite).
"""

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.test import Client
from pytest_django.fixtures import Settings

from rulecenter.accounts.tests.factories import bearer, user_create
from rulecenter.common import limits
from rulecenter.consultations.models import Consultation, VoteHistory
from rulecenter.consultations.tests.factories import DURING, consultation_create, members_with_tokens
from rulecenter.rules.tests.factories import shanghai

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-password-1"
SIGN_IN = "/consultations/sign-in/"
ADMIN_LOGIN = "/admin/login/"
HOME = "10.0.0.1"
ELSEWHERE = "10.0.0.2"


@pytest.fixture
def lockout(settings: Settings) -> None:
    settings.RULECENTER_SIGNIN_FAILURES = 5
    settings.RULECENTER_SIGNIN_COOLOFF_MINUTES = 15


def account(username: str, **fields: Any) -> None:
    user = user_create(username, **fields)
    user.set_password(PASSWORD)
    user.save()


def sign_in(client: Client, username: str, password: str, *, at: str = HOME, door: str = SIGN_IN) -> Any:
    return client.post(door, {"username": username, "password": password}, REMOTE_ADDR=at)


def fail(client: Client, username: str, times: int, *, at: str = HOME, door: str = SIGN_IN) -> list[int]:
    return [sign_in(client, username, "wrong", at=at, door=door).status_code for _ in range(times)]


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@time_machine.travel(shanghai(2025, 3, 1, 9), tick=False)
def test_the_sixth_sign_in_is_refused_with_the_wait_even_with_the_right_password(
    client: Client, lockout: None
) -> None:
    """Four failures show the form again; the fifth locks; the right password then gets 429 and the wait."""
    account("merchant")
    assert fail(client, "merchant", 4) == [200] * 4
    fifth = sign_in(client, "merchant", "wrong")
    assert fifth.status_code == 429

    sixth = sign_in(client, "merchant", PASSWORD)
    assert sixth.status_code == 429
    assert sixth["Retry-After"] == "900"
    page = sixth.content.decode()
    assert "登录已暂时锁定" in page
    assert "请在 15 分钟后再试" in page
    assert not signed_in(client)

    english = client.post(
        SIGN_IN, {"username": "merchant", "password": PASSWORD}, REMOTE_ADDR=HOME, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert english.status_code == 429
    assert "Please try again in 15 minutes." in english.content.decode()
    assert not signed_in(client)


def test_the_wait_counts_down_and_the_lock_ends_after_the_cool_off(client: Client, lockout: None) -> None:
    """Attempts while locked do not extend the lock: five minutes later the page says ten."""
    account("merchant")
    start = shanghai(2025, 3, 1, 9)
    with time_machine.travel(start, tick=False):
        fail(client, "merchant", 5)
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        locked = sign_in(client, "merchant", PASSWORD)
        assert locked.status_code == 429
        assert locked["Retry-After"] == "600"
        assert "请在 10 分钟后再试" in locked.content.decode()
    with time_machine.travel(start + timedelta(minutes=15, seconds=1), tick=False):
        assert sign_in(client, "merchant", PASSWORD).status_code == 302
        assert signed_in(client)


@time_machine.travel(shanghai(2025, 3, 1, 9), tick=False)
def test_a_lock_holds_the_account_and_the_address_but_no_one_else(client: Client, lockout: None) -> None:
    account("merchant")
    account("neighbour")
    account("stranger")
    fail(client, "merchant", 5)

    assert sign_in(Client(), "merchant", PASSWORD, at=ELSEWHERE).status_code == 429  # the account
    assert sign_in(Client(), "neighbour", PASSWORD, at=HOME).status_code == 429  # the address
    other = Client()
    assert sign_in(other, "stranger", PASSWORD, at=ELSEWHERE).status_code == 302
    assert signed_in(other)


@time_machine.travel(shanghai(2025, 3, 1, 9), tick=False)
def test_a_correct_sign_in_resets_the_count(client: Client, lockout: None) -> None:
    account("merchant")
    assert fail(client, "merchant", 4) == [200] * 4
    assert sign_in(client, "merchant", PASSWORD).status_code == 302
    client.logout()
    assert fail(client, "merchant", 4) == [200] * 4
    assert sign_in(client, "merchant", PASSWORD).status_code == 302


@time_machine.travel(shanghai(2025, 3, 1, 9), tick=False)
def test_the_admin_login_locks_the_same_way(client: Client, lockout: None) -> None:
    account("editor", is_staff=True)
    assert fail(client, "editor", 4, door=ADMIN_LOGIN) == [200] * 4
    assert fail(client, "editor", 1, door=ADMIN_LOGIN) == [429]
    locked = sign_in(client, "editor", PASSWORD, door=ADMIN_LOGIN)
    assert locked.status_code == 429
    assert locked["Retry-After"] == "900"
    assert "请在 15 分钟后再试" in locked.content.decode()
    assert not signed_in(client)


@pytest.fixture
def redis_lockout(lockout: None, settings: Settings) -> Iterator[None]:
    """Production's arrangement: the cache handler on Redis (db 15, a prefix of this test's own)."""
    settings.CACHES = {
        **settings.CACHES,
        "axes": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/15",
            "KEY_PREFIX": f"limits-test-{uuid.uuid4().hex}",
        },
    }
    settings.AXES_CACHE = "axes"
    settings.AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
    AxesProxyHandler.get_implementation(force=True)
    yield
    settings.AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
    AxesProxyHandler.get_implementation(force=True)


def test_with_redis_the_lock_is_kept_in_the_cache_and_its_wait_counts_down(
    client: Client, redis_lockout: None
) -> None:
    account("merchant")
    account("stranger")
    assert fail(client, "merchant", 5) == [200] * 4 + [429]
    time.sleep(1.1)  # Redis counts the lock down in whole seconds
    first = sign_in(client, "merchant", PASSWORD)
    assert first.status_code == 429
    assert 880 <= int(first["Retry-After"]) < 900
    assert "请在 15 分钟后再试" in first.content.decode()
    assert not AccessAttempt.objects.exists()  # nothing written to the database
    assert sign_in(Client(), "stranger", PASSWORD, at=ELSEWHERE).status_code == 302


# --- rates --------------------------------------------------------------------------------------------------


@pytest.fixture
def consultation() -> Consultation:
    with time_machine.travel(shanghai(2025, 1, 10), tick=False):
        return consultation_create()


def vote(
    client: Client, consultation: Consultation, token: str, *, at: str = "127.0.0.1", **headers: Any
) -> Any:
    return client.post(
        f"/api/v1/consultations/{consultation.pk}/votes",
        {"choice": "support"},
        content_type="application/json",
        headers={**bearer(token), **headers},
        REMOTE_ADDR=at,
    )


def assert_problem_429(response: Any, wait: str) -> dict[str, Any]:
    assert response.status_code == 429, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert 1 <= int(response["Retry-After"]) <= 60
    body: dict[str, Any] = response.json()
    assert body["type"] == "urn:rulecenter:problem:rate-limited"
    assert wait in body["detail"]
    return body


@time_machine.travel(DURING, tick=False)
def test_the_api_limits_each_token_and_other_tokens_go_on(
    client: Client, consultation: Consultation, settings: Settings
) -> None:
    settings.RULECENTER_API_RATE = "3/min"
    (_first, busy), (_second, calm) = members_with_tokens(2)
    assert [vote(client, consultation, busy).status_code for _ in range(3)] == [201] * 3
    body = assert_problem_429(vote(client, consultation, busy), "秒后再试")
    assert body["detail"] == "请求过于频繁，请在 60 秒后再试。"
    english = assert_problem_429(vote(client, consultation, busy, **{"Accept-Language": "en"}), "seconds")
    assert english["detail"] == "Too many requests; please try again in 60 seconds."
    assert english["title"] == "Too many requests"
    assert vote(client, consultation, calm).status_code == 201
    assert client.get("/api/v1/announcements").status_code == 200  # no token: the address's own limit


@time_machine.travel(DURING, tick=False)
def test_the_api_limits_each_address_without_a_token(client: Client, settings: Settings) -> None:
    settings.RULECENTER_API_ANON_RATE = "2/min"
    assert [client.get("/api/v1/announcements", REMOTE_ADDR=HOME).status_code for _ in range(2)] == [200, 200]
    assert_problem_429(client.get("/api/v1/announcements", REMOTE_ADDR=HOME), "秒后再试")
    assert client.get("/api/v1/announcements", REMOTE_ADDR=ELSEWHERE).status_code == 200
    # A forged X-Forwarded-For does not buy a fresh count unless a proxy is trusted.
    forged = client.get("/api/v1/announcements", REMOTE_ADDR=HOME, HTTP_X_FORWARDED_FOR="192.0.2.9")
    assert forged.status_code == 429


@time_machine.travel(DURING, tick=False)
def test_guessing_tokens_from_one_address_is_refused_before_any_lookup(
    client: Client, consultation: Consultation, settings: Settings, django_assert_num_queries: Any
) -> None:
    """Refused tokens count per address: past the anonymous rate the guesser gets 429 and costs no query."""
    settings.RULECENTER_API_ANON_RATE = "3/min"

    def guess(n: int, at: str = HOME) -> Any:
        return vote(client, consultation, f"rc_guess{n:040d}", at=at)

    assert [guess(n).status_code for n in range(3)] == [401] * 3
    with django_assert_num_queries(0):
        refused = guess(3)
    assert_problem_429(refused, "秒后再试")
    assert guess(4, at=ELSEWHERE).status_code == 401  # another address is still told what is wrong
    ((_member, token),) = members_with_tokens(1)
    assert vote(client, consultation, token, at=ELSEWHERE).status_code == 201


@time_machine.travel(DURING, tick=False)
def test_a_revote_storm_is_cut_before_it_writes_through_the_api_or_the_form(
    client: Client, consultation: Consultation, settings: Settings
) -> None:
    """Votes per member, one count for the API and the page; refused votes write no VoteHistory."""
    settings.RULECENTER_VOTE_RATE = "3/min"
    (stormer, token), (_other, other_token) = members_with_tokens(2)
    assert [vote(client, consultation, token).status_code for _ in range(3)] == [201] * 3
    assert_problem_429(vote(client, consultation, token), "秒后再试")

    page = Client()
    page.force_login(stormer.user)
    refused = page.post(f"/consultations/{consultation.pk}/", {"choice": "support"}, REMOTE_ADDR=ELSEWHERE)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert "请求过于频繁，请在 60 秒后再试。" in refused.content.decode()
    english = page.post(
        f"/consultations/{consultation.pk}/", {"choice": "support"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "Too many requests; please try again in 60 seconds." in english.content.decode()
    assert VoteHistory.objects.count() == 3

    assert vote(client, consultation, other_token).status_code == 201
    assert VoteHistory.objects.count() == 4


@pytest.fixture
def search_dir(tmp_path: Any, settings: Settings) -> None:
    settings.RULECENTER_SEARCH_INDEX_DIR = tmp_path / "search"
    settings.RULECENTER_SEARCH_NODE = "limits-test"


@time_machine.travel(DURING, tick=False)
def test_search_is_limited_per_address_on_the_page_and_the_api(
    client: Client, settings: Settings, search_dir: None
) -> None:
    settings.RULECENTER_SEARCH_RATE = "2/min"
    first = client.get("/search/", {"q": "发货"}, REMOTE_ADDR=HOME)
    second = client.get("/api/v1/search", {"q": "发货"}, REMOTE_ADDR=HOME)
    assert first.status_code != 429
    assert second.status_code != 429
    page = client.get("/search/", {"q": "发货"}, REMOTE_ADDR=HOME)
    assert page.status_code == 429
    assert page["Retry-After"] == "60"
    assert "请求过于频繁，请在 60 秒后再试。" in page.content.decode()
    english = client.get("/search/", {"q": "发货"}, REMOTE_ADDR=HOME, HTTP_ACCEPT_LANGUAGE="en")
    assert "Too many requests; please try again in 60 seconds." in english.content.decode()
    api = client.get("/api/v1/search", {"q": "发货"}, REMOTE_ADDR=HOME, HTTP_ACCEPT_LANGUAGE="en")
    assert_problem_429(api, "60 seconds")

    assert client.get("/search/", {"q": "发货"}, REMOTE_ADDR=ELSEWHERE).status_code != 429
    assert client.get("/search/", REMOTE_ADDR=HOME).status_code == 200  # the empty form is not a search


def test_a_trusted_proxy_s_forwarded_address_is_the_client_s(settings: Settings, rf: Any) -> None:
    request = rf.get("/", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.5, 198.51.100.7")
    assert limits.client_address(request) == "10.9.9.9"
    settings.RULECENTER_TRUSTED_PROXY = True
    assert limits.client_address(request) == "198.51.100.7"


@pytest.mark.parametrize(
    ("text", "rate"),
    [("600/min", limits.Rate(600, 60)), ("10/m", limits.Rate(10, 60)), ("5/10s", limits.Rate(5, 10)),
     ("100/hour", limits.Rate(100, 3600)), ("", None)],
)  # fmt: skip
def test_rates_read_as_documented(text: str, rate: limits.Rate | None) -> None:
    assert limits.rate_parse(text) == rate


def test_a_misspelt_rate_is_an_error_not_no_limit() -> None:
    with pytest.raises(ValueError, match="600/min"):
        limits.rate_parse("600 per minute")


def test_waits_read_in_the_largest_sensible_unit() -> None:
    assert [limits.wait_text(s) for s in (0.2, 59.5, 119, 900, 7200)] == [
        "1 秒", "60 秒", "119 秒", "15 分钟", "2 小时",
    ]  # fmt: skip


@pytest.mark.parametrize("backend", ["locmem", "redis"])
def test_a_window_counts_each_request_once_and_ends_on_time(settings: Settings, backend: str) -> None:
    """The counter itself, on the test cache and on Redis (one pipelined round trip there): the third
    request of a 2-per-10 s window waits for the window's end, and the counter lives about one window."""
    if backend == "redis":
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": "redis://127.0.0.1:6379/15",
                "KEY_PREFIX": f"limits-test-{uuid.uuid4().hex}",
            }
        }
    rate = limits.Rate(2, 10)
    start = 1_800_000_000.0  # a window's beginning (a multiple of 10)
    with time_machine.travel(start + 3, tick=False):
        waits = [limits.limit_hit(scope="t", ident="one", rate=rate) for _ in range(3)]
        assert limits.limit_hit(scope="t", ident="two", rate=rate) is None
    assert waits == [None, None, 7.0]
    with time_machine.travel(start + 10, tick=False):
        assert limits.limit_hit(scope="t", ident="one", rate=rate) is None  # the next window
    if backend == "redis":
        from django.core.cache import cache

        key, _window = limits._window_key("t", "one", rate, start + 10)
        stored = cache.make_and_validate_key(key)
        ttl = cache._cache.get_client(stored).ttl(stored)  # type: ignore[attr-defined]
        assert 0 < ttl <= rate.seconds + 1
