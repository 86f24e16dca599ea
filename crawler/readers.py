"""Where the crawl reads what it fetched: in its own process, or in worker processes."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from multiprocessing import get_context
from typing import Any

from scrapy.http import Response

from techcal.feeds.base import SourceDefaults
from techcal.feeds.html import Page, read_page
from techcal.store.ingest import ReadJob, ReadOutcome, read_job


def ignore_interrupts() -> None:
    """Leave Ctrl-C to the crawl process (a worker's initializer).

    Ctrl-C reaches the whole process group: the crawl process stops the
    workers itself, without a traceback from each.
    """
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
                workers, mp_context=get_context("spawn"), initializer=ignore_interrupts
            )

    async def _call(self, func: Callable[..., Any], *args: Any) -> Any:
        if self.pool is None:
            return func(*args)
        return await asyncio.get_running_loop().run_in_executor(self.pool, func, *args)

    async def job(self, job: ReadJob) -> ReadOutcome:
        """Return what a calendar or feed body holds (see :func:`techcal.store.ingest.read_job`)."""
        outcome: ReadOutcome = await self._call(read_job, job)
        return outcome

    async def page(self, response: Response, defaults: SourceDefaults) -> Page:
        """Return what a web page holds (see :func:`techcal.feeds.html.read_page`)."""
        encoding = getattr(response, "encoding", None)
        reader = partial(read_page, encoding=encoding)
        page: Page = await self._call(reader, response.body, response.url, defaults)
        return page

    def close(self) -> None:
        """Stop the worker processes."""
        if self.pool is not None:
            # what is queued is dropped; a worker finishes the page it is on
            self.pool.shutdown(wait=True, cancel_futures=True)
