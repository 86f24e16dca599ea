"""Bodies into the store: the one path that ``techcal import`` and the crawler share.

Reading is pure and may run in worker processes; storing happens in the
calling process, a big source in several short transactions (see
:func:`techcal.store.events.upsert_events`), its reader state after them.
A body that is the same as last time (ignoring DTSTAMP and feed build
dates) is neither parsed nor stored again; in a changed iCal file only the
changed UID groups are parsed (:mod:`techcal.feeds.incremental`), in a
changed feed only the new or changed entries
(:mod:`techcal.feeds.incremental_rss`).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path

import sqlite_utils

from techcal.errors import SourceFileError
from techcal.feeds.base import ReadResult, SourceDefaults, Window
from techcal.feeds.detect import detect_type, read_body
from techcal.feeds.incremental import (
    READER_VERSION,
    Snapshot,
    file_digest,
    read_ical_incremental,
    window_key,
)
from techcal.feeds.incremental_rss import feed_digest, read_feed_incremental
from techcal.feeds.json_source import JSON_READER_VERSION
from techcal.store import Source, UpsertResult, add_source, get_source, upsert_events
from techcal.store.crawl_state import ListingMemo
from techcal.store.event_rows import utc_stamp
from techcal.store.prepared import Prepared, prepare_records
from techcal.store.reader_state import (
    ReaderState,
    forget_reader_state,
    get_reader_state,
    save_reader_state,
)
from techcal.store.series import extend_series, note_changed, refresh_series, series_unknown

#: below this many bytes in all, worker processes cost more than they save
PARALLEL_MIN_BYTES = 4 * 2**20
#: files read ahead per worker, while the one before them is stored
READ_AHEAD = 3


@dataclass
class Ingested:
    """What reading and storing one body did."""

    source: str
    type: str
    #: "unchanged" when the body equals the last stored one (nothing parsed or written)
    status: str
    read: ReadResult
    stored: UpsertResult | None
    path: Path | None = None


@dataclass
class ReadJob:
    """One source to read: its body, and what the reader needs to know of it.

    The one job type from the plan to the reader: `techcal import` makes one
    per file; a crawl plans one per source (with the validators and listing
    memo its requests need, read from the store beforehand, so the spider
    never opens the database) and hands it, with the body fetched, to the
    reader. Plain data: it is pickled to reader worker processes.
    """

    source: Source
    window: Window
    #: the source's last read (None: read the body in full)
    previous: ReaderState | None = None
    #: the body, given or read from ``path``
    data: bytes | None = None
    path: Path | None = None
    content_type: str | None = None
    #: validators a crawl sends, for a conditional request
    etag: str | None = None
    last_modified: str | None = None
    #: a web source's listing as last read (its event pages are re-read only
    #: when it changed, or after the revisit time)
    listing: ListingMemo | None = None

    @property
    def defaults(self) -> SourceDefaults:
        """Return what the source says about all its events."""
        source = self.source
        return SourceDefaults(
            source=source.name, kind=source.kind, city=source.city, topics=source.topics
        )


@dataclass
class ReadOutcome:
    """What a reader worker hands back."""

    type: str
    skipped: bool
    read: ReadResult
    state: ReaderState | None
    #: the events read, checked and worked out as the store keeps them
    prepared: Prepared | None = None


def body_digest(
    data: bytes, source_type: str, defaults: SourceDefaults, url: str | None = None
) -> str:
    """Return the key an unchanged body is recognised by (content, reader and source defaults).

    A JSON body is read with its URL (a conference-data file's name is its
    topic), so the URL is part of its key.
    """
    if source_type == "ics":
        content = file_digest(data)
    elif source_type == "json":
        content = f"{JSON_READER_VERSION}|{hashlib.blake2b(data, digest_size=16).hexdigest()}|{url}"
    else:
        content = feed_digest(data)
    key = f"{READER_VERSION}|{content}|{source_type}|{defaults!r}"
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def read_job(job: ReadJob) -> ReadOutcome:
    """Return what ``job``'s body holds, or ``skipped`` when it equals the previous read.

    The events read are also made ready to store (see techcal.store.prepared):
    in a reader worker, that work is off the process that holds the store.
    """
    outcome = _read(job)
    if not outcome.skipped and outcome.read.events:
        source = job.source
        outcome.prepared = prepare_records(
            outcome.read.events, source.name, source.city, source.topics
        )
    return outcome


def _read(job: ReadJob) -> ReadOutcome:
    data = job.data if job.data is not None else _read_path(job.path)
    kind, digest, skipped = _compare(job, data)
    if skipped is not None:
        return skipped
    wkey = window_key(job.window)
    previous = job.previous
    if kind == "ics":
        before = Snapshot.from_bytes(previous.snapshot) if previous and previous.snapshot else None
        read, snapshot = read_ical_incremental(
            data, job.defaults, window=job.window, previous=before
        )
        state = ReaderState(digest, wkey, snapshot.recurring, snapshot.to_bytes())
        return ReadOutcome(kind, False, read, state)
    if kind == "rss":
        before = Snapshot.from_bytes(previous.snapshot) if previous and previous.snapshot else None
        read, snapshot = read_feed_incremental(
            data, job.defaults, window=job.window, previous=before
        )
        return ReadOutcome(kind, False, read, ReaderState(digest, wkey, False, snapshot.to_bytes()))
    read = read_body(data, kind, job.defaults, window=job.window, url=job.source.url)
    # a JSON body read is remembered, so the same body is not read again; one
    # that was no JSON of ours is not, so its error is said again next time
    remembered = ReaderState(digest, wkey, False, None)
    return ReadOutcome(
        kind, False, read, remembered if kind == "json" and read.recognised else None
    )


def _compare(job: ReadJob, data: bytes) -> tuple[str, str, ReadOutcome | None]:
    """Return (reader type, body digest, a skipped outcome when the body is unchanged)."""
    kind = detect_type(data, job.source.type, job.content_type)
    digest = body_digest(data, kind, job.defaults, job.source.url)
    previous = job.previous
    if (
        previous is not None
        and previous.digest == digest
        and (not previous.recurring or previous.window_key == window_key(job.window))
    ):
        return kind, digest, ReadOutcome(kind, True, ReadResult(), None)
    return kind, digest, None


def _read_path(path: Path | None) -> bytes:
    assert path is not None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SourceFileError(path, f"cannot read it ({exc.strerror})") from None


def store_outcome(
    db: sqlite_utils.Database,
    source: Source,
    outcome: ReadOutcome,
    *,
    now: datetime | None = None,
    whole: bool = True,
) -> Ingested:
    """Store what a reader returned for ``source``; return the record of it.

    ``whole`` says the body is everything the source lists now (so entries
    missing from it may be marked removed, and its reader state is kept for
    next time); a broken body never is.
    """
    if outcome.skipped:
        return Ingested(source.name, outcome.type, "unchanged", outcome.read, None)
    now = now or datetime.now(UTC)  # the stamp of the entries, and of their series
    complete = whole and outcome.read.complete
    # A big body is stored in several transactions: until the last one,
    # nothing may say that the store holds what the source last sent. Else a
    # run killed in between, followed by that same body again, would skip it
    # as unchanged and leave the rest of the work undone.
    forget_reader_state(db, source.name)
    stored = upsert_events(
        db,
        source.name,
        outcome.read.events,
        now=now,
        complete=complete,
        keep=outcome.read.unchanged,
        prepared=outcome.prepared,
    )
    # before the reader state: should it fail, the next crawl reads the body again
    keep_series(db.conn, source.name, stored, now=now)
    if outcome.state is not None and whole:
        save_reader_state(db, source.name, outcome.state, now=now)
    return Ingested(source.name, outcome.type, "read", outcome.read, stored)


def keep_series(
    conn: sqlite3.Connection, name: str, stored: UpsertResult, *, now: datetime
) -> None:
    """After a source's events were stored: note a change, and keep its series up to date.

    ``now`` must be the moment the entries were stored with. Unchanged
    entries, and entries changed only in their text, leave its series as
    they were; new entries that each fit one of its series (its next
    meeting posted) join it; anything else (an entry moved or removed, one
    that fits no series, a source never looked at) finds them all again.
    """
    changed = bool(stored.new or stored.updated or stored.removed or stored.merged)
    # (each writes when the events changed in its own transaction)
    if series_unknown(conn, name) or stored.removed or stored.rescheduled:
        refresh_series(conn, name, now=now, changed=changed)
    elif stored.new:
        # (new covers merged: an entry linked to another source's event is new here)
        if not extend_series(conn, name, utc_stamp(now), now=now, changed=changed):
            refresh_series(conn, name, now=now, changed=changed)
    elif changed:
        note_changed(conn, name, now=now)


def make_job(
    db: sqlite_utils.Database,
    source: Source,
    *,
    data: bytes | None = None,
    path: Path | None = None,
    content_type: str | None = None,
    now: datetime | None = None,
    remember: bool = True,
) -> ReadJob:
    """Return the read job for one body of ``source`` (with its last state)."""
    return ReadJob(
        source=source,
        window=Window.around(now or datetime.now(UTC)),
        previous=get_reader_state(db, source.name) if remember else None,
        data=data,
        path=path,
        content_type=content_type,
    )


def ingest_body(
    db: sqlite_utils.Database,
    source: Source,
    data: bytes,
    *,
    content_type: str | None = None,
    now: datetime | None = None,
) -> Ingested:
    """Read ``data`` as the current content of ``source`` and store it; return what happened."""
    job = make_job(db, source, data=data, content_type=content_type, now=now)
    return store_outcome(db, source, read_job(job), now=now)


def source_for_file(db: sqlite_utils.Database, path: Path, name: str | None) -> Source:
    """Return the named source, or the one registered for this file, registering it if new."""
    if name:
        return get_source(db, name)
    url = path.resolve().as_uri()
    row = db.conn.execute("SELECT name FROM sources WHERE url = ?", (url,)).fetchone()
    if row:
        return get_source(db, row[0])
    return add_source(db, Source(name="", url=url))  # a free name made up from the URL


def import_files(
    db: sqlite_utils.Database,
    paths: list[Path],
    *,
    source_name: str | None = None,
    now: datetime | None = None,
    workers: int | None = None,
) -> Iterator[Ingested]:
    """Read local files into the store, yielding what each did as it is stored.

    Each file is the whole current content of its source, unless several
    files go to one source (then nothing is marked removed). Unchanged files
    are recognised in this process, cheaply; the others are read in worker
    processes when there is enough to read to pay for them.
    """
    from techcal.store.normalise import ensure_tags_current

    for path in paths:
        if not path.is_file():
            raise SourceFileError(path, "no such file")
    ensure_tags_current(db.conn)
    sources = [source_for_file(db, path, source_name) for path in paths]
    whole = len({s.name for s in sources}) == len(sources)
    jobs = [
        make_job(db, source, path=path, now=now, remember=whole)
        for source, path in zip(sources, paths, strict=True)
    ]

    def stored(job: ReadJob, outcome: ReadOutcome) -> Ingested:
        done = store_outcome(db, job.source, outcome, now=now, whole=whole)
        done.path = job.path
        return done

    big = sum(path.stat().st_size for path in paths) >= PARALLEL_MIN_BYTES
    if workers == 1 or (workers is None and not big):
        # read_job itself recognises an unchanged body: each file is read once
        for job in jobs:
            yield stored(job, read_job(job))
        return
    # unchanged files are recognised here, cheaply, and never sent to a worker
    pending: list[ReadJob] = []
    for job in jobs:
        skipped = _compare(job, _read_path(job.path))[2] if job.previous else None
        if skipped is not None:
            yield stored(job, skipped)
        else:
            pending.append(job)
    for job, outcome in read_files(pending, workers):
        yield stored(job, outcome)


def read_files(
    jobs: list[ReadJob], workers: int | None = None
) -> Iterator[tuple[ReadJob, ReadOutcome]]:
    """Yield each file's job with what it holds, read in worker processes when that pays.

    ``workers`` None: as many as there are cores, if the files add up to
    PARALLEL_MIN_BYTES.
    """
    if workers is None:
        size = sum(job.path.stat().st_size for job in jobs if job.path is not None)
        workers = min(os.cpu_count() or 1, len(jobs)) if size >= PARALLEL_MIN_BYTES else 1
    if workers <= 1 or not jobs:
        # too little changed to pay for worker processes (these few are read twice)
        for job in jobs:
            yield job, read_job(job)
        return
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=get_context("spawn")) as pool:
        # a few files ahead of the one being stored, not all of them: what
        # the workers read waits in this process until it is stored
        ahead: deque[tuple[ReadJob, Future[ReadOutcome]]] = deque()
        waiting = iter(jobs)
        for job in waiting:
            ahead.append((job, pool.submit(read_job, job)))
            if len(ahead) >= workers * READ_AHEAD:
                done, outcome = ahead.popleft()
                yield done, outcome.result()
        while ahead:
            done, outcome = ahead.popleft()
            yield done, outcome.result()
