"""Search tests: each test gets its own small index directory and node name; nothing touches var/."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import transaction
from django.test import override_settings
from pytest_django import DjangoDbBlocker
from pytest_django.fixtures import Settings

from rulecenter.announcements.demo import load_demo
from rulecenter.rules.demo import load_demo_rules
from rulecenter.search import indexer
from rulecenter.search.backends import tantivy as engine
from rulecenter.search.indexer import build


@pytest.fixture(autouse=True)
def search_dir(tmp_path: Path, settings: Settings) -> Iterator[Path]:
    settings.RULECENTER_SEARCH_INDEX_DIR = tmp_path / "search"
    settings.RULECENTER_SEARCH_NODE = "test-node"
    settings.RULECENTER_SEARCH_CATCH_UP_ON_READ = True
    engine.reader.forget()
    yield tmp_path / "search"
    engine.reader.forget()


@pytest.fixture
def demo(db: None) -> None:
    """The seed page's 12 announcements and the demo rule library."""
    load_demo()
    load_demo_rules()


@pytest.fixture(scope="session")
def demo_index_dir(
    django_db_setup: None, django_db_blocker: DjangoDbBlocker, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """An index of the demo data built once per run; the data itself is rolled back."""
    path = tmp_path_factory.mktemp("demo-index")
    with (
        django_db_blocker.unblock(),
        override_settings(RULECENTER_SEARCH_INDEX_DIR=path, RULECENTER_SEARCH_NODE="demo-builder"),
        transaction.atomic(),
    ):
        load_demo()
        load_demo_rules()
        indexer.rebuild()
        transaction.set_rollback(True)
    return path


@pytest.fixture
def demo_index(demo_index_dir: Path, settings: Settings) -> None:
    """Search the prebuilt demo index, read-only: no catch-up, so nothing writes to it."""
    settings.RULECENTER_SEARCH_INDEX_DIR = demo_index_dir
    settings.RULECENTER_SEARCH_CATCH_UP_ON_READ = False
    engine.reader.forget()


@pytest.fixture
def interrupted_rebuild(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Runs a rebuild that commits every document and stops after the second, as a crash would."""

    def run() -> None:
        def stop(progress: indexer.BuildProgress) -> None:
            if progress.done == 2:
                raise KeyboardInterrupt

        with monkeypatch.context() as patch:
            patch.setattr(build, "BUILD_BATCH", 1)
            patch.setattr(build, "BUILD_COMMIT_DOCS", 1)
            with pytest.raises(KeyboardInterrupt):
                indexer.rebuild(on_progress=stop)

    return run
