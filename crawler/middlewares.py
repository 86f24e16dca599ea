"""Downloader middlewares: retries that back off and respect ``Retry-After``.

Scrapy's own RetryMiddleware retries at once. Servers that answer 429 or
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

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import Response
from scrapy.robotstxt import RobotParser
from scrapy.settings import BaseSettings
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred
from w3lib.url import file_uri_to_path

#: meta key: seconds to wait before this request is downloaded
DELAY_KEY = "techcal_retry_delay"
#: meta key: when the request (or the first try of a retried one) set out
STARTED_KEY = "techcal_started"


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
    """

    async def robot_parser(self, request: Request) -> RobotParser | None:
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
