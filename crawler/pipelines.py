"""Item pipelines: validate each source's records, then store them and the source's crawl state.

Storing goes through :func:`techcal.store.ingest.store_outcome`, the same path
`techcal import` takes: short transactions per source (a big source in
batches, its removal marks after the last), and nothing already stored is
lost when a source fails.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import sqlite_utils
from scrapy.crawler import Crawler

from techcal.crawler.items import SourceResult
from techcal.crawler.report import SourceReport
from techcal.event import Event
from techcal.store.crawl_state import (
    ListingMemo,
    forget_listing_memo,
    record_failure,
    record_success,
    save_listing_memo,
)
from techcal.store.database import open_store
from techcal.store.ingest import store_outcome
from techcal.store.sources import get_source

logger = logging.getLogger(__name__)


def drop_reason(event: Event) -> str | None:
    """Return why ``event`` cannot be an event at all (no title, no start), else None."""
    if not event.title or not event.title.strip():
        return "no title"
    if event.start is None or event.start.utcoffset() is None:
        return "no start time"
    return None


class ValidationPipeline:
    """Drop records without a title or a start time, counted by reason."""

    def process_item(self, item: SourceResult) -> SourceResult:
        outcome = item.outcome
        if outcome is None or outcome.skipped:
            return item
        kept = []
        dropped: Counter[str] = Counter()
        for event in outcome.read.events:
            reason = drop_reason(event)
            if reason is None:
                kept.append(event)
            else:
                dropped[reason] += 1
        if dropped:
            outcome.read.events = kept
            # a dropped record stands for an entry the source lists: keep its
            # stored version rather than marking it removed
            outcome.read.failed_entries += sum(dropped.values())
            item.dropped = dict(dropped)
        return item


class StorePipeline:
    """Store each source's records and crawl state; report what it did."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.db: sqlite_utils.Database | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    @property
    def spider(self) -> Any:
        return self.crawler.spider

    def open_spider(self) -> None:
        self.db = open_store(self.spider.db_path)

    def close_spider(self) -> None:
        if self.db is not None:
            self.db.conn.close()

    def process_item(self, item: SourceResult) -> SourceResult:
        assert self.db is not None
        try:
            report = self.store_result(self.db, item)
        except Exception as exc:  # noqa: BLE001 - one source's failure never ends the crawl
            # e.g. a full disk: this source's transaction is rolled back, the crawl goes on
            logger.error("storing %s failed: %s", item.source.name, exc)
            report = SourceReport.of(item, status="error", error=f"could not store it: {exc}")
        callback = getattr(self.spider, "on_report", None)
        if callback is not None:
            callback(report)
        return item

    @staticmethod
    def store_result(db: sqlite_utils.Database, item: SourceResult) -> SourceReport:
        """Store one source's result and crawl state; return its report line."""
        now = datetime.now(UTC)
        name = item.source.name
        if item.status == "error":
            failures = record_failure(
                db,
                name,
                error=item.error or "failed",
                http_status=item.http_status,
                retry_after=item.retry_after,
                now=now,
            )
            return SourceReport.of(item, status="error", error=item.error, failures=failures)
        stored = None
        warnings: list[str] = []
        more = 0
        outcome = item.outcome
        # validators go with a body whose read was stored whole (304s and
        # unchanged bodies keep the ones stored before)
        forget = (
            outcome is not None
            and not outcome.skipped
            and (outcome.state is None or not item.whole or not outcome.read.recognised)
        )
        if outcome is not None:
            done = store_outcome(db, item.source, outcome, now=now, whole=item.whole)
            stored = done.stored
            warnings = done.read.warnings
            more = done.read.more_warnings
        if item.listing_digest is not None:
            if not item.whole:
                forget_listing_memo(db, name)  # the next crawl reads every page
            elif item.full_read and item.outcome is not None and item.outcome.read.recognised:
                # (pages without any event are read again each time, never taken as known)
                save_listing_memo(db, name, ListingMemo(item.listing_digest, now))
        status = "unchanged" if stored is None else "ok"
        record_success(
            db,
            name,
            status=status,
            http_status=item.http_status,
            etag=item.etag,
            last_modified=item.last_modified,
            problem=_pages_problem(item) or _nothing_found(item),
            forget_validators=forget,
            now=now,
        )
        known = get_source(db, name).events if stored is None else None
        return SourceReport.of(
            item, status=status, stored=stored, warnings=warnings, known=known, more=more
        )


def _pages_problem(item: SourceResult) -> str | None:
    if not item.page_errors:
        return None
    count = len(item.page_errors)
    return f"{count} of its {item.pages + count} pages failed, e.g. {item.page_errors[0]}"


def _nothing_found(item: SourceResult) -> str | None:
    outcome = item.outcome
    if outcome is None or outcome.skipped or outcome.read.recognised:
        return None
    return next((w for w in outcome.read.warnings if "no events found" in w), None)
