"""Liveness, readiness and metrics, for a load balancer and Prometheus (issue 14, docs/deployment.md).

- `/healthz` — the process answers: no database, no Redis. A load balancer restarts what fails it.
- `/readyz` — it can serve: the primary answers `SELECT 1` (or, while it cannot, a replica serves reads), the cache takes a write and
  a read (Redis when configured), and this node's search index is at most `RULECENTER_READY_SEARCH_LAG` rows
  behind the outbox. django-health-check runs the checks (JSON with `Accept: application/json` or
  `?format=json`, text, or its page); any failure answers 503, so a balancer takes the node out of rotation.
- `/metrics` — Prometheus's text format (prometheus-client): request latency by route, the task queue's
  depth, the search index's lag. Added up across `rulecenter serve`'s workers.

Readiness and metrics say how the platform is built: only `RULECENTER_INTERNAL_NETWORKS` may read them.
"""

import dataclasses
import ipaddress
import os
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, connections
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from health_check.base import HealthCheck
from health_check.checks import Cache
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from rulecenter.common import replicas
from rulecenter.common.limits import client_address
from rulecenter.search import selectors as search_selectors


@lru_cache(maxsize=4)
def _networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def internal(request: HttpRequest) -> bool:
    """Whether the request comes from the platform's own network: the peer, or behind a trusted proxy the
    address it saw (`common.limits.client_address`), so a request through nginx is judged by its client."""
    try:
        address = ipaddress.ip_address(client_address(request))
    except ValueError:
        return False
    return any(address in network for network in _networks(str(settings.RULECENTER_INTERNAL_NETWORKS)))


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok\n", content_type="text/plain; charset=utf-8")


@dataclasses.dataclass
class SearchIndexLag(HealthCheck):  # type: ignore[misc]
    """This node's search index follows the outbox closely enough to serve searches."""

    def run(self) -> None:
        try:
            state = search_selectors.index_lag()
        finally:
            connection.close()  # checks run in an executor thread: leave it no connection of its own
        if state.must_rebuild:
            raise ServiceUnavailable("search index must be rebuilt (rulecenter index_worker)")
        if state.behind > int(settings.RULECENTER_READY_SEARCH_LAG):
            raise ServiceUnavailable(f"search index {state.behind} changes behind")


def primary_answers() -> bool:
    try:
        with connections[replicas.PRIMARY].cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError:
        return False
    finally:
        connections[replicas.PRIMARY].close()  # checks run in an executor thread: leave it no connection


@dataclasses.dataclass
class Readable(HealthCheck):  # type: ignore[misc]
    """The node can serve: the primary answers — or, while it cannot, a replica serves the reads (the site
    read-only, every write a 503). A balancer then keeps every node in rotation through a primary's loss, so
    the site stays readable; a replica down or behind alone never fails it (the nodes read from the primary),
    it shows in /metrics."""

    def run(self) -> None:
        if primary_answers():
            return
        replicas.replicas.primary_failed()
        try:
            if not replicas.replicas.usable():
                raise ServiceUnavailable("the primary cannot be reached, and no replica can serve reads")
        finally:
            for alias in replicas.replica_aliases():
                connections[alias].close()


def readiness_checks() -> list[Any]:
    checks: list[Any] = [Readable]
    checks += [(Cache, {"alias": "default"}), SearchIndexLag]
    return checks


class Readiness(HealthCheckView):  # type: ignore[misc]
    """django-health-check's view, answering 503 (not 500) when a check fails, to readers inside only."""

    def get_checks(self) -> Iterator[HealthCheck]:
        self.checks = readiness_checks()
        return super().get_checks()  # type: ignore[no-any-return]

    async def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not internal(request):
            return HttpResponse(status=404)
        response: HttpResponse = await super().dispatch(request, *args, **kwargs)
        if response.status_code == 500:
            response.status_code = 503
        return response


class ScrapeCollector(Collector):
    """What is read when Prometheus asks: the task queue's depth and this node's search index lag."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        queue = GaugeMetricFamily("rulecenter_task_queue_depth", "Tasks waiting to run (due or scheduled).")
        queue.add_metric([], _queue_depth())
        yield queue
        lag = GaugeMetricFamily(
            "rulecenter_search_index_lag", "Outbox changes this node's index has not applied."
        )
        lag.add_metric([], search_selectors.index_lag().behind)
        yield lag
        aliases = replicas.replica_aliases()
        if aliases:
            up = GaugeMetricFamily(
                "rulecenter_replica_up", "1 when the replica answers and is replaying.", labels=["replica"]
            )
            behind = GaugeMetricFamily(
                "rulecenter_replica_lag_seconds",
                "How far the replica's replay is behind (0 once it has replayed all it received).",
                labels=["replica"],
            )
            for alias in aliases:
                state = replicas.replicas.state(alias, fresh=True)
                up.add_metric([alias], 1 if state.up and state.in_recovery else 0)
                if state.up:
                    behind.add_metric([alias], state.lag_seconds)
            yield up
            yield behind


def _queue_depth() -> int:
    backend = settings.TASKS["default"]["BACKEND"]
    if backend == "django_tasks_db.DatabaseBackend":
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM django_tasks_database_dbtaskresult WHERE status = 'READY'")
            return int(cursor.fetchone()[0])
    import django_rq  # RQ on Redis: the queue's length and its scheduled jobs

    queue = django_rq.get_queue("default")
    return int(queue.count + queue.scheduled_job_registry.count)


_scrape = ScrapeCollector()
_registered = False


def _registry() -> CollectorRegistry:
    """Under `rulecenter serve`, the samples of every worker (multiprocess files); else this process's."""
    global _registered
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(_scrape)
        return registry
    if not _registered:
        REGISTRY.register(_scrape)
        _registered = True
    return REGISTRY


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not internal(request):
        return HttpResponse(status=404)
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
