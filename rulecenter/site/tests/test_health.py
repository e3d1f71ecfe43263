"""/healthz, /readyz and /metrics: what a load balancer and Prometheus read (issue 14)."""

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from rulecenter.search.models import OutboxEntry

pytestmark = pytest.mark.django_db

OUTSIDE = "203.0.113.9"


def test_liveness_answers_without_asking_anything() -> None:
    answer = Client().get("/healthz")
    assert (answer.status_code, answer.content) == (200, b"ok\n")
    assert "no-cache" in answer["Cache-Control"]


def test_readiness_checks_the_database_the_cache_and_the_search_index(client: Client) -> None:
    ready = client.get("/readyz", HTTP_ACCEPT="application/json")
    assert ready.status_code == 200, ready.content
    checks = ready.json()
    assert any(name.startswith("Readable") for name in checks)
    assert any(name.startswith("Cache") for name in checks)
    assert any(name.startswith("SearchIndexLag") for name in checks)
    assert set(checks.values()) == {"OK"}


@pytest.mark.django_db(transaction=True)  # the checks run in another thread, on a connection of their own
def test_a_search_index_far_behind_takes_the_node_out_of_rotation(client: Client, settings: Settings) -> None:
    settings.RULECENTER_READY_SEARCH_LAG = 2
    OutboxEntry.objects.bulk_create([OutboxEntry(entity="announcement", object_id=n) for n in range(1, 6)])
    answer = client.get("/readyz?format=json")
    assert answer.status_code == 503
    assert (
        "changes behind" in answer.json()[next(name for name in answer.json() if name.startswith("Search"))]
    )


def test_readiness_and_metrics_are_for_the_platforms_own_network(client: Client, settings: Settings) -> None:
    assert client.get("/readyz", REMOTE_ADDR=OUTSIDE).status_code == 404
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 404
    assert client.get("/healthz", REMOTE_ADDR=OUTSIDE).status_code == 200
    settings.RULECENTER_TRUSTED_PROXY = True  # behind nginx: judged by the client it saw, not by nginx itself
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=OUTSIDE).status_code == 404
    assert (
        client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 200
    )


def test_metrics_count_requests_by_route_not_by_path(client: Client) -> None:
    client.get("/news/")
    client.get("/rules/no-such-rule/")
    scraped = client.get("/metrics")
    assert scraped.status_code == 200
    text = scraped.content.decode()
    assert 'rulecenter_request_duration_seconds_count{method="GET",route="news/",status="2xx"}' in text
    assert 'route="rules/<slug:slug>/",status="4xx"' in text  # the pattern, never the slug
    assert "no-such-rule" not in text
    assert "rulecenter_task_queue_depth " in text
    assert "rulecenter_search_index_lag " in text


@pytest.mark.django_db(transaction=True)
def test_without_its_primary_a_node_stays_ready_while_a_replica_serves_reads(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A balancer that took every node out when the primary is lost would turn a read-only site into none."""
    from rulecenter.common import replicas
    from rulecenter.common.replicas import ReplicaState
    from rulecenter.site import health

    monkeypatch.setattr(health, "primary_answers", lambda: False)
    monkeypatch.setattr(replicas.replicas, "primary_down_until", 0.0)
    monkeypatch.setattr(replicas.replicas, "usable", lambda: [])
    answer = client.get("/readyz?format=json")
    assert answer.status_code == 503  # no replica either: nothing can be served
    assert "no replica can serve reads" in str(answer.json())
    serving = ReplicaState("replica1", True, True, 0.0, "0/1", 0.0)
    monkeypatch.setattr(replicas.replicas, "usable", lambda: [serving])
    answer = client.get("/readyz?format=json")
    assert answer.status_code == 200, answer.content
