"""Run one crawl: plan from the store, fetch with Scrapy in this process, report.

Scrapy's reactor runs once per process, so one call of :func:`run_crawl`
per process (the CLI, a benchmark, a scheduler that starts a process per
round).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from techcal.crawler.report import CrawlReport, SourceReport
from techcal.crawler.settings import (
    REVISIT_HOURS,
    CrawlOptions,
    crawl_settings,
)
from techcal.feeds.incremental import window_key
from techcal.store.crawl_state import FEED_PAGES, crawl_state, due_sources, listing_memo
from techcal.store.ingest import ReadJob, make_job
from techcal.store.sources import Source

#: from this many sources on, bodies and pages are read in worker processes
PARALLEL_MIN_SOURCES = 40


def plan_crawl(
    db: sqlite_utils.Database,
    names: tuple[str, ...] | list[str] = (),
    *,
    now: datetime | None = None,
    revisit_hours: float = REVISIT_HOURS,
) -> tuple[list[ReadJob], list[str]]:
    """Return the read jobs of the sources to crawl now, and the names of those backing off.

    Stored events are re-tagged first if the topic taxonomy changed.
    """
    from techcal.store.normalise import ensure_tags_current

    now = now or datetime.now(UTC)
    ensure_tags_current(db.conn)
    due, waiting = due_sources(db, names, now=now)
    plans = [plan_source(db, source, now=now, revisit_hours=revisit_hours) for source in due]
    return plans, [s.name for s in waiting]


def plan_source(
    db: sqlite_utils.Database, source: Source, *, now: datetime, revisit_hours: float
) -> ReadJob:
    """Return the read job of one source to crawl, with what its first request sends."""
    job = make_job(db, source, now=now)
    state = crawl_state(db, source.name)
    memo = listing_memo(db, source.name)
    if (
        memo is not None
        and memo.digest == FEED_PAGES
        and now - memo.full_read_at >= timedelta(hours=revisit_hours)
    ):
        # a feed whose entries lead to event pages: those pages are read
        # again after the revisit time even when the feed is the same
        job.previous = None
    # Validators are sent only for a calendar or feed whose last read is
    # remembered: a 304 then means "what we stored is current". A web
    # source's events live on pages the 304 says nothing about, and a
    # source whose last read was partial must be read in full.
    previous = job.previous
    conditional = previous is not None and previous.snapshot is not None
    if previous is not None and previous.recurring:
        # a calendar with series is read again when the window moved,
        # even if the server would say 304: new occurrences come into it
        conditional = conditional and previous.window_key == window_key(job.window)
    if conditional:
        job.etag, job.last_modified = state.etag, state.last_modified
    job.listing = memo if memo is None or memo.digest != FEED_PAGES else None
    return job


def run_crawl(
    db_path: Path,
    plans: list[ReadJob],
    *,
    options: CrawlOptions | None = None,
    on_report: Callable[[SourceReport], None] | None = None,
) -> CrawlReport:
    """Fetch and store every planned source with one Scrapy crawl; return the report.

    ``on_report`` is called as each source is stored (for progress).
    Sources still in flight when the crawl is stopped (Ctrl-C) are
    reported "not done"; what was stored before stays stored. With
    ``options.redis_url``, workers fetch (see :mod:`techcal.crawler.coordinator`).
    """
    options = options or CrawlOptions()
    if options.redis_url is not None:
        from techcal.crawler.coordinator import run_redis_crawl

        return run_redis_crawl(
            db_path, plans, options.redis_url, options=options, on_report=on_report
        )
    from scrapy.crawler import AsyncCrawlerProcess

    from techcal.crawler.spiders.sources import SourcesSpider

    report = CrawlReport()
    if not plans:
        return report

    def collect(line: SourceReport) -> None:
        report.sources.append(line)
        if on_report is not None:
            on_report(line)

    settings: dict[str, Any] = crawl_settings(
        timeout=options.timeout,
        max_bytes=options.max_bytes,
        per_host=options.per_host,
        log_level="DEBUG" if options.verbose else "ERROR",
    )
    settings["LOG_INSTALL_ROOT_HANDLER"] = options.verbose
    process = AsyncCrawlerProcess(settings)
    # after the process: it sets up Scrapy's logging, and would undo this
    quiet_logs(options.verbose)
    started = time.monotonic()
    process.crawl(
        SourcesSpider,
        plans=plans,
        max_pages=options.max_pages,
        max_depth=options.max_depth,
        revisit_hours=options.revisit_hours,
        workers=reader_workers(len(plans), options.workers),
        db_path=str(db_path),
        on_report=collect,
    )
    process.start()
    report.seconds = time.monotonic() - started
    done = {line.source for line in report.sources}
    for plan in plans:
        if plan.source.name not in done:
            report.sources.append(
                SourceReport(plan.source.name, plan.source.url, "not done", errors=1)
            )
    return report


def reader_workers(sources: int, asked: int | None = None) -> int:
    """Return how many processes read what the crawl fetches (1: the crawl's own).

    Starting a worker costs about a second of imports: worth it only for a
    crawl with many sources.
    """
    if asked is not None:
        return max(1, asked)
    if sources < PARALLEL_MIN_SOURCES:
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


class _StopNotice(logging.Handler):
    """Say in techcal's words what Ctrl-C does (Scrapy logs it, and its log is quiet)."""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "shutting down gracefully" in message:
            text = "stopping: finishing the downloads in progress (Ctrl-C again to stop now)"
        elif "forcing unclean shutdown" in message:
            text = "stopping now; sources in flight are not stored"
        else:
            return
        print(f"techcal: {text}", file=sys.stderr, flush=True)


def quiet_logs(verbose: bool) -> None:
    """Keep Scrapy's and Twisted's log lines for --verbose; the summary says what failed."""
    level = logging.DEBUG if verbose else logging.CRITICAL
    for name in ("scrapy", "twisted", "py.warnings", "techcal", "protego", "asyncio"):
        logging.getLogger(name).setLevel(level)
    if not verbose:
        crawler_log = logging.getLogger("scrapy.crawler")
        crawler_log.setLevel(logging.INFO)
        crawler_log.propagate = False
        crawler_log.addHandler(_StopNotice())
