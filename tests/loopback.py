"""A real HTTP server on 127.0.0.1 for crawl tests and benchmarks.

Each path answers as its :class:`Route` says: a body with a content type,
a status, validators (answering conditional requests with 304), a delay,
a sequence of answers (500 then 200), a redirect, or a huge streamed body.
Every request is counted and its headers kept, so tests can assert what
the crawler sent.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    """One HTTP answer."""

    body: bytes = b""
    status: int = 200
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    #: seconds to wait before answering
    delay: float = 0.0
    #: stream this many bytes of filler instead of ``body`` (never held in memory)
    size: int = 0


@dataclass
class Route:
    """What one path answers: ``answers`` in turn (the last one repeats)."""

    answers: list[Answer]
    etag: str | None = None
    last_modified: str | None = None


class Site:
    """Routes served by a :class:`LoopbackServer`."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.requests: dict[str, list[dict[str, str]]] = defaultdict(list)
        self.lock = threading.Lock()
        self.base = ""
        #: requests being answered now, the most there ever were at once, and every
        #: request's (arrival on the monotonic clock, path, status answered)
        self.in_flight = 0
        self.max_in_flight = 0
        self.arrivals: list[tuple[float, str, int]] = []

    def add(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        content_type: str | None = "text/html; charset=utf-8",
        status: int = 200,
        headers: dict[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        delay: float = 0.0,
        size: int = 0,
    ) -> str:
        """Serve one answer at ``path``; return its URL."""
        data = body.encode() if isinstance(body, str) else body
        answer = Answer(data, status, content_type, dict(headers or {}), delay, size)
        self.routes[path] = Route([answer], etag, last_modified)
        return self.url(path)

    def sequence(self, path: str, *answers: Answer) -> str:
        """Serve ``answers`` in turn at ``path`` (the last repeats); return its URL."""
        self.routes[path] = Route(list(answers))
        return self.url(path)

    def url(self, path: str) -> str:
        return self.base + path

    def answer_for(self, path: str, headers: dict[str, str]) -> tuple[Answer, Route | None]:
        with self.lock:
            self.hits[path] += 1
            self.requests[path].append(headers)
            count = self.hits[path]
        route = self.routes.get(path)
        if route is None:
            answer = Answer(b"not found", 404, "text/plain")
        else:
            answer = route.answers[min(count, len(route.answers)) - 1]
        with self.lock:
            self.arrivals.append((time.monotonic(), path, answer.status))
        return answer, route

    def entered(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def left(self) -> None:
        with self.lock:
            self.in_flight -= 1


class _Handler(BaseHTTPRequestHandler):
    server: LoopbackServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        site = self.server.site
        site.entered()
        try:
            self._answer(site)
        finally:
            site.left()

    def _answer(self, site: Site) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer, route = site.answer_for(self.path, headers)
        if answer.delay:
            time.sleep(answer.delay)
        if route is not None and answer.status == 200 and _not_modified(route, headers):
            self.send_response(304)
            self._validators(route)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(answer.status)
        if answer.content_type:
            self.send_header("Content-Type", answer.content_type)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if route is not None:
            self._validators(route)
        length = answer.size or len(answer.body)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        try:
            if answer.size:
                chunk = b"x" * 65536
                sent = 0
                while sent < answer.size:
                    part = chunk[: answer.size - sent]
                    self.wfile.write(part)
                    sent += len(part)
            else:
                self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a size limit): that is the point

    def _validators(self, route: Route) -> None:
        if route.etag:
            self.send_header("ETag", route.etag)
        if route.last_modified:
            self.send_header("Last-Modified", route.last_modified)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def _not_modified(route: Route, headers: dict[str, str]) -> bool:
    if route.etag and headers.get("if-none-match") == route.etag:
        return True
    return bool(route.last_modified and headers.get("if-modified-since") == route.last_modified)


class LoopbackServer(ThreadingHTTPServer):
    """A threaded HTTP server on 127.0.0.1 with a free port, serving a :class:`Site`."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self, site: Site) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.site = site
        site.base = f"http://127.0.0.1:{self.server_address[1]}"
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that hangs up early (timeouts, size limits) is what some tests do
        pass

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
