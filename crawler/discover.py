"""``techcal sources discover``: fetch a homepage and each feed it offers, once, with Scrapy.

The page is fetched as a crawl fetches a source (robots.txt, the size and
time limits, the per-host limit, the address rules: the homepage may be
anywhere its user points it; what it leads to must be public or on its own
host). Each candidate of :func:`techcal.feeds.discover.page_candidates` is
then read once by the reader its type needs, and counted: how many events,
how many upcoming. Nothing is stored.

Scrapy's reactor runs once per process: one discovery (or one crawl) per
process, as the CLI does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import scrapy
from scrapy.http import Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from techcal.crawler.failures import describe_failure, http_failure
from techcal.crawler.middlewares import ORIGIN_KEY, host_map, unmapped_url
from techcal.crawler.settings import DOWNLOAD_TIMEOUT, MAX_BYTES, PER_HOST, crawl_settings
from techcal.crawler.spiders.sources import fetch_url
from techcal.event import Event
from techcal.feeds.base import SourceDefaults, Window
from techcal.feeds.detect import detect_type, read_body
from techcal.feeds.discover import (
    ON_THE_PAGE,
    RECENT_DAYS,
    THE_ADDRESS,
    Candidate,
    Discovery,
    looks_like_feed,
    page_candidates,
    type_name,
)
from techcal.feeds.html import read_page
from techcal.store.sources import Source


def upcoming(events: list[Event], now: datetime) -> int:
    """Return how many of ``events`` have not ended at ``now``."""
    return sum(1 for e in events if (e.end or e.start) >= now and e.status != "cancelled")


class DiscoverSpider(scrapy.Spider):
    """Fetch one homepage, then each feed it offers, once."""

    name = "techcal-discover"

    def __init__(
        self,
        found: Discovery | None = None,
        defaults: SourceDefaults | None = None,
        now: datetime | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.found = found or Discovery("")
        self.defaults = defaults or SourceDefaults(source="discover")
        self.now = now or datetime.now(UTC)
        self.window = Window.around(self.now)
        self.hosts = host_map()
        self.origin = ""

    async def start(self) -> AsyncIterator[Any]:
        request = Request(
            fetch_url(self.found.url),
            callback=self.parse_home,
            errback=self.home_failed,
            dont_filter=True,
        )
        # Scrapy normalises the URL: the address rules compare the request's own
        self.origin = request.url
        request.meta[ORIGIN_KEY] = self.origin
        yield request

    def _shown(self, response: Response) -> str:
        """Return the URL a response stands for (the real host of a mapped one)."""
        return unmapped_url(response.url, self.hosts) if self.hosts else response.url

    def parse_home(self, response: Response) -> Iterator[Request]:
        """Read the homepage: a feed itself, or a page that offers feeds."""
        shown = self._shown(response)
        content_type = _header(response, b"Content-Type")
        kind = detect_type(response.body, "auto", content_type)
        self.found.type = kind
        if kind != "html":
            own = Candidate(self.found.url, kind, THE_ADDRESS)
            self._read(own, response)
            self.found.candidates.append(own)
            return
        page = Candidate(self.found.url, "html", ON_THE_PAGE)
        self._read(page, response)
        self.found.candidates.append(page)
        encoding = getattr(response, "encoding", None)
        for index, candidate in enumerate(page_candidates(response.body, shown, encoding)):
            if candidate.url in (self.found.url, shown):
                continue
            self.found.candidates.append(candidate)
            yield Request(
                fetch_url(candidate.url),
                callback=self.parse_candidate,
                errback=self.candidate_failed,
                dont_filter=True,
                meta={ORIGIN_KEY: self.origin, "candidate": candidate},
                priority=-index,
            )

    def parse_candidate(self, response: Response) -> None:
        """Read one candidate feed (or page) and count its events."""
        self._read(response.meta["candidate"], response)

    def _read(self, candidate: Candidate, response: Response) -> None:
        content_type = _header(response, b"Content-Type")
        declared = candidate.type if candidate.type in ("ics", "rss", "json") else "auto"
        # what the server sends decides, not what the link said it would be
        kind = detect_type(response.body, "auto", content_type)
        candidate.read_type = kind
        if kind == "html":
            encoding = getattr(response, "encoding", None)
            page = read_page(response.body, self._shown(response), self.defaults, encoding=encoding)
            events, warnings = page.events, page.warnings
            candidate.links = len(page.event_links)
        else:
            read = read_body(
                response.body, kind, self.defaults, window=self.window, url=candidate.url
            )
            if not read.recognised:
                candidate.error = read.warnings[0] if read.warnings else f"not a {kind} file"
                if declared != "auto":
                    candidate.error = f"expected {type_name(declared)}: {candidate.error}"
            events, warnings = read.events, read.warnings
        candidate.events = len(events)
        candidate.upcoming = upcoming(events, self.now)
        since = self.now - timedelta(days=RECENT_DAYS)
        candidate.recent = candidate.upcoming + sum(
            1 for e in events if since <= (e.end or e.start) < self.now
        )
        candidate.warnings = warnings[:5]

    def home_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        self.found.error = _failure(failure, self.found.url or request.url)

    def candidate_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        candidate: Candidate = request.meta["candidate"]
        candidate.error = _failure(failure, candidate.url)


def _failure(failure: Failure, url: str) -> str:
    if isinstance(failure.value, HttpError):
        return http_failure(failure.value.response, url)
    return describe_failure(failure, url)


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def run_discover(
    url: str,
    defaults: SourceDefaults,
    *,
    now: datetime | None = None,
    timeout: float = DOWNLOAD_TIMEOUT,
    max_bytes: int = MAX_BYTES,
    per_host: int = PER_HOST,
    verbose: bool = False,
) -> Discovery:
    """Fetch ``url`` and every feed it offers, once; return what each holds."""
    from scrapy.crawler import AsyncCrawlerProcess

    from techcal.crawler.run import quiet_logs

    found = Discovery(url)
    settings: dict[str, Any] = crawl_settings(
        timeout=timeout,
        max_bytes=max_bytes,
        per_host=per_host,
        log_level="DEBUG" if verbose else "ERROR",
    )
    settings["ITEM_PIPELINES"] = {}
    settings["LOG_INSTALL_ROOT_HANDLER"] = verbose
    process = AsyncCrawlerProcess(settings)
    quiet_logs(verbose)
    process.crawl(DiscoverSpider, found=found, defaults=defaults, now=now)
    process.start()
    if found.type is None and found.error is None:
        found.error = f"{url}: not fetched (the discovery was stopped)"
    return found


def discover_for(source: Source) -> tuple[str | None, list[str]]:
    """Put the best feed a homepage offers in place of ``source``'s URL (``sources add``).

    Only for ``--type auto`` web addresses that do not plainly name a feed.
    Returns the homepage when the URL was replaced (the source is named
    after it), and the lines that say what was chosen and why.
    """
    if source.type != "auto" or looks_like_feed(source.url):
        return None, []
    defaults = SourceDefaults(
        source=source.name or "new source", kind=source.kind, city=source.city
    )
    found = run_discover(source.url, defaults)
    chosen, why = found.choice()
    if chosen is None:
        return None, [f"{why}; added as given, `techcal crawl` will read it"]
    homepage = source.url
    notes = []
    source.type = chosen.read_type or chosen.type
    if chosen.url != homepage:
        source.url = chosen.url
        notes = [f"read as {source.type}, chosen because: {why}"]
        notes.append(f"all it offers: techcal sources discover {homepage}")
        return homepage, notes
    return None, [f"read as {source.type}, chosen because: {why}"]
