"""A real HTTP server for the channel tests and benchmark: saved listing pages, served as a site would.

Each page answers with an ETag and honours `If-None-Match` (304), unless told otherwise; a page can also be
slow, fail with a status, or send far more than anyone should read. Every request is recorded with its
headers, so a test can see what the fetcher sent.
"""

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Page:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    validators: bool = True  # send an ETag and answer 304 to a matching If-None-Match
    status: int = 200
    delay: float = 0.0  # seconds to wait before answering
    headers: dict[str, str] = field(default_factory=dict)
    filler: int = 0  # send this many bytes of filler after the headers (no length; the connection closes)
    declared: int | None = None  # a Content-Length to declare instead of the body's own


@dataclass
class PagesServer:
    url: str = ""
    pages: dict[str, Page] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def at(self, path: str) -> str:
        return self.url + path

    def seen(self, path: str) -> list[dict[str, str]]:
        return [headers for seen, headers in self.requests if seen == path]


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def _handler(state: PagesServer, record: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers

        def do_GET(self) -> None:
            headers = {key.lower(): value for key, value in self.headers.items()}
            if record:
                state.requests.append((self.path, headers))
            page = state.pages.get(self.path)
            if page is None:
                self._send(404, b"", {})
                return
            if page.delay:
                time.sleep(page.delay)
            if page.status != 200:
                self._send(page.status, b"", page.headers)
                return
            extra = dict(page.headers)
            if page.validators:
                tag = etag_of(page.body)
                if headers.get("if-none-match") == tag:
                    self._send(304, b"", {"etag": tag})
                    return
                extra["etag"] = tag
            if page.filler:
                self._flood(page, extra)
                return
            self._send(200, page.body, {"content-type": page.content_type, **extra}, page.declared)

        def _send(self, status: int, body: bytes, headers: dict[str, str], length: int | None = None) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if status != 304:
                self.send_header("content-length", str(len(body) if length is None else length))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def _flood(self, page: Page, headers: dict[str, str]) -> None:
            self.send_response(200)
            self.send_header("content-type", page.content_type)
            self.send_header("connection", "close")
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.close_connection = True
            chunk = b"<p>" + b"x" * 65530 + b"</p>"
            try:
                for _ in range(page.filler // len(chunk) + 1):
                    self.wfile.write(chunk)
            except OSError:
                pass  # the reader stopped reading: as it should

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def pages_server(*, record: bool = True) -> Iterator[PagesServer]:
    state = PagesServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state, record))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
