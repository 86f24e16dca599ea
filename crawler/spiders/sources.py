"""The one spider: fetches every planned source and the pages it points to.

Each source starts with one request to its URL (with the ETag and
Last-Modified of the last fetch). What comes back is read by type: iCal
and RSS/Atom by the feed readers, HTML by :mod:`techcal.feeds.html`.
Listing pages and feed entries without event data lead to more pages of
the same source, within a depth and page budget. When the last page of a
source is done, one :class:`SourceResult` is yielded for the pipelines.

Each source in flight is a :class:`~techcal.crawler.source_run.SourceRun`;
bodies and pages are read by :class:`~techcal.crawler.readers.Readers`
(worker processes, for a big crawl); failed downloads are put in words by
:mod:`techcal.crawler.failures`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from techcal.crawler.failures import describe_failure, retry_after
from techcal.crawler.items import SourceResult
from techcal.crawler.middlewares import ORIGIN_KEY, STARTED_KEY, RefusedAddress
from techcal.crawler.readers import Readers
from techcal.crawler.settings import MAX_DEPTH, MAX_PAGES, REVISIT_HOURS
from techcal.crawler.source_run import SourceRun
from techcal.feeds.detect import detect_type
from techcal.feeds.html import Page
from techcal.store.crawl_state import FEED_PAGES
from techcal.store.ingest import ReadJob

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


class SourcesSpider(scrapy.Spider):
    """Fetch the planned sources; yield one SourceResult per source."""

    name = "techcal"

    def __init__(
        self,
        plans: list[ReadJob] | None = None,
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
        self.runs: dict[str, SourceRun] = {}
        self.readers = Readers(workers)

    async def start(self) -> AsyncIterator[Any]:
        for plan in self.plans:
            yield self.source_request(plan)

    def closed(self, reason: str) -> None:
        self.readers.close()

    # ------------------------------------------------------------ requests

    def source_request(self, job: ReadJob, run: SourceRun | None = None) -> Request:
        """Return the first request of ``job``'s source, conditional when it was fetched before."""
        run = run or SourceRun(job)
        self.runs[job.source.name] = run
        url = fetch_url(job.source.url)
        headers = {}
        if job.etag:
            headers["If-None-Match"] = job.etag
        if job.last_modified:
            headers["If-Modified-Since"] = job.last_modified
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
                "source": job.source.name,
                DEPTH_KEY: 0,
                "handle_httpstatus_list": [304],
                # a local file that is missing stays missing: no retries
                "dont_retry": url.startswith("file:"),
                **run.meta,
            },
        )
        # Scrapy normalises the URL: the middleware compares the request's own
        run.origin = request.url
        request.meta[ORIGIN_KEY] = run.origin
        return request

    def _follow(
        self, run: SourceRun, links: list[str], depth: int, *, listing: bool
    ) -> Iterator[Request]:
        for link in links:
            if link in run.visited:
                continue
            if run.requested >= (run.max_pages or self.max_pages) or (
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
                    "source": run.job.source.name,
                    ORIGIN_KEY: run.origin,
                    DEPTH_KEY: depth,
                    "listing": listing,
                    **run.meta,
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
                run.job.source,
                "error",
                url=response.url,
                http_status=response.status,
                error=f"could not read {response.url}: {type(exc).__name__}: {exc}",
            )
        run.seconds += time.monotonic() - started
        for item in self._done(run):
            yield item

    async def _read_source(self, run: SourceRun, response: Response) -> AsyncIterator[Request]:
        job = run.job
        content_type = _header(response, b"Content-Type")
        kind = detect_type(response.body, job.source.type, content_type)
        run.result = self._result(run, response, "read")
        if kind == "html":
            run.listing_pending += 1
            page = await self.readers.page(response, job.defaults)
            for request in self._took_page(run, response.url, page, depth=0, listing=True):
                yield request
            run.listing_pending -= 1
            for request in self._listing_read(run):
                yield request
            return
        # the source's own job with the body fetched (the reader tells its type the same way)
        fetched = replace(job, data=response.body, content_type=content_type)
        outcome = await self.readers.job(fetched)
        run.outcome = outcome
        if outcome.skipped:
            run.result.status = "unchanged"
            return
        if not outcome.read.recognised:
            run.result = SourceResult(
                job.source,
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
            page = await self.readers.page(response, run.job.defaults)
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
        self, run: SourceRun, url: str, page: Page, depth: int, *, listing: bool
    ) -> Iterator[Request]:
        """Keep what a web page says; return the requests for the pages it leads to."""
        run.events.extend(page.events)
        run.warnings.extend(page.warnings)
        max_depth = self.max_depth if run.max_depth is None else run.max_depth
        links = page.event_links if depth < max_depth else []
        if listing:
            run.took_listing(url, page)
        if listing and self._holding(run):
            run.held.extend((link, depth + 1) for link in links)
        else:
            yield from self._follow(run, links, depth + 1, listing=False)
        # the next pages of a listing stay at the listing's depth
        yield from self._follow(run, page.next_pages, depth, listing=True)

    def _holding(self, run: SourceRun) -> bool:
        """Return True when a web source's event pages wait for its listing to change."""
        memo = run.job.listing
        revisit = self.revisit if run.revisit is None else run.revisit
        return memo is not None and datetime.now(UTC) - memo.full_read_at < revisit

    def _listing_read(self, run: SourceRun) -> Iterator[Request]:
        """Once every listing page is in: read the held event pages only if the listing changed."""
        if run.listing_pending > 0 or run.result is None:
            return
        digest = run.listing_digest()
        run.result.listing_digest = digest
        memo = run.job.listing
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
            run.job.source,
            "error",
            url=request.url,
            http_status=response.status if response is not None else None,
            error=describe_failure(failure, request.url),
            retry_after=retry_after(response),
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

    def _result(self, run: SourceRun, response: Response, status: str) -> SourceResult:
        return SourceResult(
            run.job.source,
            status,
            url=response.url,
            http_status=response.status,
            etag=_header(response, b"ETag"),
            last_modified=_header(response, b"Last-Modified"),
        )

    def _done(self, run: SourceRun) -> Iterator[SourceResult]:
        run.pending -= 1
        if run.pending > 0:
            return
        result = run.result
        assert result is not None
        result.pages = run.pages
        result.page_errors = run.page_errors
        result.job_id = run.job_id
        # wall time from the first request, waits for retries included; else the work itself
        result.seconds = time.monotonic() - run.started if run.started else run.seconds
        if result.status != "error":
            result.outcome = run.read_outcome()
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
        del self.runs[run.job.source.name]
        yield result


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _first(lines: list[str]) -> str | None:
    return lines[0] if lines else None
