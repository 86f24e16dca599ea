"""What every reader takes and returns.

A reader is a pure function ``bytes + SourceDefaults -> ReadResult``: it
never touches the network or the database, and never raises on bad input;
what it could not use is reported in ``warnings``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from techcal.event import Event

#: default expansion window for recurring events, around "now"
WINDOW_BEFORE = timedelta(days=7)
WINDOW_AFTER = timedelta(days=365)


@dataclass(frozen=True)
class SourceDefaults:
    """What the source says about all its events, used where an entry is silent."""

    source: str
    kind: str = "other"
    city: str | None = None
    #: IANA zone for floating times (before the calendar's X-WR-TIMEZONE)
    timezone: str | None = None
    topics: tuple[str, ...] = ()


@dataclass
class ReadResult:
    """Events read from one file, plus what the reader could not use."""

    events: list[Event] = field(default_factory=list)
    #: one line each: what was skipped or guessed, naming the entry (UID, line, link)
    warnings: list[str] = field(default_factory=list)
    #: links of entries that carry no event data, for the crawler to visit
    pages: list[str] = field(default_factory=list)
    #: False when the body was not of the reader's format at all
    recognised: bool = True
    #: entries that were present but could not be read (their stored versions stay)
    failed_entries: int = 0
    #: source uids of entries known unchanged since the previous read of the same
    #: body (incremental readers); their events are not repeated in ``events``
    unchanged: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Return True when the events are everything the body lists.

        Only then may entries missing from it be marked removed: a broken
        file must never make stored events disappear.
        """
        return self.recognised and self.failed_entries == 0


@dataclass(frozen=True)
class Window:
    """The time range recurring series are expanded into."""

    start: datetime
    end: datetime

    @classmethod
    def around(
        cls,
        now: datetime | None = None,
        before: timedelta = WINDOW_BEFORE,
        after: timedelta = WINDOW_AFTER,
    ) -> Window:
        """Return the default window: the start of ``now``'s UTC day - 7 days .. + 366 days."""
        # whole UTC days, so that a read later the same day expands the same
        # window (incremental reads key their results by the day)
        now = now or datetime.now(UTC)
        today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return cls(today - before, today + after + timedelta(days=1))
