import logging
import signal
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, close_old_connections, connection, connections

from rulecenter.search import indexer, segmenter

logger = logging.getLogger("rulecenter.search.worker")

RULE_REFRESH_SECONDS = 24 * 3600
PRUNE_SECONDS = 600
RETRY_SECONDS = 2.0


class Command(BaseCommand):
    help = (
        "本节点的搜索索引工作进程：按顺序应用变更记录（outbox）并记下进度；没有索引时先建好；"
        "定期清理所有节点都已应用（或超过保留期）的变更记录。每个应用节点运行一个。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="应用完当前待处理的变更后退出（用于 cron 或测试）。"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stopping = False
        previous = {signum: signal.signal(signum, self._stop) for signum in (signal.SIGTERM, signal.SIGINT)}
        try:
            self._run(once=options["once"])
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _run(self, *, once: bool) -> None:
        segmenter.words("预热")  # load the dictionary before the first change arrives
        poll = settings.RULECENTER_SEARCH_POLL_MS / 1000
        node = indexer.node()
        self.stdout.write(f"搜索索引工作进程：节点 {node}，索引目录 {settings.RULECENTER_SEARCH_INDEX_DIR}")
        waiting_logged = False
        self.pruned_at = float("-inf")
        while not self.stopping:
            try:
                self._prune_now_and_then()
                follower = self._follower(waiting_logged)
            except DatabaseError as error:
                logger.warning("database unavailable (%s); retrying", error)
                connections.close_all()
                time.sleep(RETRY_SECONDS)
                continue
            if follower is None:
                if once:
                    self.stdout.write("另一个进程正在写本节点的索引，本次不做处理。")
                    return
                waiting_logged = True
                time.sleep(poll)
                continue
            try:
                self._follow(follower, once=once, poll=poll)
            except indexer.GenerationChanged:
                logger.info("index rebuilt elsewhere; switching to the new generation")
            except DatabaseError as error:
                logger.warning("database unavailable (%s); retrying", error)
                connections.close_all()
                time.sleep(RETRY_SECONDS)
            finally:
                follower.close()
            if once:
                return

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def _follower(self, waiting_logged: bool) -> indexer.Follower | None:
        replica = indexer.replica_get()
        generation = indexer.live_generation(replica)
        if generation is None or replica.must_rebuild:
            if generation is None:
                self.stdout.write("本节点还没有可用的搜索索引，先从数据库建立……")
            else:
                self.stdout.write(
                    f"本节点索引未应用的变更记录（截至 #{replica.missed_through}）已超过保留期被清理，"
                    "重建索引……"
                )
            progress = indexer.rebuild()
            self.stdout.write(f"索引 {progress.generation} 已建好：{progress.total:,} 条内容。")
            generation = progress.generation
        follower = indexer.Follower.open(generation)
        if follower is None and not waiting_logged:
            self.stdout.write("另一个进程正持有本节点索引的写锁，等待它退出……")
        return follower

    def _follow(self, follower: indexer.Follower, *, once: bool, poll: float) -> None:
        """Follow until stopped, or until the index must be rebuilt (the caller then rebuilds it)."""
        batch = settings.RULECENTER_SEARCH_BATCH_SIZE
        refreshed = time.monotonic()
        while not self.stopping:
            if not connection.in_atomic_block:  # (tests run commands inside a transaction)
                close_old_connections()
            self._prune_now_and_then()
            applied = follower.step(batch)
            if follower.must_rebuild and not once:
                return
            if applied:
                logger.info("applied %s outbox rows", applied)
                continue
            if once:
                return
            if time.monotonic() - refreshed > RULE_REFRESH_SECONDS:
                follower.refresh_rules()
                refreshed = time.monotonic()
            time.sleep(poll)

    def _prune_now_and_then(self) -> None:
        """Delete the outbox rows no node needs any more, every PRUNE_SECONDS (and first thing)."""
        if time.monotonic() - self.pruned_at < PRUNE_SECONDS:
            return
        result = indexer.prune_outbox()
        self.pruned_at = time.monotonic()
        if result.deleted:
            logger.info("pruned %s outbox rows (through #%s)", result.deleted, result.through)
