"""Registered sources: validation, add, list, remove."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils

from techcal.errors import SourceError, SourceExists, UnknownSource
from techcal.event import KINDS, SOURCE_TYPES

_URL_SCHEMES = ("http", "https", "webcal", "file")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_TOPIC_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")


@dataclass
class Source:
    """A place events are published: an iCal feed, an RSS/Atom feed or a web page."""

    name: str
    url: str
    kind: str = "other"
    type: str = "auto"
    city: str | None = None
    topics: tuple[str, ...] = ()
    enabled: bool = True
    # crawl state, filled in by the crawler
    added_at: str | None = None
    last_fetched: str | None = None
    last_status: str | None = None
    http_status: int | None = None
    last_error: str | None = None
    failures: int = 0
    #: when a failing source is tried again (None: at the next crawl)
    next_due: str | None = None
    events: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape of ``sources list --json``."""
        return {
            "name": self.name,
            "url": self.url,
            "kind": self.kind,
            "type": self.type,
            "city": self.city,
            "topics": list(self.topics),
            "enabled": self.enabled,
            "added_at": self.added_at,
            "last_fetched": self.last_fetched,
            "last_status": self.last_status,
            "http_status": self.http_status,
            "last_error": self.last_error,
            "failures": self.failures,
            "next_due": self.next_due,
            "events": self.events,
        }


def normalise_url(url: str) -> str:
    """Return ``url`` checked and tidied, or raise SourceError naming the problem.

    >>> normalise_url("  https://calagator.org/events.ics ")
    'https://calagator.org/events.ics'
    """
    url = url.strip()
    if not url:
        raise SourceError("(no url)", "the URL is empty")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise SourceError(url, f"the URL is malformed ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in _URL_SCHEMES:
        shown = f"scheme {parts.scheme!r}" if parts.scheme else "no scheme"
        raise SourceError(url, f"{shown} is not supported (use http, https, webcal or file)")
    if scheme == "file":
        if not parts.path or parts.path == "/":
            raise SourceError(url, "a file:// URL needs a path, e.g. file:///home/me/events.ics")
    elif not parts.hostname:
        raise SourceError(url, "the URL has no host name")
    elif " " in parts.netloc:
        raise SourceError(url, "the host name contains a space")
    return parts._replace(scheme=scheme).geturl()


def name_from_url(url: str) -> str:
    """Return a short source name suggested by ``url``.

    >>> name_from_url("https://calagator.org/events.ics")
    'calagator'

    >>> name_from_url("https://www.meetup.com/pdxpython/events/ical/")
    'meetup-pdxpython'
    >>> name_from_url("file:///srv/demo/plug.ics")
    'plug'
    """
    parts = urlsplit(url)
    words: list[str] = []
    if parts.hostname:
        labels = parts.hostname.removeprefix("www.").split(".")
        # drop the top-level domain: "calagator.org" -> "calagator"
        words.append("-".join(labels[:-1] if len(labels) > 1 else labels))
    segments = [s for s in parts.path.split("/") if s]
    skip = {"events", "event", "calendar", "ical", "ics", "feed", "rss", "atom", "api"}
    if parts.hostname:
        segments = [s for s in segments if s.lower().split(".")[0] not in skip][:1]
    else:
        segments = segments[-1:]
        segments = [s.rsplit(".", 1)[0] for s in segments]
    words.extend(segments)
    slug = re.sub(r"[^a-z0-9]+", "-", "-".join(words).lower()).strip("-")
    return (slug or "source")[:60].strip("-")


def check_source(source: Source) -> Source:
    """Return ``source`` with its URL normalised; raise SourceError on bad fields."""
    source.url = normalise_url(source.url)
    label = source.name or source.url
    # an empty name is made up from the URL when the source is added
    if source.name and not _NAME_RE.match(source.name):
        raise SourceError(
            label,
            "name must be 1-63 lower-case letters, digits, '.', '_' or '-' "
            "and start with a letter or digit",
        )
    if source.kind not in KINDS:
        raise SourceError(label, f"kind {source.kind!r} is not one of {', '.join(KINDS)}")
    if source.type not in SOURCE_TYPES:
        raise SourceError(label, f"type {source.type!r} is not one of {', '.join(SOURCE_TYPES)}")
    for topic in source.topics:
        if not _TOPIC_RE.match(topic):
            raise SourceError(label, f"topic {topic!r} must be lower-case letters, digits and '-'")
    if source.city is not None:
        source.city = source.city.strip() or None
    return source


def add_source(
    db: sqlite_utils.Database, source: Source, *, named_after: str | None = None
) -> Source:
    """Register ``source``; return it as stored.

    An empty name is made from ``named_after`` (the homepage a feed was
    found on), else from the source's URL.
    """
    if not source.name:
        source.url = normalise_url(source.url)
        source.name = _free_name(db, name_from_url(normalise_url(named_after or source.url)))
    check_source(source)
    _refuse_duplicate(db, source)
    try:
        with db.conn:
            _insert(db, source)
    except sqlite3.IntegrityError:
        # another process added it between our check and the insert
        _refuse_duplicate(db, source)
        raise
    return source


def add_sources(db: sqlite_utils.Database, sources: list[Source]) -> tuple[int, list[str]]:
    """Add every source not already registered, all or nothing.

    Returns (added count, names skipped because their URL or name was
    already registered). Any invalid entry raises before anything is stored.
    """
    derived = set()
    for index, source in enumerate(sources):
        if not source.name:
            source.url = normalise_url(source.url)
            source.name = name_from_url(source.url)
            derived.add(index)
        check_source(source)
    skipped: list[str] = []
    added = 0
    with db.conn:
        for index, source in enumerate(sources):
            known = db.conn.execute(
                "SELECT name FROM sources WHERE url = ?", (source.url,)
            ).fetchone()
            if known is not None:
                skipped.append(known[0])
                continue
            if index in derived:
                # a name made up from the URL gives way; a name the file gives does not
                source.name = _free_name(db, source.name)
            try:
                _refuse_duplicate(db, source)
            except SourceExists:
                skipped.append(source.name)
                continue
            _insert(db, source)
            added += 1
    return added, skipped


def _insert(db: sqlite_utils.Database, source: Source) -> None:
    source.added_at = datetime.now(UTC).isoformat(timespec="seconds")
    db.conn.execute(
        "INSERT INTO sources (name, url, kind, type, city, topics, enabled, added_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            source.name,
            source.url,
            source.kind,
            source.type,
            source.city,
            json.dumps(list(source.topics)),
            int(source.enabled),
            source.added_at,
        ),
    )


def _refuse_duplicate(db: sqlite_utils.Database, source: Source) -> None:
    row = db.conn.execute(
        "SELECT name, url FROM sources WHERE url = ? OR name = ?", (source.url, source.name)
    ).fetchone()
    if row is None:
        return
    if row[1] == source.url:
        raise SourceExists(source.url, f"already registered as {row[0]!r}")
    raise SourceExists(source.name, f"the name is already used for {row[1]}")


def _free_name(db: sqlite_utils.Database, base: str) -> str:
    taken = {r[0] for r in db.conn.execute("SELECT name FROM sources")}
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def list_sources(db: sqlite_utils.Database) -> list[Source]:
    """Return every registered source with its crawl state, by name."""
    counts = dict(
        db.conn.execute(
            "SELECT source_id, count(*) FROM provenance WHERE removed_at IS NULL GROUP BY source_id"
        ).fetchall()
    )
    return [
        _from_row(row, counts.get(row["id"], 0))
        for row in db["sources"].rows_where(order_by="name")
    ]


def get_source(db: sqlite_utils.Database, name: str) -> Source:
    """Return the source called ``name`` or raise UnknownSource."""
    rows = list(db["sources"].rows_where("name = ?", [name]))
    if not rows:
        raise UnknownSource(name)
    (count,) = db.conn.execute(
        "SELECT count(*) FROM provenance WHERE source_id = ? AND removed_at IS NULL",
        (rows[0]["id"],),
    ).fetchone()
    return _from_row(rows[0], count)


def remove_source(db: sqlite_utils.Database, name: str, *, now: datetime | None = None) -> int:
    """Unregister ``name``; return how many of its events are now marked removed.

    Events stay in the store (their uids and the notifications already sent
    refer to them); those that no other source lists are marked removed.
    """
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    with db.conn:
        row = db.conn.execute("SELECT id FROM sources WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise UnknownSource(name)
        event_ids = [
            r[0]
            for r in db.conn.execute(
                "SELECT event_id FROM provenance WHERE source_id = ?", (row[0],)
            )
        ]
        db.conn.execute("DELETE FROM provenance WHERE source_id = ?", (row[0],))
        db.conn.execute("DELETE FROM sources WHERE id = ?", (row[0],))
        marked = 0
        now_ts = int((now or datetime.now(UTC)).timestamp())
        for event_id in event_ids:
            # past events stay as they were: they happened, whoever listed them
            cursor = db.conn.execute(
                "UPDATE events SET removed_at = ?, sequence = sequence + 1, changed_at = ?,"
                " updated_at = ? WHERE id = ? AND start_utc > ? AND removed_at IS NULL"
                " AND NOT EXISTS (SELECT 1 FROM provenance p WHERE p.event_id = events.id"
                " AND p.removed_at IS NULL)",
                (stamp, stamp, stamp, event_id, now_ts),
            )
            marked += cursor.rowcount
        # events other sources still list take their values from those now
        from techcal.store.matching import remerge_events

        remerge_events(db.conn, event_ids, stamp)
    return marked


def _from_row(row: dict[str, Any], events: int) -> Source:
    return Source(
        name=row["name"],
        url=row["url"],
        kind=row["kind"],
        type=row["type"],
        city=row["city"],
        topics=tuple(json.loads(row["topics"] or "[]")),
        enabled=bool(row["enabled"]),
        added_at=row["added_at"],
        last_fetched=row.get("last_fetched"),
        last_status=row.get("last_status"),
        http_status=row.get("http_status"),
        last_error=row.get("last_error"),
        failures=row.get("failures") or 0,
        next_due=row.get("next_due"),
        events=events,
    )


def source_exists(conn: sqlite3.Connection, name: str) -> bool:
    """Say whether a source is called ``name``."""
    return conn.execute("SELECT 1 FROM sources WHERE name = ?", (name,)).fetchone() is not None
