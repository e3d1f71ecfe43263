"""Request metrics for Prometheus (prometheus-client): how long each kind of request takes, by route.

One histogram, observed by the first middleware for every request: its route pattern (`news/`,
`api/v1/consultations/{id}/votes` — never the path, whose ids would make a series per object), method and
status class. Under `rulecenter serve` each granian worker writes its samples to files in
`PROMETHEUS_MULTIPROC_DIR` (the command sets it), and `/metrics` adds them up across the workers
(`site/health.py`).
"""

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from prometheus_client import Histogram

REQUEST_SECONDS = Histogram(
    "rulecenter_request_duration_seconds",
    "Time from the first middleware to the response, by route, method and status class.",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _route(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.route or match.view_name or "unmatched"


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in METHODS else "other"
        REQUEST_SECONDS.labels(_route(request), method, f"{response.status_code // 100}xx").observe(
            time.perf_counter() - started
        )
        return response
