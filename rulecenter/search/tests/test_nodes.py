"""Several app nodes over one database, each with its own index replica and cursor — real processes.

The test database is not visible to other processes (SQLite's is in memory), so these tests migrate a
database of their own: a SQLite file, or `rc_search_nodes_<pid>` on the PostgreSQL server the suite runs on.
"""

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import tantivy
from django.conf import settings
from django.test import override_settings

from rulecenter.search.backends import tantivy as engine

BIN = Path(sys.executable).parent
TWO_NODE_DEADLINE = 2.0


@dataclass
class ExternalDatabase:
    url: str
    base: Path
    env: dict[str, str]

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        if self.url.startswith("sqlite:"):
            with contextlib.closing(sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=20)) as db:
                row = db.execute(sql.replace("%s", "?"), params).fetchone()
        else:
            with psycopg.connect(self.url.replace("postgres://", "postgresql://"), autocommit=True) as db:
                row = db.execute(sql, params).fetchone()
        return None if row is None else row[0]


def _postgres_admin() -> tuple[str, dict[str, Any]]:
    db = settings.DATABASES["default"]
    auth = db.get("USER") or "postgres"
    if db.get("PASSWORD"):
        auth += ":" + urllib.parse.quote(db["PASSWORD"])
    server = f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
    params = {
        "host": db.get("HOST") or "127.0.0.1",
        "port": db.get("PORT") or 5432,
        "user": db.get("USER"),
        "password": db.get("PASSWORD") or None,
    }
    return f"postgres://{auth}@{server}", params


@pytest.fixture(scope="module")
def external_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExternalDatabase]:
    base = tmp_path_factory.mktemp("nodes")
    postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    name = f"rc_search_nodes_{os.getpid()}"
    if postgres:
        server, params = _postgres_admin()
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
        url = f"{server}/{name}"
    else:
        url = f"sqlite:///{base / 'nodes.sqlite3'}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "RULECENTER_VAR_DIR": str(base / "var"),
        "RULECENTER_SEARCH_POLL_MS": "50",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    subprocess.run([BIN / "rulecenter", "migrate", "-v0"], env=env, check=True, timeout=180)
    yield ExternalDatabase(url=url, base=base, env=env)
    if postgres:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def started(argv: Sequence[str | Path], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process in its own session; on the way out its whole group (granian's workers too) is stopped."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def node_env(db: ExternalDatabase, node: str, **extra: str) -> dict[str, str]:
    return {
        **db.env,
        "RULECENTER_SEARCH_NODE": node,
        "RULECENTER_SEARCH_INDEX_DIR": str(db.base / node),
        **extra,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def api_count(port: int, q: str) -> int | None:
    url = f"http://127.0.0.1:{port}/api/v1/search?" + urllib.parse.urlencode({"q": q})
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(json.loads(response.read())["count"])
    except (OSError, ValueError):
        return None


def helper(db: ExternalDatabase, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "rulecenter.search.tests.processes", *args],
        env=db.env, check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return done.stdout.strip().splitlines()[-1]


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_two_app_nodes_find_a_newly_published_item_within_two_seconds(external_db: ExternalDatabase) -> None:
    """Two app processes with separate index directories, each fed by its own worker from the one outbox."""
    db = external_db
    word = "node" + uuid.uuid4().hex[:10].translate(str.maketrans("0123456789", "ghijklmnop"))
    ports = {"node-a": free_port(), "node-b": free_port()}
    with contextlib.ExitStack() as stack:
        for node, port in ports.items():
            env = node_env(db, node, RULECENTER_SEARCH_CATCH_UP_ON_READ="0")
            stack.enter_context(
                started([BIN / "rulecenter", "index_worker"], env, db.base / f"{node}-worker.log")
            )
            serve: list[str | Path] = [BIN / "rulecenter", "serve", "--port", str(port), "--workers", "1"]
            stack.enter_context(started(serve, env, db.base / f"{node}-web.log"))
        for node, port in ports.items():
            wait_for(lambda port=port: api_count(port, "发货") is not None, 90, f"{node} to serve searches")
            assert api_count(port, word) == 0
        committed_at = float(helper(db, "publish", f"两节点发布测试 {word}"))
        found_after: dict[str, float] = {}
        while len(found_after) < len(ports) and time.time() - committed_at < 10:
            for node, port in ports.items():
                if node not in found_after and api_count(port, word) == 1:
                    found_after[node] = time.time() - committed_at
            time.sleep(0.02)
        assert set(found_after) == set(ports), found_after
        print(f"found after (s): {found_after}")
        assert max(found_after.values()) < TWO_NODE_DEADLINE, found_after
        positions = {
            db.scalar("SELECT position FROM search_replica WHERE node = %s", (node,)) for node in ports
        }
        assert len(positions) == 1  # each node keeps its own cursor, and both have caught up


def test_an_indexer_killed_mid_batch_resumes_without_loss_or_duplicates(
    external_db: ExternalDatabase,
) -> None:
    db = external_db
    env = node_env(db, "node-k", RULECENTER_SEARCH_BATCH_SIZE="100")
    worker_argv: list[str | Path] = [BIN / "rulecenter", "index_worker"]
    before = int(db.scalar("SELECT COALESCE(MAX(id), 0) FROM search_outboxentry"))
    with started(worker_argv, env, db.base / "node-k-worker.log") as worker:
        wait_for(
            lambda: db.scalar("SELECT generation FROM search_replica WHERE node = %s", ("node-k",)),
            90,
            "the worker's first index",
        )
        ids = [int(pk) for pk in helper(db, "bulk", "3000").split(",")]
        newest = int(db.scalar("SELECT MAX(id) FROM search_outboxentry"))

        def position() -> int:
            return int(db.scalar("SELECT position FROM search_replica WHERE node = %s", ("node-k",)) or 0)

        wait_for(lambda: position() > before, 60, "the worker to apply a first batch")
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    killed_at = position()
    assert before < killed_at < newest, "the worker finished before it could be killed mid-run"
    subprocess.run([*worker_argv, "--once"], env=env, check=True, timeout=120, capture_output=True)
    assert position() == newest
    with override_settings(RULECENTER_SEARCH_INDEX_DIR=db.base / "node-k"):
        index = engine.open_index(engine.current_generation() or "")
        searcher = index.searcher()
        query = tantivy.Query.term_query(index.schema, "source", "announcement")
        hits = searcher.search(query, 100_000, count=True).hits
        pks = [int(pk or 0) for pk in searcher.fast_field_values("pk", [address for _score, address in hits])]
    assert len(pks) == len(set(pks)), "a document was indexed twice"
    assert set(ids) <= set(pks), "an announcement was lost"
