"""Fetching one page of a followed channel: a conditional GET, bounded in time and size, never raising.

Every request goes through `common.outbound`: the host's every address is checked (private ones only with
`RULECENTER_CHANNEL_ALLOW_PRIVATE`) and the connection pinned to the address checked; a redirect is a new
URL, checked again, at most `REDIRECTS_MAX` times. The page's validators (`ETag`, `Last-Modified`) go back
as `If-None-Match` / `If-Modified-Since`, so an unchanged page costs the source a 304 and us nothing.
The body is read as it comes and dropped past `RULECENTER_CHANNEL_MAX_BYTES` (a declared length over it is
refused before reading); the whole fetch, redirects included, must end within
`RULECENTER_CHANNEL_TIMEOUT_SECONDS`, so a server that trickles bytes is cut off too.
"""

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from urllib.parse import urljoin

import httpx
from django.utils.translation import gettext as _

from rulecenter.common import outbound

from .listing import ListingError, decode

REDIRECTS_MAX = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "rulecenter-channels/1 (rule channel follower; +https://github.com/rulecenter)"
ACCEPT = "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,text/plain;q=0.9,*/*;q=0.1"
TEXT_TYPES = (
    "text/",
    "application/xhtml+xml",
    "application/xml",
    "application/rss+xml",
    "application/atom+xml",
)

FETCH_TIMEOUT = "{seconds:g} 秒内没有读完页面。"
FETCH_TOO_LARGE = "页面超过 {limit} 字节（RULECENTER_CHANNEL_MAX_BYTES），没有读取。"
FETCH_STATUS = "服务器回应 HTTP {status}。"
FETCH_NETWORK = "无法连接：{error}"
FETCH_REDIRECTS = "重定向超过 {limit} 次。"
FETCH_REDIRECT_EMPTY = "服务器回应重定向（HTTP {status}），但没有给出新地址。"
FETCH_NOT_TEXT = "页面不是 HTML 或文本（Content-Type: {type}）。"

_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # as asked
    status: int | None  # the last response's status; None when none came
    body: bytes = b""
    etag: str = ""
    last_modified: str = ""
    content_type: str = ""
    final_url: str = ""  # after redirects: relative links on the page are relative to it
    error: str = ""  # why the page cannot be used, in the reader's language ("" when it can)
    retry_after: float | None = None
    elapsed_ms: int = 0

    @property
    def not_modified(self) -> bool:
        return self.status == 304 and not self.error

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.error

    def text(self) -> str:
        """The page as text: the charset it declares (header, then `<meta charset>`), else UTF-8, else GB18030
        when the bytes read as Chinese in it; ListingError when it is no text."""
        charset = _charset(self.content_type, self.body)
        try:
            return decode(self.body, name=self.url, encoding=charset or "utf-8")
        except ListingError:
            if charset:
                raise
            return decode(self.body, name=self.url, encoding="gb18030")


def _charset(content_type: str, body: bytes) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _sep, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    found = _CHARSET.search(body[:4096])
    return found.group(1).decode("ascii") if found else None


def _headers(etag: str, last_modified: str) -> dict[str, str]:
    headers = {"user-agent": USER_AGENT, "accept": ACCEPT}
    if etag:
        headers["if-none-match"] = etag
    if last_modified:
        headers["if-modified-since"] = last_modified
    return headers


def fetch(
    url: str,
    *,
    etag: str = "",
    last_modified: str = "",
    max_bytes: int,
    timeout: float,
    allow_private: bool,
) -> Fetched:
    """GET the page at `url` (conditionally, when validators are given). Never raises for what the network
    or the server does: the outcome says it."""
    started = time.monotonic()
    done = partial(_finished, url, started)
    client = outbound.client("channels", timeout)
    location = url
    try:
        for _hop in range(REDIRECTS_MAX + 1):
            if time.monotonic() > started + timeout:
                raise httpx.ReadTimeout("deadline")  # the whole fetch, redirects included
            try:
                target = outbound.pinned(location, allow_private=allow_private)
            except outbound.TargetRefused as refused:
                return done(None, str(refused))
            request = client.build_request(
                "GET",
                target.url,
                headers={**_headers(etag, last_modified), **target.headers},
                extensions=target.extensions,
            )
            response = client.send(request, stream=True)
            try:
                if response.status_code in REDIRECTS:
                    if not response.headers.get("location"):
                        return done(
                            response.status_code, _(FETCH_REDIRECT_EMPTY).format(status=response.status_code)
                        )
                    location = urljoin(location, response.headers["location"])
                    continue
                return _answer(
                    response,
                    done,
                    final_url=location,
                    max_bytes=max_bytes,
                    deadline=started + timeout,
                )
            finally:
                response.close()
        return done(None, _(FETCH_REDIRECTS).format(limit=REDIRECTS_MAX))
    except httpx.TimeoutException:
        return done(None, _(FETCH_TIMEOUT).format(seconds=timeout))
    except httpx.HTTPError as failed:
        return done(None, _(FETCH_NETWORK).format(error=f"{type(failed).__name__}: {failed}"[:300]))


def _finished(url: str, started: float, status: int | None, error: str = "", **fields: object) -> Fetched:
    elapsed = round((time.monotonic() - started) * 1000)
    return Fetched(url, status, error=error, elapsed_ms=elapsed, **fields)  # type: ignore[arg-type]


def _answer(
    response: httpx.Response, done: Callable[..., Fetched], *, final_url: str, max_bytes: int, deadline: float
) -> Fetched:
    status = response.status_code
    after = outbound.retry_after(response.headers.get("retry-after"))
    validators = {
        "etag": response.headers.get("etag", "")[:500],
        "last_modified": response.headers.get("last-modified", "")[:100],
    }
    if status == 304:
        return done(304, **validators, final_url=final_url)
    if status != 200:
        return done(status, _(FETCH_STATUS).format(status=status), retry_after=after, final_url=final_url)
    content_type = response.headers.get("content-type", "")[:200]
    if content_type and not content_type.lower().startswith(TEXT_TYPES):
        return done(status, _(FETCH_NOT_TEXT).format(type=content_type[:80]), final_url=final_url)
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        return done(status, _(FETCH_TOO_LARGE).format(limit=max_bytes), final_url=final_url)
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > max_bytes:
            return done(status, _(FETCH_TOO_LARGE).format(limit=max_bytes), final_url=final_url)
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("deadline")
    return done(status, body=bytes(body), content_type=content_type, final_url=final_url, **validators)
