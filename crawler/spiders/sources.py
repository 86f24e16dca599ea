"""The one spider: fetches every planned source and the pages it points to.

Each source starts with one request to its URL (with the ETag and
Last-Modified of the last fetch). What comes back is read by type: iCal
and RSS/Atom by the feed readers, HTML by :mod:`techcal.feeds.html`.
Listing pages and feed entries without event data lead to more pages of
the same source, within a depth and page budget. When the last page of a
source is done, one :class:`SourceResult` is yielded for the pipelines.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from multiprocessing import get_context
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from techcal.crawler.items import SourcePlan, SourceResult
from techcal.crawler.middlewares import (
    ORIGIN_KEY,
    STARTED_KEY,
    RefusedAddress,
    retry_after_seconds,
)
from techcal.crawler.settings import MAX_DEPTH, MAX_PAGES, REVISIT_HOURS
from techcal.feeds.base import ReadResult
from techcal.feeds.detect import detect_type
from techcal.feeds.html import Page, read_page
from techcal.feeds.incremental import READER_VERSION, window_key
from techcal.store.crawl_state import FEED_PAGES
from techcal.store.ingest import ReadJob, ReadOutcome, read_job
from techcal.store.reader_state import ReaderState

#: meta key of a page's link depth from its source (Scrapy's DepthMiddleware
#: rewrites "depth" as parent + 1, which would count a listing's next pages)
DEPTH_KEY = "techcal_depth"
#: a listing's "next page" links followed per source, within its page budget
MAX_LISTING_PAGES = 10


def fetch_url(url: str) -> str:
    """Return the URL to request for a source URL (``webcal://`` is iCal over HTTPS).

    >>> fetch_url("webcal://example.org/cal.ics")
    'https://example.org/cal.ics'
    >>> fetch_url("https://example.org/events")
    'https://example.org/events'
    """
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() == "webcal":
        return f"https://{rest}"
    return url


def _ignore_interrupts() -> None:
    # Ctrl-C reaches the whole process group: the crawl process stops the
    # workers itself, without a traceback from each
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Readers:
    """Where bodies and pages are read: in the crawl's process, or in worker processes.

    Reading is the crawl's CPU work (icalendar, feedparser, extruct); in
    worker processes it runs beside the fetching and on every core.
    """

    def __init__(self, workers: int = 1) -> None:
        self.pool: ProcessPoolExecutor | None = None
        if workers > 1:
            self.pool = ProcessPoolExecutor(
                workers, mp_context=get_context("spawn"), initializer=_ignore_interrupts
            )

    async def _call(self, func: Callable[..., Any], *args: Any) -> Any:
        if self.pool is None:
            return func(*args)
        return await asyncio.get_running_loop().run_in_executor(self.pool, func, *args)

    async def job(self, job: ReadJob) -> ReadOutcome:
        """Return what a calendar or feed body holds (see :func:`techcal.store.ingest.read_job`)."""
        outcome: ReadOutcome = await self._call(read_job, job)
        return outcome

    async def page(self, response: Response, defaults: Any) -> Page:
        """Return what a web page holds (see :func:`techcal.feeds.html.read_page`)."""
        encoding = getattr(response, "encoding", None)
        reader = partial(read_page, encoding=encoding)
        page: Page = await self._call(reader, response.body, response.url, defaults)
        return page

    def close(self) -> None:
        if self.pool is not None:
            # what is queued is dropped; a worker finishes the page it is on
            self.pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class _Run:
    """One source in flight: what its pages found so far."""

    plan: SourcePlan
    #: the registered URL as requested: what the source leads to is checked against it
    origin: str = ""
    pending: int = 0
    #: requests made for the source, its own URL included (the page budget)
    requested: int = 0
    pages: int = 0
    listing_pages: int = 0
    seconds: float = 0.0
    #: when the source's first request set out (monotonic clock)
    started: float | None = None
    visited: set[str] = field(default_factory=set)
    outcome: ReadOutcome | None = None
    events: list[Any] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    #: pages known but not fetched (budget spent)
    skipped_pages: int = 0
    result: SourceResult | None = None
    #: listing pages of a web source not read yet, and what each listed
    listing_pending: int = 0
    listing_parts: dict[str, str] = field(default_factory=dict)
    #: event pages held back until the listing is known to have changed
    held: list[tuple[str, int]] = field(default_factory=list)
    listing_unchanged: bool = False


class SourcesSpider(scrapy.Spider):
    """Fetch the planned sources; yield one SourceResult per source."""

    name = "techcal"

    def __init__(
        self,
        plans: list[SourcePlan] | None = None,
        max_pages: int = MAX_PAGES,
        max_depth: int = MAX_DEPTH,
        revisit_hours: float = REVISIT_HOURS,
        workers: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.plans = plans or []
        self.max_pages = max_pages
        self.max_depth = max_depth
        self.revisit = timedelta(hours=revisit_hours)
        self.runs: dict[str, _Run] = {}
        self.readers = Readers(workers)

    async def start(self) -> AsyncIterator[Any]:
        for plan in self.plans:
            yield self.source_request(plan)

    def closed(self, reason: str) -> None:
        self.readers.close()

    # ------------------------------------------------------------ requests

    def source_request(self, plan: SourcePlan) -> Request:
        """Return the first request of ``plan``'s source, conditional when it was fetched before."""
        run = _Run(plan)
        self.runs[plan.source.name] = run
        url = fetch_url(plan.source.url)
        headers = {}
        if plan.etag:
            headers["If-None-Match"] = plan.etag
        if plan.last_modified:
            headers["If-Modified-Since"] = plan.last_modified
        run.pending = 1
        run.requested = 1
        run.visited.add(url)
        request = Request(
            url,
            callback=self.parse_source,
            errback=self.source_failed,
            headers=headers,
            # several sources may list the same page: each reads it for itself
            dont_filter=True,
            meta={
                "source": plan.source.name,
                DEPTH_KEY: 0,
                "handle_httpstatus_list": [304],
                # a local file that is missing stays missing: no retries
                "dont_retry": url.startswith("file:"),
            },
        )
        # Scrapy normalises the URL: the middleware compares the request's own
        run.origin = request.url
        request.meta[ORIGIN_KEY] = run.origin
        return request

    def _follow(
        self, run: _Run, links: list[str], depth: int, *, listing: bool
    ) -> Iterator[Request]:
        for link in links:
            if link in run.visited:
                continue
            if run.requested >= self.max_pages or (
                listing and run.listing_pages >= MAX_LISTING_PAGES
            ):
                run.skipped_pages += 1
                continue
            if urlsplit(link).scheme not in ("http", "https"):
                continue
            run.visited.add(link)
            run.pending += 1
            run.requested += 1
            if listing:
                run.listing_pages += 1
                run.listing_pending += 1
            yield Request(
                link,
                callback=self.parse_page,
                errback=self.page_failed,
                dont_filter=True,
                # detail pages before further listing pages: a long calendar
                # spends its budget on events, not on empty months
                priority=0 if listing else 1,
                meta={
                    "source": run.plan.source.name,
                    ORIGIN_KEY: run.origin,
                    DEPTH_KEY: depth,
                    "listing": listing,
                },
            )

    # ----------------------------------------------------------- callbacks

    async def parse_source(self, response: Response) -> AsyncIterator[Any]:
        """Read a source's own URL: a feed, a calendar or a web page."""
        run = self.runs[response.meta["source"]]
        run.started = response.meta.get(STARTED_KEY)
        run.pages += 1
        run.seconds += response.meta.get("download_latency", 0.0)
        started = time.monotonic()
        try:
            if response.status == 304:
                run.result = self._result(run, response, "unchanged")
            else:
                async for request in self._read_source(run, response):
                    yield request
        except Exception as exc:  # a reader bug must cost one source, never the crawl
            self.logger.debug("reading %s failed", response.url, exc_info=True)
            run.result = SourceResult(
                run.plan.source,
                "error",
                url=response.url,
                http_status=response.status,
                error=f"could not read {response.url}: {type(exc).__name__}: {exc}",
            )
        run.seconds += time.monotonic() - started
        for item in self._done(run):
            yield item

    async def _read_source(self, run: _Run, response: Response) -> AsyncIterator[Request]:
        plan = run.plan
        content_type = _header(response, b"Content-Type")
        kind = detect_type(response.body, plan.source.type, content_type)
        run.result = self._result(run, response, "read")
        if kind == "html":
            run.listing_pending += 1
            page = await self.readers.page(response, plan.defaults)
            for request in self._took_page(run, response.url, page, depth=0, listing=True):
                yield request
            run.listing_pending -= 1
            for request in self._listing_read(run):
                yield request
            return
        job = ReadJob(
            defaults=plan.defaults,
            declared_type=kind,
            window=plan.window,
            previous=plan.previous,
            data=response.body,
            content_type=content_type,
        )
        outcome = await self.readers.job(job)
        run.outcome = outcome
        if outcome.skipped:
            run.result.status = "unchanged"
            return
        if not outcome.read.recognised:
            run.result = SourceResult(
                plan.source,
                "error",
                url=response.url,
                http_status=response.status,
                error=f"{response.url}: {_first(outcome.read.warnings) or f'not a {kind} file'}",
            )
            return
        # feed entries that carry no event data: their pages may
        if outcome.read.pages:
            run.result.listing_digest = FEED_PAGES
            run.result.full_read = True
        for request in self._follow(run, outcome.read.pages, 1, listing=False):
            yield request

    async def parse_page(self, response: Response) -> AsyncIterator[Any]:
        """Read one more page of a source (an event's page, or a listing's next page)."""
        run = self.runs[response.meta["source"]]
        run.pages += 1
        run.seconds += response.meta.get("download_latency", 0.0)
        started = time.monotonic()
        listing = response.meta.get("listing", False)
        try:
            page = await self.readers.page(response, run.plan.defaults)
            depth = response.meta.get(DEPTH_KEY, 1)
            for request in self._took_page(run, response.url, page, depth, listing=listing):
                yield request
        except Exception as exc:
            self.logger.debug("reading %s failed", response.url, exc_info=True)
            run.page_errors.append(f"{response.url}: could not read it ({type(exc).__name__})")
        run.seconds += time.monotonic() - started
        if listing:
            run.listing_pending -= 1
            for request in self._listing_read(run):
                yield request
        for item in self._done(run):
            yield item

    def _took_page(
        self, run: _Run, url: str, page: Page, depth: int, *, listing: bool
    ) -> Iterator[Request]:
        """Keep what a web page says; return the requests for the pages it leads to."""
        run.events.extend(page.events)
        run.warnings.extend(page.warnings)
        links = page.event_links if depth < self.max_depth else []
        if listing:
            run.listing_parts[url] = _signature(page)
        if listing and self._holding(run):
            run.held.extend((link, depth + 1) for link in links)
        else:
            yield from self._follow(run, links, depth + 1, listing=False)
        # the next pages of a listing stay at the listing's depth
        yield from self._follow(run, page.next_pages, depth, listing=True)

    def _holding(self, run: _Run) -> bool:
        """Return True when a web source's event pages wait for its listing to change."""
        memo = run.plan.listing
        return memo is not None and datetime.now(UTC) - memo.full_read_at < self.revisit

    def _listing_read(self, run: _Run) -> Iterator[Request]:
        """Once every listing page is in: read the held event pages only if the listing changed."""
        if run.listing_pending > 0 or run.result is None:
            return
        key = "\n".join(part for _, part in sorted(run.listing_parts.items()))
        digest = hashlib.blake2b(
            f"{READER_VERSION}|{run.plan.defaults!r}|{key}".encode(), digest_size=16
        ).hexdigest()
        run.result.listing_digest = digest
        memo = run.plan.listing
        if self._holding(run) and memo is not None and memo.digest == digest:
            run.listing_unchanged = True
            run.held.clear()
            return
        run.result.full_read = True
        held, run.held = run.held, []
        for link, depth in held:
            yield from self._follow(run, [link], depth, listing=False)

    def source_failed(self, failure: Failure) -> Iterator[Any]:
        """A source's own URL could not be fetched: the source fails, the crawl goes on."""
        request = failure.request  # type: ignore[attr-defined]
        run = self.runs[request.meta["source"]]
        run.started = request.meta.get(STARTED_KEY)
        response = failure.value.response if isinstance(failure.value, HttpError) else None
        run.result = SourceResult(
            run.plan.source,
            "error",
            url=request.url,
            http_status=response.status if response is not None else None,
            error=describe_failure(failure, request.url),
            retry_after=_retry_after(response),
        )
        yield from self._done(run)

    def page_failed(self, failure: Failure) -> Iterator[Any]:
        """One more page of a source failed: noted, and the source is not read whole."""
        request = failure.request  # type: ignore[attr-defined]
        run = self.runs[request.meta["source"]]
        if failure.check(RefusedAddress):
            # the link, not the source, is at fault: a warning, and the
            # source still counts as read whole (what that page gave before
            # may be marked removed)
            run.warnings.append(str(failure.value))
        else:
            run.page_errors.append(describe_failure(failure, request.url))
        if request.meta.get("listing"):
            run.listing_pending -= 1
            yield from self._listing_read(run)
        yield from self._done(run)

    # -------------------------------------------------------------- results

    def _result(self, run: _Run, response: Response, status: str) -> SourceResult:
        return SourceResult(
            run.plan.source,
            status,
            url=response.url,
            http_status=response.status,
            etag=_header(response, b"ETag"),
            last_modified=_header(response, b"Last-Modified"),
        )

    def _done(self, run: _Run) -> Iterator[SourceResult]:
        run.pending -= 1
        if run.pending > 0:
            return
        result = run.result
        assert result is not None
        result.pages = run.pages
        result.page_errors = run.page_errors
        # wall time from the first request, waits for retries included; else the work itself
        result.seconds = time.monotonic() - run.started if run.started else run.seconds
        if result.status != "error":
            result.outcome = self._outcome(run)
            if result.outcome is not None and result.outcome.skipped:
                result.status = "unchanged"
            # A page that failed leaves the source partly unknown: nothing is
            # marked removed, and its next crawl reads everything again. Pages
            # left unread for the page budget only keep removals from being
            # marked: they would be left unread next time too.
            result.whole = not run.page_errors
            outcome = result.outcome
            if run.skipped_pages and outcome is not None and not outcome.skipped:
                outcome.read.failed_entries += run.skipped_pages
        del self.runs[run.plan.source.name]
        yield result

    def _outcome(self, run: _Run) -> ReadOutcome | None:
        """Return what the source's pages add up to."""
        outcome = run.outcome
        if outcome is not None and outcome.type != "html":
            if not outcome.skipped:
                outcome.read.events.extend(_unique(run.events, outcome.read.events))
                outcome.read.warn_all(run.warnings)
            return outcome
        if run.result is not None and run.result.status == "unchanged":
            return None  # a 304: nothing was read
        if run.listing_unchanged:
            return ReadOutcome("html", True, ReadResult(warnings=run.warnings), None)
        events = _unique(run.events, [])
        digest = _events_digest(events, run)
        previous = run.plan.previous
        state = ReaderState(digest, window_key(run.plan.window), False, None)
        if previous is not None and previous.digest == digest:
            return ReadOutcome("html", True, ReadResult(warnings=run.warnings), None)
        read = ReadResult(events=events, warnings=run.warnings)
        if not events:
            # An error page served with 200, a calendar that became a login
            # page: pages with no event at all are never taken as "the
            # source lists nothing now".
            read.recognised = False
            read.warnings.append(f"{run.plan.source.url}: no events found on its pages")
            return ReadOutcome("html", False, read, None)  # and said again next time
        return ReadOutcome("html", False, read, state)


def _unique(events: list[Any], already: list[Any]) -> list[Any]:
    """Return ``events`` without repeats of a source uid (pages often repeat an event)."""
    seen = {e.source_uid for e in already}
    found = []
    for event in events:
        if event.source_uid not in seen:
            seen.add(event.source_uid)
            found.append(event)
    return found


def _signature(page: Any) -> str:
    """Return what a listing page lists, as text: its links and the events it describes."""
    return json.dumps(
        [
            sorted(page.event_links),
            sorted(page.next_pages),
            sorted(json.dumps(e.to_dict(), sort_keys=True, default=str) for e in page.events),
        ]
    )


def _events_digest(events: list[Any], run: _Run) -> str:
    """Return the key of what a web source's pages say (not their markup, which churns)."""
    text = json.dumps(
        sorted((e.to_dict() for e in events), key=lambda d: (d["source_uid"], d["start"])),
        sort_keys=True,
        default=str,
    )
    key = f"{READER_VERSION}|html|{run.plan.defaults!r}|{text}"
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _first(lines: list[str]) -> str | None:
    return lines[0] if lines else None


def _retry_after(response: Response | None) -> float | None:
    if response is None:
        return None
    return retry_after_seconds(response.headers.get(b"Retry-After"))


def describe_failure(failure: Failure, url: str) -> str:
    """Return one line saying why fetching ``url`` failed, for the summary and `sources list`."""
    from scrapy.exceptions import (
        CannotResolveHostError,
        DownloadCancelledError,
        DownloadConnectionRefusedError,
        DownloadTimeoutError,
        IgnoreRequest,
    )
    from twisted.internet import error as twisted_errors

    exc = failure.value
    if isinstance(exc, RefusedAddress):
        return str(exc)
    if isinstance(exc, HttpError):
        status = exc.response.status
        reason = _HTTP_REASONS.get(status, "")
        asked = _retry_after(exc.response)
        text = f"{url}: HTTP {status}{' ' + reason if reason else ''}"
        if asked:
            text += f" (the server asks to wait {_duration(asked)})"
        return text
    if isinstance(exc, DownloadTimeoutError | twisted_errors.TimeoutError):
        return f"{url}: no complete answer within the download timeout"
    if isinstance(exc, DownloadCancelledError):
        return f"{url}: the body is larger than the download size limit"
    if isinstance(exc, DownloadConnectionRefusedError | twisted_errors.ConnectionRefusedError):
        return f"{url}: connection refused"
    if isinstance(exc, CannotResolveHostError | twisted_errors.DNSLookupError):
        return f"{url}: host name not found"
    if isinstance(exc, IgnoreRequest):
        text = str(exc)
        if "robots.txt" in text:
            return f"{url}: robots.txt does not allow fetching it"
        if "redirect" in text.lower():
            return f"{url}: too many redirects (a redirect loop?)"
        if "MAXSIZE" in text.upper().replace("_", "").replace(" ", ""):
            once = " once decompressed" if "decompress" in text else ""
            return f"{url}: the body is larger than the download size limit{once}"
        return f"{url}: {text or 'request dropped'}"
    if isinstance(exc, OSError) and url.startswith("file:") and exc.strerror:
        return f"{url}: cannot read it ({exc.strerror})"
    message = str(exc).strip() or type(exc).__name__
    return f"{url}: {message}"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


_HTTP_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    410: "Gone",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
