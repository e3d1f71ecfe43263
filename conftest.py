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


@pytest.fixture(autouse=True, scope="session")
def _role_groups_survive_flush(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """The staff roles come from data migrations; a transactional test's flush empties them with the rest.

    Django re-creates content types and permissions after a flush (post_migrate), not what data
    migrations wrote: the groups, as the migrations left them, are put back at that moment too, so a test's
    outcome does not depend on whether a transactional test ran before it on the same worker.
    """
    from django.apps import apps
    from django.contrib.auth.models import Group, Permission
    from django.db import connection
    from django.db.models.signals import post_migrate

    with django_db_blocker.unblock():
        # A run of tests that use no database (pytest-django then creates none) has no groups to keep.
        migrated = Group._meta.db_table in connection.introspection.table_names()
        groups = {
            group.name: list(group.permissions.values_list("content_type__app_label", "codename"))
            for group in (Group.objects.all() if migrated else ())
        }

    last_app = [config for config in apps.get_app_configs() if config.models_module is not None][-1]

    def restore(*, app_config: Any, **kwargs: Any) -> None:
        # Once per flush, after the last app post_migrate is sent for (those with models): every permission exists.
        if app_config is not last_app:
            return
        for name, permissions in groups.items():
            group, _created = Group.objects.get_or_create(name=name)
            for app_label, codename in permissions:
                found = Permission.objects.filter(
                    content_type__app_label=app_label, codename=codename
                ).first()
                if found is not None:
                    group.permissions.add(found)

    post_migrate.connect(restore, dispatch_uid="test_role_groups_survive_flush")
    yield
    post_migrate.disconnect(dispatch_uid="test_role_groups_survive_flush")


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    from rulecenter.accounts.token_cache import process_forget
    from rulecenter.common.memo import ProcessMemo

    cache.clear()
    process_forget()
    ProcessMemo.forget_every()
    yield
    cache.clear()
    process_forget()
    ProcessMemo.forget_every()


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
