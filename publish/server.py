"""``techcal serve``: feeds and the web page over HTTP (Starlette on uvicorn).

Routes: ``/calendar.ics``, ``/events.atom``, ``/events.json`` (every search
filter as a query parameter) and ``/`` (the page). Answers carry a strong
ETag (a digest of the bytes) and Last-Modified, and conditional requests
are answered 304 without a body. Rendered answers are kept in memory until
the database changes (its files' metadata tells) or the day (calendar feeds)
or ten minutes (lists of upcoming events) turn over, so a calendar app
polling an unchanged feed costs a dictionary look-up.

The database is only read, each render on its own connection in a worker
thread. A bad parameter is a 400 with a one-line message, never a 500.
"""

from __future__ import annotations

import logging
import socket
import sqlite3
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from techcal.errors import QueryError, TechcalError
from techcal.normalise.topics import taxonomy
from techcal.publish.feeds import Rendered, atom_feed, ics_feed, json_feed, listing_window
from techcal.publish.page import Links, render_page
from techcal.publish.params import canonical_params, pairs_to_lists, query_from_params
from techcal.store.search import search
from techcal.store.stored import snapshot
from techcal.store.upcoming import topics_in_use
from techcal.writers.ical import feed_name

#: rendered answers kept in memory, at most this many and this many bytes
CACHE_SIZE = 256
CACHE_BYTES = 128 * 1024 * 1024
#: feeds whose last change is remembered (for Last-Modified)
CHANGED_SIZE = 4096
#: lists of upcoming events are recomputed at least this often (seconds)
LISTING_TTL = 600
HTML_TYPE = "text/html; charset=utf-8"
log = logging.getLogger("techcal.serve")
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class Answer:
    """A rendered feed and the Last-Modified it is served with."""

    rendered: Rendered
    last_modified: datetime


class FeedServer:
    """The state behind the routes: the database, the cache, the clock.

    Feeds are rendered in worker threads, each on a fresh read-only
    connection inside one read transaction (one consistent snapshot of the
    store), so a slow feed never holds up the event loop, where cached
    answers and 304s are served.
    """

    def __init__(
        self,
        db_path: Path,
        *,
        base_url: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.db_path = db_path
        self.base_url = base_url
        self.clock = clock or (lambda: datetime.now(UTC))
        self._wal = Path(str(db_path) + "-wal")
        self._cache: OrderedDict[tuple[Any, ...], tuple[tuple[Any, ...], Answer]] = OrderedDict()
        self._cache_bytes = 0
        # per feed (its kind, filters and base URL): its last ETag and when
        # that changed. Last-Modified is never earlier, so If-Modified-Since
        # cannot hide a change that left the events' own times alone (an
        # event leaving the window, a feed going back to earlier bytes).
        self._changed: OrderedDict[tuple[Any, ...], tuple[str, datetime]] = OrderedDict()

    def version(self) -> tuple[Any, ...]:
        """Return a value that changes whenever another process commits.

        Every commit writes the WAL file and every checkpoint the database
        file, so their sizes, times and inodes tell. No connection is kept
        open between requests: a process that kept one was seen to miss
        other processes' commits after they closed the database (SQLite
        shares one WAL index per process, and it went stale), so each
        render opens its own and closes it.
        """
        stamps: list[Any] = []
        for path in (self.db_path, self._wal):
            try:
                info = path.stat()
                stamps += [info.st_mtime_ns, info.st_size, info.st_ino]
            except OSError:
                stamps += [None, None, None]
        return tuple(stamps)

    def base(self, request: Request) -> str:
        if self.base_url:
            return self.base_url if self.base_url.endswith("/") else self.base_url + "/"
        return str(request.base_url)

    async def answer(self, request: Request, kind: str) -> Answer:
        """Return the answer for a feed request, from the cache when still current."""
        now = self.clock()
        params = {k: request.query_params.getlist(k) for k in request.query_params.keys()}
        pairs = tuple(canonical_params(params))
        feed = (kind, pairs, self.base(request))
        bucket = now.date().isoformat() if kind == "ics" else int(now.timestamp()) // LISTING_TTL
        key = (*feed, bucket)
        version = self.version()
        cached = self._cache.get(key)
        if cached is not None and cached[0] == version:
            self._cache.move_to_end(key)
            return cached[1]
        url = self.base(request) + request.url.path.lstrip("/")
        if pairs:
            url += "?" + urlencode(pairs)
        page = self.base(request) + (("?" + urlencode(pairs)) if pairs else "")
        rendered = await run_in_threadpool(self._render, kind, pairs, now, url, page)
        answer = Answer(rendered, self._last_modified(feed, rendered, now))
        self._remember(key, version, answer)
        return answer

    def _render(
        self, kind: str, pairs: tuple[tuple[str, str], ...], now: datetime, url: str, page: str
    ) -> Rendered:
        with snapshot(self.db_path) as conn:
            query = query_from_params(pairs_to_lists(pairs), now=now, conn=conn)
            if kind == "ics":
                return ics_feed(conn, query, now=now, url=url)
            if kind == "atom":
                return atom_feed(conn, query, now=now, url=url, page_url=page)
            return json_feed(conn, query, now=now)

    def _last_modified(self, feed: tuple[Any, ...], rendered: Rendered, now: datetime) -> datetime:
        previous = self._changed.get(feed)
        if previous is None or previous[0] != rendered.etag:
            # HTTP dates have whole seconds: two changes in one second still get two dates
            changed = now.replace(microsecond=0)
            if previous is not None and changed <= previous[1]:
                changed = previous[1] + timedelta(seconds=1)
            previous = (rendered.etag, changed)
            self._changed[feed] = previous
        self._changed.move_to_end(feed)
        while len(self._changed) > CHANGED_SIZE:
            self._changed.popitem(last=False)
        if rendered.last_modified is None:
            return previous[1]
        return max(rendered.last_modified, previous[1])

    def _remember(self, key: tuple[Any, ...], version: tuple[Any, ...], answer: Answer) -> None:
        old = self._cache.pop(key, None)
        if old is not None:
            self._cache_bytes -= len(old[1].rendered.body)
        self._cache[key] = (version, answer)
        self._cache_bytes += len(answer.rendered.body)
        while self._cache and (len(self._cache) > CACHE_SIZE or self._cache_bytes > CACHE_BYTES):
            _, (_, dropped) = self._cache.popitem(last=False)
            self._cache_bytes -= len(dropped.rendered.body)


def not_modified(request: Request, etag: str, last_modified: datetime) -> bool:
    """Say whether the client's copy is current (RFC 9110 section 13.2.2 order)."""
    match = request.headers.get("if-none-match")
    if match is not None:
        tags = [t.strip() for t in match.split(",")]
        return "*" in tags or etag in tags or f"W/{etag}" in tags
    since = request.headers.get("if-modified-since")
    if since is None:
        return False
    try:
        moment = parsedate_to_datetime(since)
    except (TypeError, ValueError, IndexError):
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment > datetime.now(UTC):
        return False  # a date in the future is invalid (RFC 9110 13.1.3)
    return last_modified <= moment


def web_message(error: Exception) -> str:
    """Return an error as one line naming the URL parameter, not the command-line option."""
    if isinstance(error, QueryError):
        text = f"{error.option.lstrip('-')}: {error.problem}".replace("--near", "near")
    else:
        text = str(error)
    return " ".join(text.split())


def _bad_request(error: Exception) -> Response:
    return PlainTextResponse(f"bad request: {web_message(error)}\n", status_code=400)


def create_app(
    db_path: Path,
    *,
    base_url: str | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Starlette:
    """Return the ASGI application serving the database at ``db_path``."""
    server = FeedServer(db_path, base_url=base_url, clock=clock)

    def feed_route(kind: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                answer = await server.answer(request, kind)
            except TechcalError as error:
                return _bad_request(error)
            except Exception:  # noqa: BLE001 - one line for the client, the trace in the log
                log.exception("%s failed", request.url.path)
                return PlainTextResponse("internal error: see the server's log\n", 500)
            rendered = answer.rendered
            headers = {
                "ETag": rendered.etag,
                "Last-Modified": format_datetime(answer.last_modified, usegmt=True),
                "Cache-Control": "public, max-age=300",
                "Access-Control-Allow-Origin": "*",
                "X-Techcal-Events": str(rendered.count),
            }
            if not_modified(request, rendered.etag, answer.last_modified):
                return Response(status_code=304, headers=headers)
            return Response(rendered.body, headers=headers, media_type=rendered.content_type)

        return endpoint

    def page(request: Request) -> tuple[str, int]:
        with snapshot(server.db_path) as conn:
            return web_page(conn, request.query_params, server.base(request), now=server.clock())

    async def index(request: Request) -> Response:
        try:
            html, status = await run_in_threadpool(page, request)
        except Exception:  # noqa: BLE001 - one line for the client, the trace in the log
            log.exception("the page failed")
            return PlainTextResponse("internal error: see the server's log\n", 500)
        return Response(html, status_code=status, headers=_PAGE_HEADERS, media_type=HTML_TYPE)

    async def health(request: Request) -> Response:
        server.version()
        return PlainTextResponse("ok\n")

    routes = [
        Route("/", index),
        Route("/calendar.ics", feed_route("ics")),
        Route("/events.atom", feed_route("atom")),
        Route("/events.json", feed_route("json")),
        Route("/healthz", health),
    ]
    app = Starlette(routes=routes)
    app.state.server = server
    return app


def web_page(
    conn: sqlite3.Connection, query_params: Any, base: str, *, now: datetime
) -> tuple[str, int]:
    """Return the page for these URL parameters, and its HTTP status (400: a bad filter)."""
    params = {k: query_params.getlist(k) for k in query_params.keys()}
    form = {name: (params.get(name) or [""])[0] for name in ("q", "topic", "near", "within")}
    form.update({name: (params.get(name) or [""])[0] for name in ("kind", "from", "to")})
    topics = topics_in_use(conn, taxonomy(), now=now)
    links = Links.make(base, canonical_params(params))
    page = partial(render_page, links=links, form=form, topics=topics)
    try:
        query = query_from_params(params, now=now, conn=conn)
        events = search(conn, listing_window(query), now=now)
    except TechcalError as exc:
        return page(title="techcal", events=[], error=web_message(exc)), 400
    return page(title=feed_name(query), events=events), 200


def bind(host: str, port: int) -> socket.socket:
    """Return a socket listening on ``host``:``port`` (0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise TechcalError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def serving_note(db_path: Path, host: str, sock: socket.socket, base_url: str | None) -> str:
    """Return what ``techcal serve`` says on starting: where the page and the feeds are."""
    shown = f"[{host}]" if ":" in host else host
    here = f"http://{shown}:{sock.getsockname()[1]}/"
    url = base_url or here
    return (
        f"serving {db_path} at {here}\n"
        f"  web page:  {url}\n"
        f"  calendar:  {url.rstrip('/')}/calendar.ics?topic=linux\n"
        "  (Ctrl-C to stop)"
    )


def run_server(db_path: Path, sock: socket.socket, *, base_url: str | None = None) -> None:
    """Serve the database on an already bound socket until Ctrl-C or SIGTERM."""
    import uvicorn

    config = uvicorn.Config(
        create_app(db_path, base_url=base_url),
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
    )
    uvicorn.Server(config).run(sockets=[sock])
