"""Posting one webhook: the address checked and pinned, a bounded wait, only the status kept.

A subscriber names the URL, so the server must not become a way into the platform's own network (SSRF):
`common.outbound` checks the host's every address (private ones only with `RULECENTER_WEBHOOK_ALLOW_PRIVATE`)
and pins the request to the address it checked, the URL's host kept in `Host` and TLS. Redirects are
not followed (a 3xx is a failure), nothing of the response but its status, `Retry-After` and (for chat robots, which answer in it) the first 64 KiB of its body is read, and
the whole attempt is bounded by `RULECENTER_WEBHOOK_TIMEOUT_SECONDS`.
"""

import time
from dataclasses import dataclass

import httpx
from django.conf import settings

from rulecenter.common import outbound
from rulecenter.common.outbound import TargetRefused

BODY_MAX_BYTES = 65536


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int | None  # the response's status, None if none came
    latency_ms: int
    error: str = ""
    retry_after: float | None = None  # seconds the receiver asked us to wait (429, 503)
    body: bytes = b""  # the response's first BODY_MAX_BYTES, when asked for (chat robots answer in it)

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _private_allowed() -> bool:
    return bool(settings.RULECENTER_WEBHOOK_ALLOW_PRIVATE)


def url_check(url: str) -> None:
    """Refuse (TargetRefused) a URL no webhook may be sent to, by its form and, for an address written out,
    the address; no lookup (a name is checked when it is resolved, at each attempt)."""
    outbound.url_check(url, allow_private=_private_allowed())


def _read_capped(response: httpx.Response) -> bytes:
    read = bytearray()
    for chunk in response.iter_bytes():
        read += chunk
        if len(read) >= BODY_MAX_BYTES:
            break
    return bytes(read[:BODY_MAX_BYTES])


def post(url: str, *, body: bytes, headers: dict[str, str], read_body: bool = False) -> Outcome:
    """POST `body` to `url` at its checked address; never raises for what the network or receiver does.
    With `read_body`, the answer's first 64 KiB are kept (never more, whatever the receiver sends)."""
    started = time.monotonic()
    try:
        target = outbound.pinned(url, allow_private=_private_allowed())
    except TargetRefused as refused:
        return Outcome(None, 0, str(refused))
    try:
        client = outbound.client("webhooks", float(settings.RULECENTER_WEBHOOK_TIMEOUT_SECONDS))
        request = client.build_request(
            "POST",
            target.url,
            content=body,
            headers={**headers, **target.headers},
            extensions=target.extensions,
        )
        response = client.send(request, stream=True)
        try:
            answer = _read_capped(response) if read_body else b""
        finally:
            response.close()  # the rest of the body is not read
    except httpx.HTTPError as failed:
        latency = round((time.monotonic() - started) * 1000)
        return Outcome(None, latency, f"{type(failed).__name__}: {failed}"[:500])
    latency = round((time.monotonic() - started) * 1000)
    return Outcome(
        response.status_code, latency, "", outbound.retry_after(response.headers.get("retry-after")), answer
    )
