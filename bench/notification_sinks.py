"""The local receivers of `bench.notifications`, each in a process of its own (off the bench's GIL).

    python -m bench.notification_sinks webhook     # prints {"control": port} once it listens
    python -m bench.notification_sinks smtp        # prints {"control": port, "smtp": port}

- `webhook`: a threaded HTTP server answering 204 to every POST, counting the `webhook-id`s each path
  (one endpoint) received;
- `smtp`: an aiosmtpd server accepting every message, counting the `Message-ID`s each recipient received.

Both answer on their control port: `GET /_stats` (counts), `GET /_received` (every path or recipient seen,
with its ids and how often each came) and `POST /_reset` (forget everything, between phases).
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MESSAGE_ID = re.compile(rb"^message-id:[ \t]*<([^>\r\n]+)>", re.IGNORECASE | re.MULTILINE)


class Received:
    """Who got which id how many times: `{path or recipient: {id: count}}`, with running counts (the bench
    polls them many times a second: reading them must not cost in proportion to the subscribers)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_target: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.counts = dict.fromkeys(("received", "targets", "repeats_same_id", "targets_with_several_ids"), 0)

    def add(self, target: str, message_id: str) -> None:
        with self.lock:
            counts = self.counts
            counts["received"] += 1  # every request / every (message, recipient)
            ids = self.by_target.get(target)
            if ids is None:
                ids = self.by_target[target]
                counts["targets"] += 1  # distinct paths / recipients reached
            elif message_id in ids:
                counts["repeats_same_id"] += 1
            elif len(ids) == 1:
                counts["targets_with_several_ids"] += 1
            ids[message_id] += 1

    def reset(self) -> None:
        with self.lock:
            self.by_target.clear()
            self.counts = dict.fromkeys(self.counts, 0)

    def stats(self) -> dict[str, int]:
        with self.lock:
            return dict(self.counts)

    def dump(self) -> dict[str, dict[str, int]]:
        with self.lock:
            return {target: dict(counts) for target, counts in self.by_target.items()}


def free_port() -> int:
    """A port free now (aiosmtpd checks it is up by connecting, so it cannot be given port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(kind: str) -> None:
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, payload: Any = None) -> None:
            body = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-length", str(len(body)))
            if body:
                self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/_stats":
                self._answer(200, received.stats())
            elif self.path == "/_received":
                self._answer(200, received.dump())
            else:
                self._answer(404)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            if self.path == "/_reset":
                received.reset()
            elif kind == "webhook":
                received.add(self.path, self.headers.get("webhook-id", ""))
            else:
                self._answer(404)
                return
            self._answer(204)

        def log_message(self, *args: Any) -> None:
            pass

    ports: dict[str, int] = {}
    if kind == "smtp":
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import SMTP, Envelope, Session

        class Mailbox:
            async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
                content = envelope.original_content or b""
                found = MESSAGE_ID.search(content, 0, 16384)  # in the headers
                message_id = found.group(1).decode("ascii", "replace") if found else ""
                for rcpt in envelope.rcpt_tos:
                    received.add(rcpt, message_id)
                return "250 OK"

        ports["smtp"] = free_port()
        controller = Controller(
            Mailbox(),
            hostname="127.0.0.1",
            port=ports["smtp"],
            server_hostname="bench-sink",
            ready_timeout=30,
        )
        controller.start()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    ports["control"] = int(server.server_address[1])
    print(json.dumps(ports), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    serve(sys.argv[1] if len(sys.argv) > 1 else "webhook")
