"""Running test code in many threads at once, each with its own database connection, on SQLite and PostgreSQL.

pytest-django keeps the SQLite test database in memory with a shared cache; there concurrent writers fail at
once with "database table is locked" instead of queueing on the busy timeout as they do on a file. So on
SQLite the test's data is copied into a WAL file (the production set-up, with the project's connection
options) and every thread of the concurrent part works on that file. Everything that reads the outcome must
then run through `in_thread` as well; the in-memory database is left as it was.
"""

import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import connection, connections

# PostgreSQL serves 100 connections and other test runs share the server: at most this many at once.
POSTGRES_MAX_CONNECTIONS = 40


@contextmanager
def concurrent_database(directory: Path) -> Iterator[None]:
    if connection.vendor != "sqlite":
        yield
        return
    connection.ensure_connection()
    target = directory / "concurrent.sqlite3"
    with sqlite3.connect(target) as copy:
        connection.connection.backup(copy)
    settings_dict = connection.settings_dict  # shared with the connections new threads open
    in_memory = settings_dict["NAME"]
    settings_dict["NAME"] = str(target)
    try:
        yield
    finally:
        settings_dict["NAME"] = in_memory


def _closing[T](function: Callable[..., T]) -> Callable[..., T]:
    def run(*args: Any) -> T:
        try:
            return function(*args)
        finally:
            connections.close_all()  # this thread's connections; the server's slots are few

    return run


def in_thread[T](function: Callable[[], T]) -> T:
    """Run `function` on a fresh thread (and so a fresh connection) and return its result."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_closing(function)).result()


def at_once[T](function: Callable[[T], Any], items: list[T]) -> list[Any]:
    """Call `function(item)` for every item, all threads released together by a barrier."""
    limit = len(items) if connection.vendor == "sqlite" else min(len(items), POSTGRES_MAX_CONNECTIONS)
    slots = threading.BoundedSemaphore(limit)
    barrier = threading.Barrier(len(items))

    def run(item: T) -> Any:
        barrier.wait(timeout=30)
        with slots:
            return _closing(function)(item)

    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(run, items))
