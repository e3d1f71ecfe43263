"""Requests the server makes to addresses other people name — webhooks, chat robots, followed channels.

A subscriber or an editor names the URL, so the server must not become a way into the platform's own
network (SSRF): the host is resolved once, every address it has must be public (`ipaddress.is_global`)
unless the caller allows private ones (a setting per use: `RULECENTER_WEBHOOK_ALLOW_PRIVATE`,
`RULECENTER_CHANNEL_ALLOW_PRIVATE`), and the request goes to that very address — with the URL's host in
`Host` and, for https, in the TLS server name, so the certificate is still checked against it — so a DNS
answer that changes between the check and the connection (rebinding) changes nothing. A redirect is a new
URL and is checked again by whoever follows it (`notifications.webhooks` never does; `ingest.fetching`
does, a few times).
"""

import ipaddress
import socket
import threading
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.utils import timezone
from django.utils.translation import gettext as _

URL_SCHEME = "网址必须以 http:// 或 https:// 开头。"
URL_HOST_MISSING = "网址缺少主机名。"
URL_CREDENTIALS = "网址里不能带用户名或密码。"
URL_UNRESOLVED = "无法解析主机“{host}”。"
URL_PRIVATE = "“{host}”指向内部或保留地址（{address}），服务器不会访问这样的地址。"
URL_TOO_LONG = "网址最长 {limit} 个字符。"
URL_MAX_CHARS = 2000


class TargetRefused(ValueError):
    """An address the server may not send a request to; the message says why, in the user's language."""


def address_allowed(address: str, *, allow_private: bool) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return allow_private or (ip.is_global and not ip.is_multicast)


def url_check(url: str, *, allow_private: bool) -> None:
    """Refuse (TargetRefused) a URL no request may be sent to, by its form and, for an address written out,
    the address; no lookup (a name is checked when it is resolved, at each request)."""
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
        return  # a name: checked when it is resolved, at each request
    if not address_allowed(str(literal), allow_private=allow_private):
        raise TargetRefused(_(URL_PRIVATE).format(host=parts.hostname, address=literal))


def address_for(url: str, *, allow_private: bool) -> str:
    """The address the URL's host resolves to that a request may be sent to; TargetRefused otherwise.

    Every address the host has must be allowed: a name that also points inside is refused whole.
    """
    url_check(url, allow_private=allow_private)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise TargetRefused(_(URL_UNRESOLVED).format(host=host[:100])) from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    for address in addresses:
        if not address_allowed(address, allow_private=allow_private):
            raise TargetRefused(_(URL_PRIVATE).format(host=host[:100], address=address))
    return addresses[0]


@dataclass(frozen=True, slots=True)
class Pinned:
    """A request's URL rewritten to the checked address, with what keeps the original host in force."""

    url: str
    headers: dict[str, str]  # Host (and Connection: close for https)
    extensions: dict[str, str]  # the TLS server name for https


def pinned(url: str, *, allow_private: bool) -> Pinned:
    """The URL at its checked address (TargetRefused if it may not be reached)."""
    address = address_for(url, allow_private=allow_private)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    pinned_host = f"[{address}]" if ":" in address else address
    headers = {"host": parts.netloc.rsplit("@", 1)[-1]}
    extensions: dict[str, str] = {}
    if parts.scheme == "https":
        extensions["sni_hostname"] = parts.hostname or ""
        # The pool knows connections by address: one made for another name's certificate is never reused.
        headers["connection"] = "close"
    return Pinned(
        urlunsplit((parts.scheme, f"{pinned_host}:{port}", parts.path or "/", parts.query, "")),
        headers,
        extensions,
    )


def retry_after(value: str | None) -> float | None:
    """Seconds a `Retry-After` header asks to wait (a number or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - timezone.now()).total_seconds())


_clients: dict[tuple[str, float], httpx.Client] = {}
_clients_lock = threading.Lock()


def client(purpose: str, timeout: float) -> httpx.Client:
    """One client per process, purpose and timeout: making one loads the CA bundle, ~13 ms of CPU, more than
    a request; it is thread-safe and keeps plain-HTTP connections to an address alive. Never follows
    redirects itself and ignores proxy variables (the address it was given is the one it connects to)."""
    key = (purpose, timeout)
    found = _clients.get(key)
    if found is None:
        with _clients_lock:
            found = _clients.get(key)
            if found is None:
                found = _clients[key] = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)
    return found
