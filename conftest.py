"""Project-wide pytest set-up: a clean cache and the default language per test, and no skipped tests (CI's rule)."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import translation

# Django's flush between transactional tests empties tables whose triggers refuse deletes (the audit chain's):
# the plugin lifts those triggers around the flush, in the test process only.
pytest_plugins = ["rulecenter.audit.tests.flushing"]

_skipped: list[str] = []


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    # LocaleMiddleware activates a request's language in the thread and leaves it there: a test that asked
    # in English must not make the next one read English.
    yield
    translation.deactivate()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: Any) -> None:
    # The suite must run whole on SQLite and on PostgreSQL: a skipped test is a test that did not run.
    if _skipped and exitstatus == 0:
        session.exitstatus = 1
        print(f"\n{len(_skipped)} test(s) were skipped; the suite must run with nothing skipped:")
        for nodeid in _skipped:
            print(f"  {nodeid}")
