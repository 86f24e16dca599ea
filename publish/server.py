"""``techcal serve``: feeds and the web page over HTTP (Starlette on uvicorn).

Routes: ``/calendar.ics``, ``/events.atom``, ``/events.json`` (every search
filter as a query parameter) and ``/`` (the page). Answers carry a strong
ETag (a digest of the bytes) and Last-Modified, and conditional requests
are answered 304 without a body. Rendered answers are kept in memory until
the database changes (``PRAGMA data_version``) or the day (calendar feeds)
or ten minutes (lists of upcoming events) turn over, so a calendar app
polling an unchanged feed costs a dictionary look-up.

The database is only read; the connection lives in the event loop's
thread. A bad parameter is a 400 with a one-line message, never a 500.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from techcal.errors import TechcalError
from techcal.publish.feeds import (
    Rendered,
    atom_feed,
    canonical_params,
    feed_name,
    ics_feed,
    json_feed,
    query_from_params,
)

#: rendered answers kept in memory
CACHE_SIZE = 256
#: lists of upcoming events are recomputed at least this often (seconds)
LISTING_TTL = 600
HTML_TYPE = "text/html; charset=utf-8"
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class FeedServer:
    """The state behind the routes: the database, the cache, the clock."""

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
        self._conn: sqlite3.Connection | None = None
        self._cache: OrderedDict[tuple[Any, ...], tuple[int, Rendered, datetime]] = OrderedDict()
        # when each body was first served by this process: Last-Modified is
        # never earlier, so If-Modified-Since cannot hide a change that left
        # the events' own timestamps alone (one falling out of the window)
        self._first_served: dict[str, datetime] = {}

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            from techcal.store.database import open_reader

            self._conn = open_reader(self.db_path)
        return self._conn

    def version(self) -> int:
        """Return a number that changes whenever another connection commits."""
        value: int = self.conn.execute("PRAGMA data_version").fetchone()[0]
        return value

    def base(self, request: Request) -> str:
        if self.base_url:
            return self.base_url if self.base_url.endswith("/") else self.base_url + "/"
        return str(request.base_url)

    def rendered(self, request: Request, kind: str) -> Rendered:
        """Return the answer for a feed request, from the cache when still current."""
        now = self.clock()
        params = {k: request.query_params.getlist(k) for k in request.query_params.keys()}
        pairs = tuple(canonical_params(params))
        bucket = now.date().isoformat() if kind == "ics" else int(now.timestamp()) // LISTING_TTL
        key = (kind, pairs, bucket, self.base(request))
        version = self.version()
        cached = self._cache.get(key)
        if cached is not None and cached[0] == version:
            self._cache.move_to_end(key)
            return cached[1]
        query = query_from_params(dict(pairs_to_lists(pairs)), now=now, conn=self.conn)
        url = self.base(request) + request.url.path.lstrip("/")
        if pairs:
            from urllib.parse import urlencode

            url += "?" + urlencode(pairs)
        if kind == "ics":
            answer = ics_feed(self.conn, query, now=now, url=url)
        elif kind == "atom":
            page = self.base(request) + (("?" + url.split("?", 1)[1]) if pairs else "")
            answer = atom_feed(self.conn, query, now=now, url=url, page_url=page)
        else:
            answer = json_feed(self.conn, query, now=now)
        first = self._first_served.setdefault(answer.etag, now.replace(microsecond=0))
        self._cache[key] = (version, answer, first)
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return answer

    def last_modified(self, answer: Rendered) -> datetime:
        first = self._first_served.get(answer.etag, self.clock().replace(microsecond=0))
        if answer.last_modified is None:
            return first
        return max(answer.last_modified, first)


def pairs_to_lists(pairs: tuple[tuple[str, str], ...]) -> dict[str, list[str]]:
    lists: dict[str, list[str]] = {}
    for name, value in pairs:
        lists.setdefault(name, []).append(value)
    return lists


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
    return last_modified <= moment


def web_message(error: Exception) -> str:
    """Return an error as one line naming the URL parameter, not the command-line option."""
    from techcal.store.query import QueryError

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
                answer = server.rendered(request, kind)
            except TechcalError as error:
                return _bad_request(error)
            last_modified = server.last_modified(answer)
            headers = {
                "ETag": answer.etag,
                "Last-Modified": format_datetime(last_modified, usegmt=True),
                "Cache-Control": "public, max-age=300",
                "Access-Control-Allow-Origin": "*",
                "X-Techcal-Events": str(answer.count),
            }
            if not_modified(request, answer.etag, last_modified):
                return Response(status_code=304, headers=headers)
            return Response(answer.body, headers=headers, media_type=answer.content_type)

        return endpoint

    async def index(request: Request) -> Response:
        from techcal.publish.feeds import listing_window
        from techcal.publish.page import Links, render_page
        from techcal.store.search import search, topic_counts
        from techcal.store.topics import taxonomy

        now = server.clock()
        params = {k: request.query_params.getlist(k) for k in request.query_params.keys()}
        pairs = canonical_params(params)
        form = {name: (params.get(name) or [""])[0] for name in ("q", "topic", "near", "within")}
        form.update({name: (params.get(name) or [""])[0] for name in ("kind", "from", "to")})
        counts = topic_counts(server.conn, now=now)
        known = taxonomy()
        topics = sorted(
            (
                (slug, known.topics[slug].label if slug in known.topics else slug, count)
                for slug, count in counts.items()
            ),
            key=lambda t: t[1].lower(),
        )
        links = Links.make(server.base(request), pairs)
        error = None
        hits: list[Any] = []
        status = 200
        try:
            query = query_from_params(params, now=now, conn=server.conn)
            hits = search(server.conn, listing_window(query), now=now)
            title = feed_name(query)
        except TechcalError as exc:
            error = web_message(exc)
            title = "techcal"
            status = 400
        html = render_page(
            title=title, hits=hits, links=links, form=form, topics=topics, error=error
        )
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


def run_server(db_path: Path, sock: Any, *, base_url: str | None = None) -> None:
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
