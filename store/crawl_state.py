"""What the crawler remembers per source between crawls: validators, errors, back-off.

The crawler reads this before a crawl (which sources are due, which
ETag/Last-Modified to send) and writes it after each source, in the same
process that stores the source's events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlite_utils

from techcal.errors import UnknownSource
from techcal.store.sources import Source, get_source, list_sources
from techcal.store.transactions import write_transaction

#: the listing memo of a feed whose entries led to event pages (re-read after the revisit time)
FEED_PAGES = "feed-pages"
#: a server's Retry-After is honoured up to this long
RETRY_AFTER_MAX = timedelta(days=7)
#: consecutive failures after which a source is no longer tried every crawl
BACKOFF_AFTER = 5
#: the wait after the BACKOFF_AFTER-th failure; it doubles with each further one
BACKOFF_FIRST = timedelta(hours=1)
#: never wait longer than this between tries of a failing source
BACKOFF_MAX = timedelta(days=1)


@dataclass
class CrawlState:
    """A source's conditional-GET validators and failure record."""

    etag: str | None = None
    last_modified: str | None = None
    failures: int = 0
    next_due: str | None = None


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def crawl_state(db: sqlite_utils.Database, name: str) -> CrawlState:
    """Return the crawl state of source ``name``."""
    row = db.conn.execute(
        "SELECT etag, last_modified, failures, next_due FROM sources WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        raise UnknownSource(name)
    return CrawlState(row[0], row[1], row[2] or 0, row[3])


def due_sources(
    db: sqlite_utils.Database,
    names: tuple[str, ...] | list[str] = (),
    *,
    now: datetime | None = None,
) -> tuple[list[Source], list[Source]]:
    """Return (sources to crawl now, enabled sources still backing off).

    Named sources are always crawled (an unknown name raises UnknownSource);
    otherwise every enabled source whose back-off time has passed.
    """
    if names:
        return [get_source(db, name) for name in dict.fromkeys(names)], []
    stamp = _stamp(now or datetime.now(UTC))
    waiting = {
        row[0]
        for row in db.conn.execute(
            "SELECT name FROM sources WHERE enabled AND next_due IS NOT NULL AND next_due > ?",
            (stamp,),
        )
    }
    enabled = [s for s in list_sources(db) if s.enabled]
    return [s for s in enabled if s.name not in waiting], [s for s in enabled if s.name in waiting]


def next_try(failures: int, now: datetime, retry_after: float | None = None) -> datetime | None:
    """Return when a source that has now failed ``failures`` times in a row is due again.

    None means "at the next crawl". From the BACKOFF_AFTER-th failure on the
    wait doubles, from one hour up to a day; a server's Retry-After is
    always respected.

    >>> now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    >>> next_try(4, now) is None
    True
    >>> next_try(5, now).isoformat(), next_try(7, now).isoformat()
    ('2026-11-22T13:00:00+00:00', '2026-11-22T16:00:00+00:00')
    >>> next_try(30, now).isoformat()
    '2026-11-23T12:00:00+00:00'
    """
    due = None
    if failures >= BACKOFF_AFTER:
        wait = BACKOFF_FIRST * 2 ** min(failures - BACKOFF_AFTER, 16)
        due = now + min(wait, BACKOFF_MAX)
    if retry_after:
        # a Retry-After of years (or one that overflows) must not silence a source
        asked = now + min(timedelta(seconds=min(retry_after, 1e9)), RETRY_AFTER_MAX)
        due = max(due, asked) if due else asked
    return due


def record_success(
    db: sqlite_utils.Database,
    name: str,
    *,
    status: str,
    http_status: int | None,
    etag: str | None,
    last_modified: str | None,
    problem: str | None = None,
    forget_validators: bool = False,
    now: datetime | None = None,
) -> None:
    """Note that ``name`` was fetched (``status``: ok or unchanged); clear its failures.

    ``forget_validators`` drops the stored ETag and Last-Modified: the body
    that came with them was not stored whole, so a later 304 must not
    stand for it.

    ``problem`` is kept as its last error when part of it failed (a page of
    a listing). Validators are replaced only when the response carried
    them: a 304 does not repeat them.
    """
    with write_transaction(db.conn):
        cursor = db.conn.execute(
            "UPDATE sources SET last_fetched = ?1, last_ok = ?1, last_status = ?, http_status = ?,"
            " last_error = ?, failures = 0, next_due = NULL,"
            " etag = CASE WHEN ? THEN NULL ELSE coalesce(?, etag) END,"
            " last_modified = CASE WHEN ? THEN NULL ELSE coalesce(?, last_modified) END"
            " WHERE name = ?",
            (
                _stamp(now or datetime.now(UTC)),
                status,
                http_status,
                problem,
                forget_validators,
                etag,
                forget_validators,
                last_modified,
                name,
            ),
        )
        if cursor.rowcount == 0:
            raise UnknownSource(name)


def record_failure(
    db: sqlite_utils.Database,
    name: str,
    *,
    error: str,
    http_status: int | None,
    retry_after: float | None = None,
    now: datetime | None = None,
) -> int:
    """Note that fetching ``name`` failed with ``error``; return its consecutive failures.

    Its events and validators are kept; it is due again as :func:`next_try` says.
    """
    now = now or datetime.now(UTC)
    with write_transaction(db.conn):
        row = db.conn.execute("SELECT failures FROM sources WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise UnknownSource(name)
        failures = (row[0] or 0) + 1
        due = next_try(failures, now, retry_after)
        db.conn.execute(
            "UPDATE sources SET last_fetched = ?, last_status = 'error', http_status = ?,"
            " last_error = ?, failures = ?, next_due = ? WHERE name = ?",
            (_stamp(now), http_status, error, failures, _stamp(due) if due else None, name),
        )
    return failures


@dataclass(frozen=True)
class ListingMemo:
    """A web source's listing as last read: the digest of its links and events, and when
    its event pages were last all read."""

    digest: str
    full_read_at: datetime


def listing_memo(db: sqlite_utils.Database, name: str) -> ListingMemo | None:
    """Return what the last crawl of web source ``name`` remembered of its listing."""
    row = db.conn.execute(
        "SELECT l.digest, l.full_read_at FROM listing_state l"
        " JOIN sources s ON s.id = l.source_id WHERE s.name = ?",
        (name,),
    ).fetchone()
    return ListingMemo(row[0], datetime.fromisoformat(row[1])) if row else None


def save_listing_memo(db: sqlite_utils.Database, name: str, memo: ListingMemo) -> None:
    """Remember ``memo`` for web source ``name``; call it once the pages' events are stored."""
    with write_transaction(db.conn):
        db.conn.execute(
            "INSERT INTO listing_state (source_id, digest, full_read_at)"
            " SELECT id, ?, ? FROM sources WHERE name = ?"
            " ON CONFLICT(source_id) DO UPDATE SET digest = excluded.digest,"
            " full_read_at = excluded.full_read_at",
            (memo.digest, _stamp(memo.full_read_at), name),
        )


def forget_listing_memo(db: sqlite_utils.Database, name: str) -> None:
    """Drop the listing memo of ``name``, so its next crawl reads every page."""
    with write_transaction(db.conn):
        db.conn.execute(
            "DELETE FROM listing_state WHERE source_id = (SELECT id FROM sources WHERE name = ?)",
            (name,),
        )
