"""API tokens answered from memory: no query on a warm process, and still refused within a second everywhere.

The cross-process tests start a real server (granian, one worker) on the same database as this process —
PostgreSQL's test database, or on SQLite a file copy of the in-memory test database that this process then
uses too — and change the token from here while polling the server.
"""

import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch
from urllib.parse import quote

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult
from pytest_django.fixtures import Settings

from rulecenter.accounts import selectors, services, token_cache
from rulecenter.accounts.models import ApiToken, Role
from rulecenter.accounts.selectors import api_token_key
from rulecenter.common.actors import SYSTEM
from rulecenter.consultations.tests.factories import DURING, consultation_create, member_create
from rulecenter.rules.tests.factories import shanghai

from .factories import bearer, user_create
from .urls import WHOAMI

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
# A poll is timed from before it is sent; the server answers it a few milliseconds later.
POLL_SLACK = 0.15
TOKEN_TABLES = ("accounts_apitoken", "auth_user", "auth_group")


@pytest.fixture(autouse=True)
def memo_as_in_production(settings: Settings) -> None:
    """The production memo (the suite's settings may turn it off); changing the setting empties it."""
    settings.RULECENTER_TOKEN_MEMO_SECONDS = 1.0
    settings.RULECENTER_TOKEN_CACHE_SECONDS = 60


def whoami(client: Client, token: str) -> Any:
    return client.post(WHOAMI, content_type="application/json", headers=bearer(token))


def token_of(user: User, **fields: Any) -> tuple[ApiToken, str]:
    return services.api_token_create(actor=SYSTEM, user=user, **fields)


# --- one process -------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.urls("rulecenter.accounts.tests.urls")
def test_a_warm_process_answers_a_known_token_with_no_query(
    client: Client, django_assert_num_queries: Any
) -> None:
    """The first request reads the grants' generation and the token, one statement each; the next ones
    read nothing — for a minute, but for the generation once a second."""
    _record, token = token_of(user_create("editor", roles=(Role.EDITOR,)))
    with time_machine.travel(NOW, tick=False):
        with django_assert_num_queries(2):
            first = whoami(client, token)
        with django_assert_num_queries(0):
            second = whoami(client, token)
        clock = token_cache._clock()
        # 59 s on: the generation only (unchanged, so the grant still counts)
        with patch.object(token_cache, "_clock", lambda: clock + 59), django_assert_num_queries(1):
            assert whoami(client, token).status_code == 200
        # a minute on: the generation and the token again
        with patch.object(token_cache, "_clock", lambda: clock + 61), django_assert_num_queries(2):
            assert whoami(client, token).status_code == 200
    editor = User.objects.get(username="editor")
    assert first.json() == second.json() == {"user": editor.pk, "username": "editor", "roles": ["editor"]}


@pytest.mark.django_db
def test_the_request_user_is_a_real_user_whose_other_fields_load_when_read(
    django_assert_num_queries: Any,
) -> None:
    """What the token's grant gives as `request.user`: the user row, lazily; saving it blanks nothing."""
    stored = user_create("editor", roles=(Role.EDITOR,), email="editor@example.com")
    _record, token = token_of(stored)
    grant = token_cache.token_grant(token=token)
    assert grant is not None
    user = grant.user()
    with django_assert_num_queries(0):
        assert (user.pk, user.get_username(), user.is_active, user.is_authenticated) == (
            stored.pk, "editor", True, True
        )  # fmt: skip
    with django_assert_num_queries(1):
        assert user.email == "editor@example.com"
    assert user == stored
    assert user.has_perm("consultations.add_consultation")  # the editor group's permission
    user.first_name = "编辑"
    user.save()
    stored.refresh_from_db()
    assert stored.first_name == "编辑"
    assert stored.check_password("pw-for-tests-only")


@pytest.mark.django_db
def test_a_repeated_vote_reads_no_token_user_or_group(client: Client) -> None:
    """The vote path itself: the second vote of a member is the vote's own statements, nothing of the token."""
    with time_machine.travel(shanghai(2025, 1, 10), tick=False):
        consultation = consultation_create()
        member = member_create("merchant")
    _record, token = token_of(member.user, roles=[])

    def vote(choice: str) -> Any:
        return client.post(
            f"/api/v1/consultations/{consultation.pk}/votes",
            {"choice": choice},
            content_type="application/json",
            headers=bearer(token),
        )

    with time_machine.travel(DURING, tick=False):
        assert vote("support").status_code == 201
        with CaptureQueriesContext(connection) as captured:
            second = vote("support")
    assert second.status_code == 201, second.content
    assert second.json()["choice"] == "support"
    statements = [query["sql"] for query in captured.captured_queries]
    assert statements  # the vote's own
    assert [sql for sql in statements if any(table in sql for table in TOKEN_TABLES)] == []


@pytest.mark.django_db
@pytest.mark.urls("rulecenter.accounts.tests.urls")
def test_this_process_stops_a_token_at_once_when_it_is_revoked_disabled_or_loses_its_role(
    client: Client,
) -> None:
    editor = user_create("editor", roles=(Role.EDITOR,))
    chief = user_create("chief", roles=(Role.EDITOR, Role.PUBLISHER))
    revoked, revoked_token = token_of(editor)
    _record, disabled_token = token_of(User.objects.create_user("leaver", password="pw-for-tests-only"))
    _record, chief_token = token_of(chief)

    def warm() -> None:
        """Each change empties the memo: every token is kept again before the next one."""
        for token in (disabled_token, chief_token):
            assert whoami(client, token).status_code == 200

    warm()
    assert whoami(client, revoked_token).status_code == 200
    services.api_token_revoke(actor=SYSTEM, token=revoked)
    assert whoami(client, revoked_token).json()["detail"] == "API 令牌无效或已被吊销。"

    warm()
    leaver = User.objects.get(username="leaver")
    leaver.is_active = False
    leaver.save()  # what the admin's user form does
    assert whoami(client, disabled_token).status_code == 401

    assert whoami(client, chief_token).json()["roles"] == ["editor", "publisher"]
    chief.groups.remove(Group.objects.get(name=Role.PUBLISHER.value))
    assert whoami(client, chief_token).json()["roles"] == ["editor"]
    Group.objects.filter(name=Role.EDITOR.value).get().user_set.remove(chief)  # from the group's side
    assert whoami(client, chief_token).json()["roles"] == []


@pytest.mark.django_db
def test_the_generation_moves_with_the_change_s_own_transaction() -> None:
    """Raised inside the revoking transaction: rolled back with it, a revocation that never happened takes
    nothing away anywhere; committed, every process sees both together."""
    record, _token = token_of(user_create("editor"))
    before = selectors.grant_generation_read()

    class Undone(Exception):
        pass

    inside: list[int] = []

    def revoke_then_fail() -> None:
        with transaction.atomic():
            services.api_token_revoke(actor=SYSTEM, token=record)
            inside.append(selectors.grant_generation_read())
            raise Undone

    with pytest.raises(Undone):
        revoke_then_fail()
    assert inside[0] > before  # raised by the change hook and the model signal…
    assert selectors.grant_generation_read() == before  # …and rolled back with the revocation
    record.refresh_from_db()
    assert record.revoked_at is None
    services.api_token_revoke(actor=SYSTEM, token=record)
    assert selectors.grant_generation_read() > before


@pytest.mark.django_db
@pytest.mark.urls("rulecenter.accounts.tests.urls")
def test_a_kept_token_still_expires_on_time(client: Client) -> None:
    with time_machine.travel(NOW, tick=False):
        _record, token = token_of(user_create("editor"), expires_at=NOW + timedelta(hours=1))
        assert whoami(client, token).status_code == 200
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        assert whoami(client, token).json()["detail"] == "API 令牌已于 2026-03-02 13:00 过期。"


@pytest.mark.django_db
@pytest.mark.urls("rulecenter.accounts.tests.urls")
def test_a_grant_stored_under_an_older_generation_is_never_believed(
    client: Client, settings: Settings, tmp_path: Path
) -> None:
    """The race the generation closes: a request that read the token before the revocation committed stores
    its answer in the shared cache after it. Every other process ignores that answer."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }
    record, token = token_of(user_create("editor", roles=(Role.EDITOR,)))
    assert whoami(client, token).status_code == 200
    key = token_cache.GRANT_KEY.format(key_hash=api_token_key(token))
    before = cache.get(key)
    assert before is not None  # (generation, grant), as every process now reads it

    services.api_token_revoke(actor=SYSTEM, token=record)
    cache.set(key, before)  # the late writer
    token_cache._memo.forget()  # another process: nothing of its own kept
    assert whoami(client, token).status_code == 401


# --- last use ----------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # the worker closes its connection, as in production
@pytest.mark.urls("rulecenter.accounts.tests.urls")
def test_last_use_is_recorded_at_most_once_a_minute_by_a_task_after_the_request(client: Client) -> None:
    def use(at: datetime) -> tuple[list[str], int]:
        """Use the token at `at` inside a transaction: what the request wrote to the token table, and how
        many tasks were enqueued once that transaction committed (none before). Then run the worker."""
        queued = DBTaskResult.objects.count()
        with time_machine.travel(at, tick=False):
            with transaction.atomic(), CaptureQueriesContext(connection) as captured:
                assert whoami(client, token).status_code == 200
                assert DBTaskResult.objects.count() == queued
            enqueued = DBTaskResult.objects.count() - queued
            call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
        writes = [
            q["sql"]
            for q in captured.captured_queries
            if "accounts_apitoken" in q["sql"] and "UPDATE" in q["sql"]
        ]
        return writes, enqueued

    record, token = token_of(user_create("partner"), roles=[])
    assert use(NOW) == ([], 1)
    record.refresh_from_db()
    assert record.last_used_at == NOW

    assert use(NOW + timedelta(seconds=59)) == ([], 0)
    record.refresh_from_db()
    assert record.last_used_at == NOW

    assert use(NOW + timedelta(seconds=61)) == ([], 1)
    record.refresh_from_db()
    assert record.last_used_at == NOW + timedelta(seconds=61)


@pytest.mark.django_db
def test_several_processes_recording_the_same_minute_write_the_token_once() -> None:
    record, _token = token_of(user_create("partner"))
    assert services.api_token_touch(token_id=record.pk, used_at=NOW)
    assert not services.api_token_touch(token_id=record.pk, used_at=NOW + timedelta(seconds=30))
    record.refresh_from_db()
    assert record.last_used_at == NOW
    assert services.api_token_touch(token_id=record.pk, used_at=NOW + timedelta(minutes=1))


# --- a second process --------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def shared_database(transactional_db: None, tmp_path: Path) -> Iterator[str]:
    """A database this process and a server process both use: yields its URL for the server.

    PostgreSQL's test database is one already. SQLite's is in this process's memory: it is copied to a file
    and this process's default connection points at the file until the test ends.
    """
    settings_dict = connection.settings_dict
    if connection.vendor == "postgresql":
        password = quote(settings_dict["PASSWORD"] or "", safe="")
        yield (
            f"postgres://{quote(settings_dict['USER'] or '', safe='')}:{password}@"
            f"{settings_dict['HOST'] or '127.0.0.1'}:{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
        )
        return
    path = tmp_path / "shared.sqlite3"
    connection.ensure_connection()
    copy = sqlite3.connect(path)
    connection.connection.backup(copy)
    copy.close()
    in_memory = connections["default"]
    on_file = in_memory.__class__({**settings_dict, "NAME": str(path)}, "default")
    connections["default"] = on_file
    try:
        yield f"sqlite:///{path}"
    finally:
        on_file.close()
        connections["default"] = in_memory


# The server's settings, written for each run: the suite's, with this test's cache and URLs, and the memo as
# in production whatever the suite's settings say. The database comes from DATABASE_URL (base.py reads it).
SERVER_SETTINGS = """
import json, os
from config.settings.test import *
CACHES = json.loads(os.environ["RULECENTER_TEST_CACHES"])
ROOT_URLCONF = "rulecenter.accounts.tests.urls"
RULECENTER_TOKEN_MEMO_SECONDS = 1.0
RULECENTER_TOKEN_CACHE_SECONDS = 60
LOGGING = {"version": 1, "disable_existing_loggers": False,
           "handlers": {"console": {"class": "logging.StreamHandler"}},
           "root": {"handlers": ["console"], "level": "WARNING"}}
"""


@contextmanager
def server(database_url: str, caches: dict[str, Any], folder: Path) -> Iterator[http.client.HTTPConnection]:
    """granian serving the tests' URLs on a free port, one worker; yields a connection to it."""
    port = _free_port()
    (folder / "token_server_settings.py").write_text(SERVER_SETTINGS)
    log = folder / "server.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GRANIAN_", "DJANGO_"))},
        "DJANGO_SETTINGS_MODULE": "token_server_settings",
        "DATABASE_URL": database_url,
        "RULECENTER_TEST_CACHES": json.dumps(caches),
        "RULECENTER_VAR_DIR": str(folder / "var"),
        "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)]),
    }
    command = [
        sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--blocking-threads", "2", "--no-ws", "config.wsgi:application",
    ]  # fmt: skip
    with log.open("w") as output:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the server did not start:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.1)
        yield http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def ask(server: http.client.HTTPConnection, token: str) -> tuple[int, Any]:
    server.request("POST", WHOAMI, body=b"", headers={**bearer(token), "Content-Type": "application/json"})
    response = server.getresponse()
    return response.status, json.loads(response.read() or b"null")


def poll_until_stopped(
    server: http.client.HTTPConnection, token: str, stopped: Any, *, seconds: float = 2.0
) -> tuple[float, list[tuple[float, int, Any]]]:
    """Ask the server every 20 ms for `seconds` after the change returned: when it first answered as
    `stopped` says, and every answer with the moment its request was sent (from the change's return)."""
    changed = time.monotonic()
    answers = []
    while (sent := time.monotonic() - changed) < seconds:
        status, body = ask(server, token)
        answers.append((sent, status, body))
        time.sleep(0.02)
    first = min((sent for sent, status, body in answers if stopped(status, body)), default=float("inf"))
    return first, answers


@pytest.mark.parametrize("cache", ["per-process", "shared"])
def test_a_change_stops_the_token_on_another_process_within_a_second(
    shared_database: str, cache: str, settings: Settings, tmp_path: Path
) -> None:
    """A revoked token, a disabled user, a role taken away: a server process that has the token in memory
    stops accepting it (or its role) within RULECENTER_TOKEN_MEMO_SECONDS of the change, and never after.

    per-process: each process has its own LocMem cache (no Redis), so the server asks the database again.
    shared: both use the same shared cache (Redis when REDIS_URL is set, else a file cache), so the server
    sees the new generation this process wrote.
    """
    if cache == "shared":
        redis_url = os.environ.get("REDIS_URL")
        shared = (
            {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}
            if redis_url
            else {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": str(tmp_path / "cache"),
            }
        )
        caches = {"default": shared}
        settings.CACHES = caches
    else:
        caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

    editor = user_create("editor", roles=(Role.EDITOR,))
    leaver = user_create("leaver", roles=(Role.EDITOR,))
    chief = user_create("chief", roles=(Role.EDITOR, Role.PUBLISHER))
    revoked, revoked_token = token_of(editor)
    _record, leaver_token = token_of(leaver)
    _record, chief_token = token_of(chief)

    def refused(status: int, body: Any) -> bool:
        return status == 401

    def without_publisher(status: int, body: Any) -> bool:
        return status == 200 and body["roles"] == ["editor"]

    def change_revoke() -> None:
        services.api_token_revoke(actor=SYSTEM, token=revoked)

    def change_disable() -> None:
        leaver.is_active = False
        leaver.save()

    def change_role() -> None:
        chief.groups.remove(Group.objects.get(name=Role.PUBLISHER.value))

    changes = [
        ("revoked", revoked_token, change_revoke, refused),
        ("disabled", leaver_token, change_disable, refused),
        ("role removed", chief_token, change_role, without_publisher),
    ]
    with server(shared_database, caches, tmp_path) as other:
        for _name, token, _change, _stopped in changes:
            assert ask(other, token)[0] == 200  # the server keeps all three now
        for name, token, change, stopped in changes:
            for _ in range(3):
                status, body = ask(other, token)
                assert status == 200, (name, status, body)
                assert not stopped(status, body), (name, body)
            change()
            first, answers = poll_until_stopped(other, token, stopped)
            late = [
                (round(sent, 3), status)
                for sent, status, body in answers
                if sent > first and not stopped(status, body)
            ]
            assert first <= 1.0 + POLL_SLACK, (name, first, answers[:5])
            assert late == [], (name, late)
