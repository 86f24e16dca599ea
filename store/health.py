"""The health of every source and series: what `techcal sources health` reports.

Reads the crawl state (failures, the last fetch that worked, when its
events last changed), what each source lists ahead, and the state of each
series (``normalise/health.py`` says what each state means), and says per
source what needs doing.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from techcal.errors import UnknownSource
from techcal.normalise.health import (
    ATTENTION_STATES,
    QUIET_STATES,
    SeriesHealth,
    source_health,
)
from techcal.store.series import SeriesRecord, health_of, refresh_unseen, series_records

#: hosts where a group's page is the first part of the path (meetup.com/GROUP/)
GROUP_PATH_HOSTS = ("meetup.com", "lu.ma", "luma.com")


@dataclass(frozen=True)
class SeriesStatus:
    record: SeriesRecord
    health: SeriesHealth

    @property
    def attention(self) -> bool:
        return self.health.state in QUIET_STATES


@dataclass
class SourceStatus:
    """One source's health, its series' states, and what to do."""

    name: str
    url: str
    state: str
    problems: tuple[str, ...]
    last_ok: datetime | None
    changed_at: datetime | None
    last_new: datetime | None
    upcoming: int
    series: list[SeriesStatus] = field(default_factory=list)
    advice: str = ""

    @property
    def attention(self) -> bool:
        return self.state in ATTENTION_STATES or any(s.attention for s in self.series)


def homepage(url: str) -> str | None:
    """Return the page to look for a group's calendar again, None for a local file."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "webcal", "webcals"):
        return None
    scheme = "http" if parts.scheme == "http" else "https"
    host = (parts.hostname or "").removeprefix("www.")
    base = f"{scheme}://{parts.netloc}/"
    segments = [s for s in parts.path.split("/") if s]
    if host in GROUP_PATH_HOSTS and segments:
        return base + segments[0] + "/"
    return base


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def health_report(
    conn: sqlite3.Connection, *, now: datetime | None = None, source: str | None = None
) -> list[SourceStatus]:
    """Return the health of every enabled source (or of ``source``), by name."""
    now = now or datetime.now(UTC)
    refresh_unseen(conn, now=now)
    rows = conn.execute(
        "SELECT s.name, s.url, s.failures, s.last_ok, s.changed_at, s.last_error,"
        " (SELECT max(p.first_seen) FROM provenance p WHERE p.source_id = s.id),"
        " (SELECT count(*) FROM provenance p JOIN events e ON e.id = p.event_id"
        "  WHERE p.source_id = s.id AND p.removed_at IS NULL AND e.merged_into IS NULL"
        "  AND e.removed_at IS NULL AND e.status != 'cancelled'"
        "  AND coalesce(e.end_utc, e.start_utc) >= ?)"
        " FROM sources s WHERE s.enabled = 1 AND (? IS NULL OR s.name = ?) ORDER BY s.name",
        (int(now.timestamp()), source, source),
    ).fetchall()
    statuses: dict[str, SourceStatus] = {}
    errors: dict[str, tuple[int, str | None]] = {}
    for name, url, failures, last_ok, changed_at, last_error, last_new, upcoming in rows:
        errors[name] = (failures or 0, last_error)
        statuses[name] = SourceStatus(
            name,
            url,
            "",
            (),
            _moment(last_ok),
            _moment(changed_at),
            _moment(last_new),
            upcoming,
        )
    for record in series_records(conn):
        mine = [statuses[n] for n in record.sources if n in statuses]
        if not mine:
            continue
        status = SeriesStatus(record, health_of(conn, record, now))
        for one in mine:
            one.series.append(status)
    for one in statuses.values():
        failures, last_error = errors[one.name]
        judged = source_health(
            now=now,
            failures=failures,
            last_ok=one.last_ok,
            changed_at=one.changed_at,
            upcoming=one.upcoming,
            periods=[s.record.rule.period_days() for s in one.series if s.health.state != "over"],
            last_error=last_error,
        )
        one.state, one.problems = judged.state, judged.problems
        one.advice = advice(one)
    return list(statuses.values())


def advice(status: SourceStatus) -> str:
    """Return what to do about a source, "" when nothing needs doing."""
    page = homepage(status.url)
    look = (
        f"try `techcal sources discover {page}`"
        if page
        else "check the file, or add the group's new calendar"
    )
    if status.state == "failing":
        return f"check the URL; if the group moved, {look}"
    quiet = [s for s in status.series if s.attention]
    if status.state in ("empty", "stale") or quiet:
        return f"the group may have moved: {look}"
    return ""


def series_report(
    conn: sqlite3.Connection, *, now: datetime | None = None, source: str | None = None
) -> list[SeriesStatus]:
    """Return every series (those ``source`` has part in) with its state at ``now``."""
    now = now or datetime.now(UTC)
    refresh_unseen(conn, now=now)
    if source is not None:
        get_source_name(conn, source)
    return [
        SeriesStatus(record, health_of(conn, record, now))
        for record in series_records(conn, source=source)
    ]


def get_source_name(conn: sqlite3.Connection, name: str) -> str:
    """Return ``name`` when it is a source; raise UnknownSource otherwise."""
    if conn.execute("SELECT 1 FROM sources WHERE name = ?", (name,)).fetchone() is None:
        raise UnknownSource(name)
    return name
