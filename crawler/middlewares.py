"""Downloader middlewares: public addresses only, and retries that respect ``Retry-After``.

:class:`PublicAddressMiddleware` keeps what a source leads to on public
addresses (see :mod:`techcal.crawler.addresses`). Scrapy's own
RetryMiddleware retries at once. Servers that answer 429 or
503 are asking us to slow down, so each retry here waits: the server's
``Retry-After`` when it gives one (up to ``RETRY_AFTER_MAX`` seconds; a
longer wait gives up for this crawl and the source is tried again after
it), else ``RETRY_BACKOFF_BASE`` doubled for each retry.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import Response
from scrapy.robotstxt import RobotParser
from scrapy.settings import BaseSettings
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError
from w3lib.url import file_uri_to_path

from techcal.crawler.addresses import (
    NonPublicAddress,
    PublicAddressResolver,
    address_kind,
    host_port,
    ip_literal,
)
from techcal.crawler.freshness import ROBOTS_MAX_AGE, Freshness

#: meta key: seconds to wait before this request is downloaded
DELAY_KEY = "techcal_retry_delay"
#: meta key: when the request (or the first try of a retried one) set out
STARTED_KEY = "techcal_started"
#: meta key: the registered URL of the source a request was made for
ORIGIN_KEY = "techcal_origin"
#: meta key: the request's source came from a shared queue, not this store: its URL is
#: judged like any link (a worker without --allow-private)
UNTRUSTED_KEY = "techcal_untrusted"
#: meta key: the host a request is for, when it is served from elsewhere (TECHCAL_HOST_MAP)
HOST_KEY = "techcal_host"


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Return the wait a ``Retry-After`` header asks for, in seconds, or None.

    >>> retry_after_seconds(b"120")
    120.0
    >>> now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    >>> retry_after_seconds("Sun, 22 Nov 2026 12:05:00 GMT", now)
    300.0
    >>> retry_after_seconds("soon") is None
    True
    """
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class BackoffRetryMiddleware(RetryMiddleware):
    """Retry 408/429/5xx and connection errors, each retry after a growing wait."""

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE", 1.0)
        self.retry_after_max = settings.getfloat("RETRY_AFTER_MAX", 30.0)

    def process_response(  # type: ignore[override]
        self, request: Request, response: Response
    ) -> Request | Response:
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        asked = retry_after_seconds(response.headers.get(b"Retry-After"))
        if asked is not None and asked > self.retry_after_max:
            # not within this crawl: the source records the wait and is skipped until then
            return response
        retry = self._retry(request, f"HTTP {response.status}")
        if retry is None:
            return response
        retry.meta[DELAY_KEY] = max(asked or 0.0, self._backoff(retry))
        return retry

    def process_exception(  # type: ignore[override]
        self, request: Request, exception: Exception
    ) -> Request | Response | None:
        retry = super().process_exception(request, exception)
        if isinstance(retry, Request):
            retry.meta[DELAY_KEY] = self._backoff(retry)
        return retry

    def _backoff(self, retry: Request) -> float:
        return float(self.backoff_base * 2 ** (retry.meta.get("retry_times", 1) - 1))


class RetryDelayMiddleware:
    """Wait the delay a retry asks for before it is downloaded; note when a request set out."""

    async def process_request(self, request: Request) -> None:
        # retries copy the meta: the first try's time stays
        request.meta.setdefault(STARTED_KEY, time.monotonic())
        delay = request.meta.pop(DELAY_KEY, 0)
        if delay > 0:
            await asyncio.sleep(delay)


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, made right for requests that wait together.

    In Scrapy 2.19, when several requests to one host wait for its
    robots.txt, only the first gets the parser: the others get None and
    are let through unchecked (one Deferred, several awaiting callbacks,
    the first of which swallows the result). Here a waiter that got None
    looks up the parser the first one stored.

    A robots.txt is obeyed for ``TECHCAL_ROBOTS_MAX_AGE`` seconds (a day),
    then fetched again: a worker runs for weeks (techcal.crawler.freshness).
    """

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self.freshness = Freshness(
            crawler.settings.getfloat("TECHCAL_ROBOTS_MAX_AGE", ROBOTS_MAX_AGE)
        )

    async def robot_parser(self, request: Request) -> RobotParser | None:
        netloc = urlparse_cached(request).netloc
        if self.freshness.stale(netloc) and not isinstance(self._parsers.get(netloc), Deferred):
            self._parsers.pop(netloc, None)  # (one being fetched is left to finish)
        parser = await super().robot_parser(request)
        if parser is None:
            stored = self._parsers.get(urlparse_cached(request).netloc)
            if stored is not None and not isinstance(stored, Deferred):
                return stored
        return parser


class FastServerAutoThrottle(AutoThrottle):
    """AutoThrottle that lets a fast server be fetched at the per-host cap.

    Scrapy spaces requests to a host by the delay AutoThrottle computes from
    latency; with any delay at all it also sends them one at a time. For a
    server answering in a few milliseconds that costs more than it protects
    (bench/crawl.py: 74 instead of 171 pages/s on loopback): a delay below
    ``AUTOTHROTTLE_MIN_USEFUL_DELAY`` is taken as none, and the host's
    concurrency cap alone limits it. Slow or struggling hosts are throttled
    as before.
    """

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self.min_useful = crawler.settings.getfloat("AUTOTHROTTLE_MIN_USEFUL_DELAY", 0.0)

    def _adjust_delay(self, slot: Any, latency: float, response: Response) -> None:
        super()._adjust_delay(slot, latency, response)
        if slot.delay < self.min_useful:
            slot.delay = 0.0


class FileSizeMiddleware:
    """Hold ``file://`` sources to the download size limit too.

    Scrapy's file handler reads a whole file whatever its size; a source
    pointing at a 2 GB log by mistake must fail like a 2 GB download.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    @classmethod
    def from_crawler(cls, crawler: Any) -> FileSizeMiddleware:
        return cls(crawler.settings.getint("DOWNLOAD_MAXSIZE"))

    def process_request(self, request: Request) -> None:
        if not self.max_bytes or not request.url.startswith("file:"):
            return
        try:
            size = os.stat(file_uri_to_path(request.url)).st_size
        except OSError:
            return  # the file handler says what is wrong with it
        if size > self.max_bytes:
            raise IgnoreRequest(f"the file is larger than DOWNLOAD_MAXSIZE ({size} bytes)")


class RefusedAddress(IgnoreRequest):
    """A request a source led to, refused: it would reach a non-public address."""

    def __init__(self, request: Request, why: str) -> None:
        redirects = request.meta.get("redirect_urls") or []
        if redirects:
            text = f"{redirects[0]}: not fetched: it redirects to {request.url}, and {why}"
        else:
            text = f"{request.url}: not fetched: {why}"
        super().__init__(text)


class PublicAddressMiddleware:
    """Refuse every request a source leads to that would reach a non-public address.

    A source's registered URL may point anywhere, and so may the requests
    to its host and port (its own pages, and its redirects there). Any
    other request (a feed entry's link, a listing's pages, a redirect, a
    robots.txt) must be http or https and reach a public address: an IP
    literal is judged as written, a name by what it resolves to. This runs
    before the robots.txt middleware, so a refused host is not even asked
    for its robots.txt, and Scrapy's redirects come back through it as new
    requests.

    Names are resolved with the crawl's own resolver, whose cache the
    connection then reads: the address checked is the address connected
    to. When that is :class:`~techcal.crawler.addresses.PublicAddressResolver`
    (the crawl's setting), it also refuses, at connection time, a
    non-public answer for any name that is not a registered host, which
    closes the window between this check and the connection (an answer
    that left the cache and changed meanwhile).
    """

    def __init__(self) -> None:
        #: the host and port of every registered URL seen (robots.txt requests carry no source)
        self.own: set[tuple[str, int]] = set()

    async def process_request(self, request: Request) -> None:
        origin = request.meta.get(ORIGIN_KEY)
        target = host_port(request.url)
        untrusted = request.meta.get(UNTRUSTED_KEY, False)
        if origin is not None and not untrusted:
            own = host_port(origin)
            if request.url == origin and not request.meta.get("redirect_urls"):
                self._trust(own)
                return  # the registered URL itself: its owner may point it anywhere
            if target is not None and target == own:
                return
        elif origin is None and target is not None and target in self.own:
            return
        if target is None:
            raise RefusedAddress(request, "only http and https links are followed")
        host = target[0]
        literal = ip_literal(host)
        if literal is not None:
            kind = address_kind(literal)
            if kind is not None:
                raise RefusedAddress(request, f"{host} is a {kind} address")
            return
        try:
            address = await maybe_deferred_to_future(_resolver().getHostByName(host))
        except NonPublicAddress as exc:
            raise RefusedAddress(request, exc.reason) from None
        except DNSLookupError:
            # the download fails the same way, with its retries and its
            # message; the resolver still checks whatever it finds then
            return
        ip = ip_literal(address)
        kind = address_kind(ip) if ip is not None else "unreadable"
        if kind is not None:
            # a registered host (trusted by the resolver) reached from elsewhere
            raise RefusedAddress(request, f"{host} resolves to {address}, a {kind} address")

    def _trust(self, own: tuple[str, int] | None) -> None:
        if own is None:
            return  # a file: source has no host of its own
        self.own.add(own)
        resolver = _resolver()
        if isinstance(resolver, PublicAddressResolver):
            resolver.trust(own[0])


def _resolver() -> Any:
    """Return the resolver the crawl's connections use (the reactor's)."""
    from twisted.internet import reactor

    return reactor.resolver


#: environment variable naming hosts served from elsewhere (tests, offline copies of sites)
HOST_MAP_ENV = "TECHCAL_HOST_MAP"


def host_map(text: str | None = None) -> dict[str, str]:
    """Return the host map of ``TECHCAL_HOST_MAP``: host -> the base URL that serves it.

    The value is a JSON object such as ``{"www.meetup.com":
    "http://127.0.0.1:8001/meetup"}``: a request for
    ``https://www.meetup.com/x/`` is sent to ``http://127.0.0.1:8001/meetup/x/``.
    It lets tests and offline copies of sites stand in for the internet; a
    value that is not such an object is refused with a message.

    >>> host_map('{"www.meetup.com": "http://127.0.0.1:8001/meetup/"}')
    {'www.meetup.com': 'http://127.0.0.1:8001/meetup'}
    """
    import json

    text = os.environ.get(HOST_MAP_ENV) if text is None else text
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.startswith(("http://", "https://"))
        for k, v in value.items()
    ):
        from techcal.errors import TechcalError

        raise TechcalError(
            f"{HOST_MAP_ENV} must be a JSON object of host names and http(s) base URLs"
        )
    return {k.lower(): v.rstrip("/") for k, v in value.items()}


def mapped_url(url: str, hosts: dict[str, str]) -> str:
    """Return where ``url`` is fetched from under the host map ``hosts``.

    >>> mapped_url("https://calendar.google.com/a?b=1", {"calendar.google.com": "http://h:1/g"})
    'http://h:1/g/a?b=1'
    """
    from urllib.parse import urlsplit

    split = urlsplit(url)
    base = hosts.get((split.hostname or "").lower())
    if base is None or split.scheme not in ("http", "https"):
        return url
    rest = split.path or "/"
    return base + rest + (f"?{split.query}" if split.query else "")


def unmapped_url(url: str, hosts: dict[str, str]) -> str:
    """Return the URL a fetched ``url`` stands for under ``hosts`` (the longest base wins).

    >>> unmapped_url("http://h:1/g/a?b=1", {"calendar.google.com": "http://h:1/g"})
    'https://calendar.google.com/a?b=1'
    """
    best = ""
    host = ""
    for name, base in hosts.items():
        if (url == base or url.startswith(base + "/") or url.startswith(base + "?")) and len(
            base
        ) > len(best):
            best, host = base, name
    if not best:
        return url
    rest = url[len(best) :]
    return f"https://{host}{rest if rest.startswith('/') else '/' + rest}"


class HostMapMiddleware:
    """Send the requests for mapped hosts to where ``TECHCAL_HOST_MAP`` says they are served.

    Installed only when the variable is set. The request's source origin is
    mapped too, so the address rules judge the mapped request as they would
    the real one (a source's own host stays its own), and each mapped host
    keeps its own politeness slot, as the real host would have.
    """

    def __init__(self) -> None:
        self.hosts = host_map()

    async def process_request(self, request: Request) -> Request | None:
        target = mapped_url(request.url, self.hosts)
        if target == request.url:
            return None
        meta = dict(request.meta)
        origin = meta.get(ORIGIN_KEY)
        if isinstance(origin, str):
            meta[ORIGIN_KEY] = mapped_url(origin, self.hosts)
        # politeness as for the host it stands for: its own download slot
        # (per-host limit, AutoThrottle) and its own shared slot across workers
        host = (urlsplit(request.url).hostname or "").lower()
        meta.setdefault("download_slot", host)
        meta.setdefault(HOST_KEY, host)
        return request.replace(url=target, meta=meta)
