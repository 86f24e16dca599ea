"""What every reader takes and returns.

A reader is a pure function ``bytes + SourceDefaults -> ReadResult``: it
never touches the network or the database, and never raises on bad input;
what it could not use is reported in ``warnings``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from techcal.event import Event

#: default expansion window for recurring events, around "now"
WINDOW_BEFORE = timedelta(days=7)
WINDOW_AFTER = timedelta(days=365)
#: distinct warnings one read keeps; past them, warnings are only counted (a
#: hostile file can name a million bad entries, and nobody reads past a few)
MAX_WARNINGS = 100


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
    #: one line each: what was skipped or guessed, naming the entry (UID, line, link);
    #: distinct, at most MAX_WARNINGS of them when added with :meth:`warn`
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
    #: warnings left out of ``warnings`` once it held MAX_WARNINGS: the list stays
    #: small, this count says how many more there were (a repeat of a kept one, or
    #: of the one just left out, is not counted)
    more_warnings: int = 0
    _kept_set: set[str] = field(default_factory=set, init=False, repr=False, compare=False)
    _last_left_out: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        given = self.warnings
        self.warnings = []
        self.warn_all(given)

    def warn(self, message: str) -> None:
        """Keep ``message`` unless it repeats a kept one; once MAX_WARNINGS are kept, count it.

        >>> result = ReadResult(warnings=[f"w{n}" for n in range(MAX_WARNINGS)])
        >>> for message in ("w1", "x", "x", "y"):
        ...     result.warn(message)
        >>> len(result.warnings), result.more_warnings
        (100, 2)
        """
        kept = self._kept()
        if message in kept:
            return
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)
            kept.add(message)
        elif message != self._last_left_out:
            self.more_warnings += 1
            self._last_left_out = message

    def warn_all(self, messages: Iterable[str], more: int = 0) -> None:
        """Add each of ``messages`` as :meth:`warn` does, and ``more`` counted elsewhere."""
        for message in messages:
            self.warn(message)
        self.more_warnings += more

    def _kept(self) -> set[str]:
        # rebuilt from the list when it was given or added to directly, so a
        # warning is never kept twice whichever way it came in
        if len(self._kept_set) != len(self.warnings):
            self.warnings = list(dict.fromkeys(self.warnings))
            self._kept_set = set(self.warnings)
        return self._kept_set

    @property
    def complete(self) -> bool:
        """Return True when the events are everything the body lists.

        Only then may entries missing from it be marked removed: a broken
        file must never make stored events disappear.
        """
        return self.recognised and self.failed_entries == 0


def drop_unusable(result: ReadResult, repeated: str = "entries") -> None:
    """Leave out the events the store would refuse (each named) and repeats of a source uid.

    An event the store could not keep (a date outside the years it shows, an
    end before its start) is a warning and a failed entry; a repeat of an
    earlier source uid (feeds glued together repeat entries) is counted in
    one warning that calls them ``repeated``.
    """
    seen: set[str] = set()
    kept: list[Event] = []
    refused = 0
    for event in result.events:
        wrong = event.problems()
        if wrong:
            result.warn(f"{event.source_uid}: {'; '.join(wrong)}; skipped")
            result.failed_entries += 1
            refused += 1
        elif event.source_uid not in seen:
            seen.add(event.source_uid)
            kept.append(event)
    repeats = len(result.events) - len(kept) - refused
    if len(kept) != len(result.events):
        result.events = kept
    if repeats:
        result.warn(f"{repeats} {repeated} repeat earlier ones (same id); skipped")


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
