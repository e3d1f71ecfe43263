"""Posting one webhook: the address checked and pinned, a bounded wait, only the status kept.

A subscriber names the URL, so the server must not become a way into the platform's own network (SSRF):
the host is resolved once, every address it has must be public (`ipaddress.is_global`) unless
`RULECENTER_WEBHOOK_ALLOW_PRIVATE` is on, and the request goes to that very address — with the URL's host
in `Host` and, for https, in the TLS server name, so the certificate is still checked against it — so a
DNS answer that changes between the check and the connection (rebinding) changes nothing. Redirects are
not followed (a 3xx is a failure), nothing of the response but its status, `Retry-After` and (for chat robots, which answer in it) the first 64 KiB of its body is read, and
the whole attempt is bounded by `RULECENTER_WEBHOOK_TIMEOUT_SECONDS`.
"""

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

URL_SCHEME = "网址必须以 http:// 或 https:// 开头。"
URL_HOST_MISSING = "网址缺少主机名。"
URL_CREDENTIALS = "网址里不能带用户名或密码。"
URL_UNRESOLVED = "无法解析主机“{host}”。"
URL_PRIVATE = "“{host}”指向内部或保留地址（{address}），不能作为 Webhook 地址。"
URL_TOO_LONG = "网址最长 {limit} 个字符。"
URL_MAX_CHARS = 2000
BODY_MAX_BYTES = 65536


class TargetRefused(ValueError):
    """An address a webhook may not be sent to; the message says why, in the user's language."""


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


def _allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(settings.RULECENTER_WEBHOOK_ALLOW_PRIVATE) or (ip.is_global and not ip.is_multicast)


def url_check(url: str) -> None:
    """Refuse (TargetRefused) a URL no webhook may be sent to, by its form and, for an address written out,
    the address; no lookup (a name is checked when it is resolved, at each attempt)."""
    if len(url) > URL_MAX_CHARS:
        raise TargetRefused(_(URL_TOO_LONG).format(limit=URL_MAX_CHARS))
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise TargetRefused(_(URL_SCHEME)) from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused(_(URL_SCHEME))
    if not parts.hostname:
        raise TargetRefused(_(URL_HOST_MISSING))
    if parts.username is not None or parts.password is not None:
        raise TargetRefused(_(URL_CREDENTIALS))
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return  # a name: checked when it is resolved, at each attempt
    if not _allowed(str(literal)):
        raise TargetRefused(_(URL_PRIVATE).format(host=parts.hostname, address=literal))


def address_for(url: str) -> str:
    """The address the URL's host resolves to that a webhook may be sent to; TargetRefused otherwise.

    Every address the host has must be allowed: a name that also points inside is refused whole.
    """
    url_check(url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise TargetRefused(_(URL_UNRESOLVED).format(host=host[:100])) from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    for address in addresses:
        if not _allowed(address):
            raise TargetRefused(_(URL_PRIVATE).format(host=host[:100], address=address))
    return addresses[0]


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - timezone.now()).total_seconds())


_clients: dict[float, httpx.Client] = {}
_clients_lock = threading.Lock()


def _client() -> httpx.Client:
    """One client per process (and timeout): making one loads the CA bundle, ~13 ms of CPU, more than the
    rest of an attempt; it is thread-safe and keeps plain-HTTP connections to an address alive."""
    timeout = float(settings.RULECENTER_WEBHOOK_TIMEOUT_SECONDS)
    client = _clients.get(timeout)
    if client is None:
        with _clients_lock:
            client = _clients.get(timeout)
            if client is None:
                client = _clients[timeout] = httpx.Client(
                    timeout=timeout, follow_redirects=False, trust_env=False
                )
    return client


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
        address = address_for(url)
    except TargetRefused as refused:
        return Outcome(None, 0, str(refused))
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    pinned_host = f"[{address}]" if ":" in address else address
    pinned = urlunsplit((parts.scheme, f"{pinned_host}:{port}", parts.path or "/", parts.query, ""))
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    sent = {**headers, "host": parts.netloc.rsplit("@", 1)[-1]}
    if parts.scheme == "https":
        # The pool knows connections by address: one made for another name's certificate is never reused.
        sent["connection"] = "close"
    try:
        client = _client()
        request = client.build_request("POST", pinned, content=body, headers=sent, extensions=extensions)
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
        response.status_code, latency, "", _retry_after(response.headers.get("retry-after")), answer
    )
