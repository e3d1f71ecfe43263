"""The outbox and the indexer: written with the change, applied in order, resumed without loss or duplicates."""

from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import tantivy
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from pytest_django.fixtures import Settings

from rulecenter.announcements import services as announcement_services
from rulecenter.announcements.models import Announcement, Category
from rulecenter.common.actors import SYSTEM
from rulecenter.common.memo import ProcessMemo
from rulecenter.rules import services as rule_services
from rulecenter.search import indexer, selectors
from rulecenter.search import services as search_services
from rulecenter.search.backends import tantivy as engine
from rulecenter.search.indexer import build, catchup, follow
from rulecenter.search.models import OutboxEntry, Replica
from rulecenter.search.query import Filters
from rulecenter.search.tasks import search_index_apply

pytestmark = pytest.mark.django_db


def publish(title: str, body: str = "正文") -> Announcement:
    category, _ = Category.objects.get_or_create(slug="news", defaults={"name": "新闻"})
    return announcement_services.announcement_create(
        actor=SYSTEM, title=title, body=body, category=category, status=Announcement.Status.PUBLISHED
    )


def indexed_pks() -> list[int]:
    """The `pk` of every live document in this node's index (repeats would be duplicates)."""
    index, _schema, _generation = engine.reader.get()
    searcher = index.searcher()
    hits = searcher.search(tantivy.Query.all_query(), 100_000, count=False).hits
    return sorted(
        int(pk or 0) for pk in searcher.fast_field_values("pk", [address for _score, address in hits])
    )


def found(q: str) -> int:
    """A search as the page and the API make it: the follower catches up, then the selector reads."""
    indexer.catch_up_for_search()
    return selectors.search(q=q, filters=Filters(), raw_page=None, size=20).total


@pytest.fixture
def built(db: None, settings: Settings) -> None:
    """An empty live index, followed by no worker: tests apply the outbox themselves."""
    indexer.rebuild()
    settings.RULECENTER_SEARCH_CATCH_UP_ON_READ = False


# The outbox -----------------------------------------------------------------------------------------


def test_every_change_writes_an_outbox_row_in_the_same_transaction(db: None) -> None:
    item = publish("公告")
    item.body = "更正后的正文"
    announcement_services.announcement_save(actor=SYSTEM, announcement=item)
    announcement_services.announcement_withdraw(actor=SYSTEM, announcement=item, reason="内容有误")
    rows = list(OutboxEntry.objects.values_list("entity", "object_id"))
    assert rows == [("announcement", item.pk)] * 3


def test_a_rolled_back_change_leaves_no_outbox_row(db: None) -> None:
    def publish_then_fail() -> None:
        with transaction.atomic():
            publish("公告")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        publish_then_fail()
    assert not OutboxEntry.objects.exists()


def test_scheduling_a_rule_version_writes_the_rule_to_the_outbox(db: None) -> None:
    category = rule_services.rule_category_create(actor=SYSTEM, slug="trade", name="交易规则")
    rule = rule_services.rule_create(actor=SYSTEM, slug="refunds", title="退款管理规范", category=category)
    version = rule_services.rule_version_create(actor=SYSTEM, rule=rule, text="第一条 退款。")
    OutboxEntry.objects.all().delete()
    now = timezone.now()
    rule_services.rule_version_schedule(
        actor=SYSTEM, version=version, notice_at=now, effective_at=now + timedelta(days=8)
    )
    assert list(OutboxEntry.objects.values_list("entity", "object_id")) == [("rule", rule.pk)]


def test_a_translation_leaves_the_index_alone(db: None) -> None:
    """The index holds the Chinese text; an editor's English title changes nothing in it."""
    item = publish("公告")
    category = rule_services.rule_category_create(actor=SYSTEM, slug="trade", name="交易规则")
    rule = rule_services.rule_create(actor=SYSTEM, slug="refunds", title="退款管理规范", category=category)
    version = rule_services.rule_version_create(actor=SYSTEM, rule=rule, text="第一条 退款。")
    OutboxEntry.objects.all().delete()
    announcement_services.announcement_translate(actor=SYSTEM, announcement=item, language="en", title="News")
    rule_services.rule_version_translate(actor=SYSTEM, version=version, language="en", title="Refunds")
    assert not OutboxEntry.objects.exists()


def test_one_task_is_enqueued_per_transaction(db: None, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        publish("一")
        publish("二")
    # (other apps add on-commit callbacks of their own)
    assert [callback for callback in callbacks if callback is search_services._enqueue_apply] == [
        search_services._enqueue_apply
    ]
    assert OutboxEntry.objects.count() == 2


# Following the outbox ---------------------------------------------------------------------------------


def test_the_indexer_applies_rows_in_order_and_records_its_cursor(built: None) -> None:
    first, second = publish("第一条公告"), publish("第二条公告")
    assert found("公告") == 0
    result = indexer.apply_pending()
    assert (result.applied, result.position) == (2, OutboxEntry.objects.order_by("-id").first().pk)  # type: ignore[union-attr]
    assert Replica.objects.get(node="test-node").position == result.position
    assert indexed_pks() == [first.pk, second.pk]
    assert indexer.apply_pending().applied == 0


def test_the_task_applies_pending_rows(built: None) -> None:
    publish("任务应用")
    assert search_index_apply.call() == 1
    assert found("任务应用") == 1


def test_a_crash_before_the_commit_loses_nothing(built: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The indexer dies mid-batch, documents added but not committed: the next run applies the rows again."""
    items = [publish(f"公告{n}") for n in range(5)]
    crash_after_adding(monkeypatch, documents=3)
    with pytest.raises(KeyboardInterrupt):
        indexer.apply_pending()
    monkeypatch.undo()
    assert Replica.objects.get(node="test-node").position == 0
    assert indexer.apply_pending().applied == 5
    assert indexed_pks() == [item.pk for item in items]


def test_a_crash_between_commit_and_cursor_applies_the_batch_twice_without_duplicates(
    built: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = [publish(f"公告{n}") for n in range(5)]

    def die(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(indexer.Follower, "_save", die)
    with pytest.raises(KeyboardInterrupt):
        indexer.apply_pending()
    monkeypatch.undo()
    assert Replica.objects.get(node="test-node").position == 0
    assert indexer.apply_pending().applied == 5
    assert indexed_pks() == [item.pk for item in items]


def crash_after_adding(monkeypatch: pytest.MonkeyPatch, *, documents: int) -> None:
    original: Callable[..., None] = follow._replace
    added = {"count": 0}

    def replace_then_crash(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        added["count"] += 1
        if added["count"] == documents:
            raise KeyboardInterrupt

    monkeypatch.setattr(follow, "_replace", replace_then_crash)


def test_rows_committed_late_are_picked_up(built: None, settings: Settings) -> None:
    """On PostgreSQL a lower outbox id can commit after a higher one: the skipped id is awaited."""
    item = publish("先提交")
    OutboxEntry.objects.filter(object_id=item.pk).update(id=10)
    assert indexer.apply_pending().applied == 1
    assert Replica.objects.get(node="test-node").gaps[0][0] == 1
    late = publish("后提交")
    OutboxEntry.objects.filter(object_id=late.pk).update(id=5)
    assert indexer.apply_pending().applied == 1
    assert found("后提交") == 1
    gaps = [pk for pk, _seen in Replica.objects.get(node="test-node").gaps]
    assert 5 not in gaps
    assert 1 in gaps
    settings.RULECENTER_SEARCH_GAP_SECONDS = -1
    indexer.apply_pending()
    assert Replica.objects.get(node="test-node").gaps == []


def test_a_second_writer_waits_for_the_lock_instead_of_failing(built: None) -> None:
    """tantivy allows one writer per index: while another process holds it, the indexer reports busy."""
    publish("锁")
    index = engine.open_index(engine.current_generation() or "")
    holder = engine.open_writer(index)
    assert holder is not None
    assert indexer.apply_pending(wait_seconds=0.1).busy
    del holder
    assert indexer.apply_pending(wait_seconds=0.1).applied == 1


def test_only_one_follower_at_a_time(built: None) -> None:
    generation = engine.current_generation() or ""
    first = indexer.Follower.open(generation)
    assert first is not None
    assert indexer.Follower.open(generation) is None
    first.close()
    second = indexer.Follower.open(generation)
    assert second is not None
    second.close()


# Rebuilding ---------------------------------------------------------------------------------------------


def test_a_rebuild_is_resumable_and_adds_nothing_twice(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    items = [publish(f"公告{n}") for n in range(7)]
    monkeypatch.setattr(build, "BUILD_BATCH", 1)
    monkeypatch.setattr(build, "BUILD_COMMIT_DOCS", 2)
    seen: list[int] = []

    def interrupt(progress: indexer.BuildProgress) -> None:
        seen.append(progress.done)
        if progress.done == 5:  # 4 committed, the 5th added but not committed
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        indexer.rebuild(on_progress=interrupt)
    replica = Replica.objects.get(node="test-node")
    assert replica.building
    assert replica.build_progress["done"] == 4
    assert replica.generation == ""
    resumed = indexer.rebuild()
    assert resumed.resumed
    assert resumed.done == 7
    assert indexed_pks() == [item.pk for item in items]


def test_a_rebuild_switches_readers_and_followers_to_the_new_generation(built: None) -> None:
    old = engine.current_generation()
    follower = indexer.Follower.open(old or "")
    assert follower is not None
    item = publish("重建")
    indexer.rebuild(restart=True)
    new = engine.current_generation()
    assert new != old
    assert not (Path(engine.root()) / (old or "missing")).exists()
    with pytest.raises(indexer.GenerationChanged):
        follower.step(10)
    follower.close()
    assert indexed_pks() == [item.pk]
    # The rebuild started after the item's outbox row: the follower goes on from there.
    assert indexer.apply_pending().applied == 0
    later = publish("重建之后")
    assert indexer.apply_pending().applied == 1
    assert indexed_pks() == [item.pk, later.pk]


def test_without_catch_up_on_read_a_search_only_reads_the_index(
    built: None, django_assert_num_queries: Any
) -> None:
    """Reads never write: with RULECENTER_SEARCH_CATCH_UP_ON_READ off, the followers alone move the index."""
    publish("只读搜索")
    position = Replica.objects.get(node="test-node").position
    with django_assert_num_queries(0):
        assert found("只读搜索") == 0
    assert Replica.objects.get(node="test-node").position == position
    assert indexer.apply_pending().applied == 1
    assert found("只读搜索") == 1


def test_without_an_index_search_answers_unavailable(db: None, settings: Settings) -> None:
    settings.RULECENTER_SEARCH_CATCH_UP_ON_READ = False
    with pytest.raises(selectors.SearchUnavailable, match="reindex"):
        found("发货")


def test_a_small_database_builds_its_first_index_on_the_first_search(db: None) -> None:
    publish("首次搜索")
    assert engine.current_generation() is None
    assert found("首次搜索") == 1
    assert engine.current_generation() is not None


def test_a_rule_category_rename_reindexes_its_rules(db: None, settings: Settings) -> None:
    category = rule_services.rule_category_create(actor=SYSTEM, slug="trade", name="交易规则")
    rule_services.rule_create(actor=SYSTEM, slug="refunds", title="退款管理规范", category=category)
    OutboxEntry.objects.all().delete()
    category.name = "交易"
    rule_services.rule_category_save(actor=SYSTEM, category=category)
    assert list(OutboxEntry.objects.values_list("entity", flat=True)) == ["rule"]


def test_a_big_rebuild_prepares_documents_in_worker_processes(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On three cores or more, segmenting is spread over worker processes; the documents arrive in order."""
    items = [publish(f"并行公告{n}") for n in range(7)]
    monkeypatch.setattr(build, "POOL_MIN_DOCS", 1)
    monkeypatch.setattr(build, "BUILD_BATCH", 2)
    monkeypatch.setattr("os.cpu_count", lambda: 3)
    assert indexer.rebuild().done == 7
    assert indexed_pks() == [item.pk for item in items]
    assert found("并行公告3") == 1


def test_an_index_left_by_another_database_is_never_served(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The index directory outlived its database (recreated, restored): it is rebuilt or refused, not shown."""
    publish("旧库公告")
    assert found("旧库公告") == 1
    old = engine.current_generation()
    Replica.objects.all().delete()
    monkeypatch.setattr(catchup, "INLINE_BUILD_LIMIT", 0)
    with pytest.raises(selectors.SearchUnavailable):
        found("旧库公告")
    monkeypatch.undo()
    assert found("旧库公告") == 1
    assert engine.current_generation() != old


# Pruning the outbox -----------------------------------------------------------------------------------


def outbox_ids() -> list[int]:
    return list(OutboxEntry.objects.order_by("id").values_list("id", flat=True))


def age_outbox(days: int) -> None:
    OutboxEntry.objects.update(created_at=timezone.now() - timedelta(days=days))


@pytest.fixture
def no_gaps(settings: Settings) -> None:
    """PostgreSQL's sequences run on across tests: the ids earlier tests took are not awaited as gaps."""
    settings.RULECENTER_SEARCH_GAP_SECONDS = -1


def test_pruning_deletes_the_rows_every_node_has_applied(built: None, no_gaps: None) -> None:
    """Each node keeps its own cursor: a row goes once the slowest node is past it, and not before."""
    for title in ("一", "二", "三"):
        publish(title)
    first, second, third = outbox_ids()
    assert indexer.apply_pending().position == third
    Replica.objects.create(node="slow-node", generation="g-slow", position=first)
    result = indexer.prune_outbox()
    assert (result.deleted, result.through, result.lagging) == (1, first, [])
    assert outbox_ids() == [second, third]
    Replica.objects.filter(node="slow-node").update(position=third)
    assert indexer.prune_outbox().deleted == 2
    assert indexer.prune_outbox().deleted == 0
    # Nothing was missed: the next change is followed as usual.
    later = publish("四")
    assert indexer.apply_pending().applied == 1
    assert later.pk in indexed_pks()


def test_pruning_keeps_rows_still_awaited_or_needed_by_an_unfinished_rebuild(
    built: None, no_gaps: None
) -> None:
    for title in ("一", "二", "三", "四"):
        publish(title)
    first, second, third, fourth = outbox_ids()
    indexer.apply_pending()
    # A row this node still awaits (committed late, on PostgreSQL) is not deleted under it.
    Replica.objects.filter(node="test-node").update(gaps=[[third, 0.0]])
    assert indexer.prune_outbox().through == second
    # A rebuild in progress elsewhere follows on from where it started.
    Replica.objects.create(node="building-node", building="g-next", build_position=first)
    Replica.objects.filter(node="test-node").update(gaps=[])
    assert indexer.prune_outbox().through == first
    # A node without an index needs nothing: it will read the database when it builds one.
    Replica.objects.filter(node="building-node").update(building="")
    assert indexer.prune_outbox().through == fourth
    assert outbox_ids() == []


def test_a_node_that_fell_behind_past_the_retention_period_rebuilds(
    built: None, no_gaps: None, settings: Settings, tmp_path: Path
) -> None:
    """Rows older than the retention period go even if a node never applied them; that node is marked
    and its worker rebuilds, rather than following on as if nothing had happened."""
    lagging, lagging_dir = settings.RULECENTER_SEARCH_NODE, settings.RULECENTER_SEARCH_INDEX_DIR
    before = publish("落后节点错过的公告")
    # Another node keeps up; this one is stopped.
    settings.RULECENTER_SEARCH_NODE, settings.RULECENTER_SEARCH_INDEX_DIR = "leader", tmp_path / "leader"
    engine.reader.forget()
    indexer.rebuild()
    after = publish("保留期内的公告")
    assert indexer.apply_pending().applied == 1
    settings.RULECENTER_SEARCH_OUTBOX_RETENTION_DAYS = 7
    age_outbox(days=6)
    assert indexer.prune_outbox().deleted == 0  # the lagging node still needs them, and they are recent
    age_outbox(days=8)
    result = indexer.prune_outbox()
    assert (result.deleted, result.lagging) == (2, [lagging])
    assert outbox_ids() == []
    assert not Replica.objects.get(node="leader").must_rebuild

    settings.RULECENTER_SEARCH_NODE, settings.RULECENTER_SEARCH_INDEX_DIR = lagging, lagging_dir
    engine.reader.forget()
    old = engine.current_generation()
    assert Replica.objects.get(node=lagging).must_rebuild
    # Following alone finds nothing to apply: the rows are gone.
    assert indexer.apply_pending().applied == 0
    assert indexed_pks() == []
    out = StringIO()
    call_command("index_worker", "--once", stdout=out)
    assert "超过保留期" in out.getvalue()
    assert engine.current_generation() != old
    assert indexed_pks() == [before.pk, after.pk]
    assert not Replica.objects.get(node=lagging).must_rebuild
    later = publish("重建之后的公告")
    assert indexer.apply_pending().applied == 1
    assert indexed_pks() == [before.pk, after.pk, later.pk]


def test_a_rebuild_cut_short_before_its_rows_were_pruned_starts_over(
    db: None, interrupted_rebuild: Callable[[], None]
) -> None:
    items = [publish(f"公告{n}") for n in range(3)]
    interrupted_rebuild()
    items.append(publish("重建中断之后"))
    age_outbox(days=30)
    assert indexer.prune_outbox().lagging == ["test-node"]
    progress = indexer.rebuild()
    assert not progress.resumed
    assert indexed_pks() == [item.pk for item in items]
    assert not Replica.objects.get(node="test-node").must_rebuild


def test_a_small_site_rebuilds_on_the_next_search_when_rows_it_missed_were_pruned(db: None) -> None:
    """Without a worker (`make run`), the search itself repairs a node marked to rebuild."""
    publish("小站")
    assert found("小站") == 1
    old = engine.current_generation()
    Replica.objects.update(missed_through=OutboxEntry.objects.order_by("-id").first().pk)  # type: ignore[union-attr]
    assert found("小站") == 1
    assert engine.current_generation() != old
    assert not Replica.objects.get(node="test-node").must_rebuild


def test_a_search_looks_for_others_changes_once_per_interval_and_for_its_own_at_once(
    transactional_db: None, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    indexer.rebuild()
    settings.RULECENTER_SEARCH_CATCH_UP_MS = 200
    now = [100.0]
    monkeypatch.setattr(catchup, "_clock", lambda: now[0])
    monkeypatch.setattr(catchup, "_current", ProcessMemo())
    assert found("间隔") == 0
    # Another process publishes: the outbox row commits, but this process hears nothing of it.
    with monkeypatch.context() as elsewhere:
        elsewhere.setattr(catchup, "catch_up_forget", lambda: None)
        publish("间隔之内别处发布")
    now[0] = 100.15
    assert found("间隔") == 0
    now[0] = 100.25
    assert found("间隔") == 1
    # This process publishes: its next search finds it, interval or not.
    publish("间隔之内本处发布")
    assert found("间隔") == 2
