"""Real notification endpoints on 127.0.0.1 for Apprise to deliver to.

- :class:`JsonEndpoint`: an HTTP server receiving Apprise's ``json://``
  posts; it can be told to fail (HTTP 503) or to answer slowly.
- :class:`SmtpEndpoint`: an aiosmtpd SMTP server receiving ``mailto://`` mail.
"""

from __future__ import annotations

import email
import json
import socket
import threading
import time
from email.message import Message as EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _JsonHandler(BaseHTTPRequestHandler):
    server: JsonEndpoint

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        endpoint = self.server
        if endpoint.delay:
            time.sleep(endpoint.delay)
        with endpoint.lock:
            endpoint.attempts += 1
            failing = endpoint.fail
        if failing:
            self.send_response(503)
            self.end_headers()
            return
        with endpoint.lock:
            endpoint.received.append({"path": self.path, **json.loads(body)})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class JsonEndpoint(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _JsonHandler)
        self.received: list[dict[str, Any]] = []
        self.attempts = 0
        self.fail = False
        self.delay = 0.0
        self.lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def titles(self) -> list[str]:
        with self.lock:
            return [m["title"] for m in self.received]

    def __enter__(self) -> JsonEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpEndpoint:
    """An SMTP server (aiosmtpd) on a free loopback port, keeping what it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        endpoint = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                endpoint.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                endpoint.messages.append(email.message_from_bytes(envelope.content))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def url(self, to: str = "me@example.org") -> str:
        return f"mailto://127.0.0.1:{self.port}?from=techcal@example.org&to={to}&mode=insecure"

    def __enter__(self) -> SmtpEndpoint:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
