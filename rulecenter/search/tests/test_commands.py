"""`rulecenter reindex` and `rulecenter index_worker --once`."""

from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from rulecenter.announcements import services as announcement_services
from rulecenter.announcements.models import Announcement, Category
from rulecenter.common.actors import SYSTEM
from rulecenter.search import selectors
from rulecenter.search.backends import tantivy as engine
from rulecenter.search.models import OutboxEntry, Replica
from rulecenter.search.query import Filters

pytestmark = pytest.mark.django_db


def publish(title: str) -> Announcement:
    category, _ = Category.objects.get_or_create(slug="news", defaults={"name": "新闻"})
    return announcement_services.announcement_create(
        actor=SYSTEM, title=title, body="正文", category=category, status=Announcement.Status.PUBLISHED
    )


def test_reindex_builds_a_new_generation_with_a_progress_bar(
    capsys: pytest.CaptureFixture[str], settings: Any
) -> None:
    settings.RULECENTER_SEARCH_CATCH_UP_ON_READ = False
    for number in range(3):
        publish(f"第{number}条")
    out = StringIO()
    call_command("reindex", stdout=out)
    assert "已建好：3 条内容" in out.getvalue()
    assert "重建索引 [" in capsys.readouterr().err
    first = engine.current_generation()
    call_command("reindex", "--restart", stdout=StringIO())
    assert engine.current_generation() != first
    assert selectors.search(q="第1条", filters=Filters(), raw_page=None, size=10).total == 1


def test_reindex_resumes_an_interrupted_build(interrupted_rebuild: Callable[[], None]) -> None:
    for number in range(4):
        publish(f"第{number}条")
    interrupted_rebuild()
    out = StringIO()
    call_command("reindex", stdout=out, verbosity=0)
    assert "接着上次的进度" in out.getvalue()
    assert Replica.objects.get(node="test-node").building == ""


def test_index_worker_once_applies_what_is_pending(settings: Any) -> None:
    settings.RULECENTER_SEARCH_CATCH_UP_ON_READ = False
    out = StringIO()
    call_command("index_worker", "--once", stdout=out)  # no index yet: builds one first
    assert "先从数据库建立" in out.getvalue()
    publish("工作进程")
    call_command("index_worker", "--once", stdout=StringIO())
    assert selectors.search(q="工作进程", filters=Filters(), raw_page=None, size=10).total == 1


def test_index_worker_prunes_the_rows_every_node_has_applied(settings: Any) -> None:
    settings.RULECENTER_SEARCH_CATCH_UP_ON_READ = False
    # The ids PostgreSQL's sequence gave earlier tests are not awaited as gaps.
    settings.RULECENTER_SEARCH_GAP_SECONDS = -1
    call_command("index_worker", "--once", stdout=StringIO())
    publish("清理")
    call_command("index_worker", "--once", stdout=StringIO())  # applies the row
    assert OutboxEntry.objects.count() == 1
    call_command("index_worker", "--once", stdout=StringIO())  # prunes it (this node is the only one)
    assert not OutboxEntry.objects.exists()
    assert selectors.search(q="清理", filters=Filters(), raw_page=None, size=10).total == 1
