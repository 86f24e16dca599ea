"""One source in flight in a crawl: what its pages found so far, and what they add up to."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from techcal.crawler.items import SourceResult
from techcal.event import Event
from techcal.feeds.base import ReadResult
from techcal.feeds.html import Page
from techcal.feeds.incremental import READER_VERSION, window_key
from techcal.store.ingest import ReadJob, ReadOutcome
from techcal.store.reader_state import ReaderState


@dataclass
class SourceRun:
    """One source in flight: what its pages found so far."""

    job: ReadJob
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
    events: list[Event] = field(default_factory=list)
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
    #: limits of this source's own (a worker's job carries its crawl's); None: the spider's
    max_pages: int | None = None
    max_depth: int | None = None
    revisit: timedelta | None = None
    #: the queued job of a worker's source
    job_id: str | None = None
    #: meta every request of the source carries (a worker's download timeout and size)
    meta: dict[str, Any] = field(default_factory=dict)

    def took_listing(self, url: str, page: Page) -> None:
        """Note what a listing page lists (its links and events), for the listing's digest."""
        self.listing_parts[url] = json.dumps(
            [
                sorted(page.event_links),
                sorted(page.next_pages),
                sorted(json.dumps(e.to_dict(), sort_keys=True, default=str) for e in page.events),
            ]
        )

    def listing_digest(self) -> str:
        """Return the key of what the source's listing pages list."""
        key = "\n".join(part for _, part in sorted(self.listing_parts.items()))
        return hashlib.blake2b(
            f"{READER_VERSION}|{self.job.defaults!r}|{key}".encode(), digest_size=16
        ).hexdigest()

    def read_outcome(self) -> ReadOutcome | None:
        """Return what the source's pages add up to (None after a 304: nothing was read)."""
        outcome = self.outcome
        if outcome is not None and outcome.type != "html":
            if not outcome.skipped:
                outcome.read.events.extend(unique_events(self.events, outcome.read.events))
                outcome.read.warn_all(self.warnings)
            return outcome
        if self.result is not None and self.result.status == "unchanged":
            return None  # a 304: nothing was read
        if self.listing_unchanged:
            return ReadOutcome("html", True, ReadResult(warnings=self.warnings), None)
        events = unique_events(self.events, [])
        digest = self.events_digest(events)
        previous = self.job.previous
        state = ReaderState(digest, window_key(self.job.window), False, None)
        if previous is not None and previous.digest == digest:
            return ReadOutcome("html", True, ReadResult(warnings=self.warnings), None)
        read = ReadResult(events=events, warnings=self.warnings)
        if not events:
            # An error page served with 200, a calendar that became a login
            # page: pages with no event at all are never taken as "the
            # source lists nothing now".
            read.recognised = False
            read.warnings.append(f"{self.job.source.url}: no events found on its pages")
            return ReadOutcome("html", False, read, None)  # and said again next time
        return ReadOutcome("html", False, read, state)

    def events_digest(self, events: list[Event]) -> str:
        """Return the key of what a web source's pages say (not their markup, which churns)."""
        text = json.dumps(
            sorted((e.to_dict() for e in events), key=lambda d: (d["source_uid"], d["start"])),
            sort_keys=True,
            default=str,
        )
        key = f"{READER_VERSION}|html|{self.job.defaults!r}|{text}"
        return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def unique_events(events: list[Event], already: list[Event]) -> list[Event]:
    """Return ``events`` without repeats of a source uid (pages often repeat an event)."""
    seen = {e.source_uid for e in already}
    found = []
    for event in events:
        if event.source_uid not in seen:
            seen.add(event.source_uid)
            found.append(event)
    return found
