"""What comes out of the crawl: one result per source.

What goes in is one :class:`techcal.store.ingest.ReadJob` per source (the
crawl plan), the same job the reader gets with the body fetched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from techcal.store.ingest import ReadOutcome
from techcal.store.sources import Source


@dataclass
class SourceResult:
    """The item the spider yields once per source, when all its pages are done."""

    source: Source
    #: "read" (something to store), "unchanged" (304 or same content) or "error"
    status: str
    outcome: ReadOutcome | None = None
    #: True when every page of the source was read: only then may entries missing
    #: from it be marked removed
    whole: bool = True
    url: str | None = None
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None
    #: seconds the server asked us to wait (Retry-After) before trying again
    retry_after: float | None = None
    pages: int = 0
    #: pages of the source that could not be fetched or read, one line each
    page_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: records dropped by validation, counted by reason
    dropped: dict[str, int] = field(default_factory=dict)
    #: a web source: the digest of what its listing pages list
    listing_digest: str | None = None
    #: a web source whose event pages were all read this time
    full_read: bool = False
    #: the queued job this is the result of (a worker's; None in a local crawl)
    job_id: str | None = None
