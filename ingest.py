"""Reading local files into the store, without the crawler (``techcal import``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from techcal.errors import SourceFileError
from techcal.feeds.base import ReadResult, SourceDefaults, Window
from techcal.feeds.detect import detect_type, read_body
from techcal.store import Source, UpsertResult, add_source, get_source, upsert_events
from techcal.store.sources import name_from_url


@dataclass
class FileImport:
    """What importing one file did."""

    path: Path
    source: str
    type: str
    read: ReadResult
    stored: UpsertResult


def source_for_file(db: sqlite_utils.Database, path: Path, name: str | None) -> Source:
    """Return the named source, or the one registered for this file, registering it if new."""
    if name:
        return get_source(db, name)
    url = path.resolve().as_uri()
    row = db.conn.execute("SELECT name FROM sources WHERE url = ?", (url,)).fetchone()
    if row:
        return get_source(db, row[0])
    base = name_from_url(url)
    taken = {r[0] for r in db.conn.execute("SELECT name FROM sources")}
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return add_source(db, Source(name=candidate, url=url))


def import_file(
    db: sqlite_utils.Database,
    path: Path,
    *,
    source_name: str | None = None,
    now: datetime | None = None,
) -> FileImport:
    """Read ``path`` with the reader its content needs and store its events; return what happened.

    The file is the source's whole current content, so entries missing from
    it that have not started yet are marked removed.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceFileError(path, f"cannot read it ({exc.strerror})") from None
    source = source_for_file(db, path, source_name)
    defaults = SourceDefaults(
        source=source.name, kind=source.kind, city=source.city, topics=source.topics
    )
    kind = detect_type(data, source.type)
    read = read_body(data, kind, defaults, window=Window.around(now or datetime.now(UTC)))
    stored = upsert_events(
        db, source.name, read.events, now=now, complete=kind != "html" and read.complete
    )
    return FileImport(path, source.name, kind, read, stored)
