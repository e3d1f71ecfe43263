"""Reads from streaming replicas, writes to the primary, read-your-writes (issue 14, common/replicas.py).

The replicas here are states a test sets (answering or not, replaying or promoted, how far behind, what they
replayed); the real thing — a PostgreSQL primary, a `pg_basebackup` replica held back by
`recovery_min_apply_delay`, a member voting and reading the page at once — is bench/faults.py, which CI runs.
"""

import dataclasses
import os
import subprocess
import sys
import threading
import time

import pytest
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory

from rulecenter.common import replicas
from rulecenter.common.replicas import COOKIE, ReadRoutingMiddleware, ReplicaRouter, ReplicaState, choose

REPLICA = "replica1"


def state(
    *, up: bool = True, in_recovery: bool = True, lag: float = 0.0, replayed: str = "0/5000"
) -> ReplicaState:
    return ReplicaState(REPLICA, up, in_recovery, lag, replayed, time.monotonic())


class Replica:
    """The one replica a test sets the state of; whether each ask of it was a fresh one."""

    def __init__(self) -> None:
        self.state = state()
        self.asked: list[bool] = []

    def ask(self, alias: str, *, fresh: bool = False) -> ReplicaState:
        self.asked.append(fresh)
        return self.state


@pytest.fixture
def replica(monkeypatch: pytest.MonkeyPatch) -> Replica:
    known = Replica()
    monkeypatch.setattr(replicas, "replica_aliases", lambda: [REPLICA])
    monkeypatch.setattr(replicas.replicas, "state", known.ask)
    monkeypatch.setattr(replicas.replicas, "primary_down_until", 0.0)
    return known


def get(*, cookie: str | None = None, token: str | None = None, method: str = "GET") -> HttpRequest:
    factory = RequestFactory()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = factory.generic(method, "/news/", headers=headers)
    if cookie is not None:
        request.COOKIES[COOKIE] = cookie
    return request


def test_without_replicas_every_read_is_the_primarys() -> None:
    assert replicas.replica_aliases() == []
    assert choose(get()) is None
    assert ReplicaRouter().db_for_read(object) == "default"


def test_a_reader_who_wrote_nothing_reads_from_the_replica(replica: Replica) -> None:
    assert choose(get()) == REPLICA
    assert choose(get(method="HEAD")) == REPLICA


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_a_write_request_reads_from_the_primary(replica: Replica, method: str) -> None:
    assert choose(get(method=method)) is None


def test_a_writer_reads_from_the_primary_until_the_replica_has_replayed_their_write(
    replica: Replica,
) -> None:
    replica.state = state(replayed="0/5000")
    assert choose(get(cookie="0/6000")) is None  # the write is at 0/6000: not on the replica yet
    assert True in replica.asked  # asked afresh, not from what it replayed a second ago
    replica.state = state(replayed="0/6000")
    assert choose(get(cookie="0/6000")) == REPLICA
    replica.state = state(replayed="1/0")  # positions compare as numbers, not as text
    assert choose(get(cookie="0/FFFFFFFF")) == REPLICA


def test_an_api_client_is_pinned_by_its_token_not_by_a_cookie(
    replica: Replica, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = get(token="rc_writer", method="POST")
    response = HttpResponse(status=201)
    middleware = ReadRoutingMiddleware(lambda request: response)
    monkeypatch.setattr(replicas, "wal_position", lambda: "0/9000")
    middleware(writer)
    assert COOKIE not in response.cookies  # an API client keeps no cookies
    assert choose(get(token="rc_writer")) is None  # the same token: the primary until replayed
    assert choose(get(token="rc_someone_else")) == REPLICA
    replica.state = state(replayed="0/9000")
    assert choose(get(token="rc_writer")) == REPLICA
    cache.clear()


def test_a_browser_write_leaves_a_cookie_that_lasts_the_replicas_longest_allowed_lag(
    replica: Replica, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replicas, "wal_position", lambda: "0/7000")
    response = HttpResponse(status=302)
    ReadRoutingMiddleware(lambda request: response)(get(method="POST"))
    cookie = response.cookies[COOKIE]
    assert cookie.value == "0/7000"
    assert cookie["max-age"] == 10  # RULECENTER_REPLICA_MAX_LAG_SECONDS
    assert cookie["httponly"]
    for status in (401, 422, 429, 503):  # refused or failed: nothing was written
        failed = HttpResponse(status=status)

        def answer(request: HttpRequest, failed: HttpResponse = failed) -> HttpResponse:
            return failed

        ReadRoutingMiddleware(answer)(get(method="POST"))
        assert COOKIE not in failed.cookies
    read = HttpResponse()
    ReadRoutingMiddleware(lambda request: read)(get())
    assert COOKIE not in read.cookies


@pytest.mark.parametrize("cookie", ["", "zz/zz", "1/2/3", "0/" + "F" * 40, "../../etc", "５/０"])
def test_a_cookie_that_is_not_a_position_is_ignored(replica: Replica, cookie: str) -> None:
    assert choose(get(cookie=cookie)) == REPLICA


def test_a_replica_down_or_too_far_behind_is_skipped(replica: Replica) -> None:
    replica.state = state(up=False)
    assert choose(get()) is None
    replica.state = state(lag=10.5)  # RULECENTER_REPLICA_MAX_LAG_SECONDS is 10
    assert choose(get()) is None
    replica.state = state(lag=9.5)
    assert choose(get()) == REPLICA


def test_a_promoted_replica_is_read_only_while_the_old_primary_cannot_be_reached(
    replica: Replica,
) -> None:
    replica.state = state(in_recovery=False)
    assert choose(get()) is None  # a primary of its own: another history than the configured primary's
    replicas.replicas.primary_failed()
    assert choose(get()) == REPLICA
    assert choose(get(cookie="F/0")) == REPLICA  # a writer too: the primary that had their write is gone


def test_with_the_primary_down_a_writer_reads_from_the_replica(replica: Replica) -> None:
    assert choose(get(cookie="0/6000")) is None
    replicas.replicas.primary_failed()
    assert choose(get(cookie="0/6000")) == REPLICA


def test_the_router_reads_where_the_request_chose_except_inside_a_transaction(
    replica: Replica, transactional_db: None
) -> None:
    router = ReplicaRouter()
    seen: list[str | None] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(router.db_for_read(object))
        with transaction.atomic():
            seen.append(router.db_for_read(object))  # reads its own writes
        seen.append(router.db_for_write(object))
        return HttpResponse()

    ReadRoutingMiddleware(view)(get())
    assert seen == [REPLICA, "default", "default"]
    assert router.db_for_read(object) == "default"  # outside a request: commands, workers, the index follower
    assert router.allow_migrate("default", "announcements")
    assert not router.allow_migrate(REPLICA, "announcements")


def test_a_read_that_loses_its_replica_is_read_again_from_the_primary(
    replica: Replica, monkeypatch: pytest.MonkeyPatch
) -> None:
    used: list[str | None] = []
    failed: list[str] = []
    monkeypatch.setattr(replicas.replicas, "replica_failed", failed.append)

    def view(request: HttpRequest) -> HttpResponse:
        used.append(replicas._reads_from.get())
        if len(used) == 1:  # the replica went away under the first read
            replica.state = state(up=False)
            request.rulecenter_database_failed = True  # type: ignore[attr-defined]
            return HttpResponse(status=503)
        return HttpResponse("the page")

    response = ReadRoutingMiddleware(view)(get())
    assert used == [REPLICA, None]
    assert response.status_code == 200


def test_replica_urls_are_refused_without_postgresql() -> None:
    env = {
        **os.environ,
        "DATABASE_URL": "sqlite:////tmp/x.sqlite3",
        "DATABASE_REPLICA_URLS": "postgres://r/x",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-c", "import config.settings.base"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "DATABASE_REPLICA_URLS 只用于 PostgreSQL" in result.stderr


def test_metrics_show_each_replicas_lag(replica: Replica, client: Client, db: None) -> None:
    replica.state = state(lag=2.5)
    text = client.get("/metrics").content.decode()
    assert 'rulecenter_replica_up{replica="replica1"} 1.0' in text
    assert 'rulecenter_replica_lag_seconds{replica="replica1"} 2.5' in text
    replica.state = state(up=False)
    text = client.get("/metrics").content.decode()
    assert 'rulecenter_replica_up{replica="replica1"} 0.0' in text


def test_each_replica_is_asked_at_most_once_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def ask(alias: str) -> ReplicaState:
        asked.append(alias)
        return state()

    clock = [100.0]
    monkeypatch.setattr(replicas, "_ask", ask)
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    watch = replicas._Replicas()
    watch.state(REPLICA)
    watch.state(REPLICA)
    assert asked == [REPLICA]
    clock[0] += 1.1
    watch.state(REPLICA)
    assert len(asked) == 2
    watch.state(REPLICA, fresh=True)  # a writer's read waits for what the replica says now
    assert len(asked) == 3


def test_while_one_thread_asks_a_replica_the_others_go_on_with_what_was_known() -> None:
    """A replica that does not answer holds the thread asking it for its connect timeout; the others must not
    queue behind it."""
    watch = replicas._Replicas()
    asking, answer = threading.Event(), threading.Event()
    answers = iter([state(replayed="0/1"), None])

    def ask(alias: str) -> ReplicaState:
        found = next(answers)
        if found is None:  # the second ask: the replica does not answer until the test lets it
            asking.set()
            answer.wait(5)
            return state(up=False)
        return found

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(replicas, "_ask", ask)
        watch.state(REPLICA)
        slow = threading.Thread(target=watch.state, args=(REPLICA,), kwargs={"fresh": True})
        slow.start()
        assert asking.wait(5)
        seen: list[ReplicaState] = []
        other = threading.Thread(target=lambda: seen.append(watch.state(REPLICA, fresh=False)))
        # What was known is old: the other thread wants to ask again, and finds the slow one asking.
        watch._states[REPLICA] = dataclasses.replace(watch._states[REPLICA], checked_at=time.monotonic() - 10)
        other.start()
        other.join(2)
        answer.set()
        slow.join(5)
    assert not other.is_alive(), "a reader waited behind the slow ask"
    assert [known.replayed for known in seen] == ["0/1"]  # what was known


def test_with_the_primary_lost_a_signed_in_read_is_read_again_with_its_grants_from_the_replica(
    replica: Replica,
) -> None:
    seen: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(replicas.authority_alias())  # where a token's grant and the generation are read
        if len(seen) == 1:  # the primary went away under the grants' read
            replicas.replicas.primary_failed()
            request.rulecenter_database_failed = True  # type: ignore[attr-defined]
            return HttpResponse(status=503)
        return HttpResponse("the member's page")

    response = ReadRoutingMiddleware(view)(get())
    assert seen == ["default", REPLICA]
    assert response.status_code == 200
    replicas.replicas.primary_down_until = 0.0
    ReadRoutingMiddleware(lambda request: HttpResponse())(get())
    assert (
        replicas.authority().alias == "default"
    )  # outside a request, and with the primary back: the primary


def test_several_replicas_share_the_reads_and_a_writer_reads_from_one_that_has_their_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    known = {
        "replica1": ReplicaState("replica1", True, True, 0.0, "0/5000", time.monotonic()),
        "replica2": ReplicaState("replica2", True, True, 0.0, "0/9000", time.monotonic()),
    }
    monkeypatch.setattr(replicas, "replica_aliases", lambda: list(known))
    monkeypatch.setattr(replicas.replicas, "state", lambda alias, *, fresh=False: known[alias])
    monkeypatch.setattr(replicas.replicas, "primary_down_until", 0.0)
    assert {choose(get()) for _ in range(200)} == {"replica1", "replica2"}
    assert {choose(get(cookie="0/8000")) for _ in range(50)} == {"replica2"}  # only it has replayed the write
