"""The Event record: the one shape every parser produces and every consumer reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from techcal.errors import InvalidEvent

#: what kind of organisation runs an event (from the source, overridable per event)
KINDS = ("user-group", "lug", "college", "charity", "conference", "other")
#: how a source is read; "auto" decides from the response
SOURCE_TYPES = ("auto", "ics", "rss", "json", "html")
#: iCalendar VEVENT statuses, lower-cased
STATUSES = ("confirmed", "tentative", "cancelled")

#: the years an event may fall in: every zone can show these (the year 9999 in UTC is
#: the year 10000 east of it, which no datetime holds), and no tech event is outside
EARLIEST_YEAR = 1900
LATEST_YEAR = 2200

# Fields whose change is "significant" in RFC 5545 terms: calendar apps are
# told through SEQUENCE, and subscribers get a "moved"/"cancelled" message.
SCHEDULE_FIELDS = (
    "start",
    "end",
    "all_day",
    "status",
    "venue",
    "address",
    "city",
    "lat",
    "lon",
    "online",
    "online_url",
)


@dataclass(slots=True, kw_only=True)
class Event:
    """One occurrence of an event as one source announces it.

    ``start``/``end`` are timezone-aware; ``timezone`` keeps the original
    zone name (``Europe/Berlin``) so writers can reproduce it. A recurring
    series arrives as one Event per occurrence, each with its own
    ``source_uid`` (UID plus RECURRENCE-ID).
    """

    # identity
    source: str
    source_uid: str
    # what
    title: str
    description: str = ""
    url: str | None = None
    # when
    start: datetime
    end: datetime | None = None
    timezone: str | None = None
    all_day: bool = False
    status: str = "confirmed"
    # where
    venue: str | None = None
    address: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    lat: float | None = None
    lon: float | None = None
    online: bool = False
    online_url: str | None = None
    # about
    kind: str = "other"
    topics: tuple[str, ...] = ()
    categories: tuple[str, ...] = field(default=())
    organizer: str | None = None
    cost: str | None = None

    def problems(self) -> list[str]:
        """Return what is wrong with this record (empty when it can be stored)."""
        found = []
        if not self.source_uid:
            found.append("empty source_uid")
        if not self.title or not self.title.strip():
            found.append("empty title")
        if not isinstance(self.start, datetime) or self.start.utcoffset() is None:
            found.append("start must be a timezone-aware datetime")
        if self.end is not None:
            if not isinstance(self.end, datetime) or self.end.utcoffset() is None:
                found.append("end must be a timezone-aware datetime")
            elif isinstance(self.start, datetime) and self.start.utcoffset() is not None:
                if self.end < self.start:
                    found.append("end is before start")
        for name in ("start", "end"):
            moment = getattr(self, name)
            if isinstance(moment, datetime) and not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
                found.append(
                    f"{name} {moment.isoformat()} is outside the years "
                    f"{EARLIEST_YEAR}-{LATEST_YEAR}"
                )
        if self.status not in STATUSES:
            found.append(f"status {self.status!r} is not one of {', '.join(STATUSES)}")
        if self.kind not in KINDS:
            found.append(f"kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if (self.lat is None) != (self.lon is None):
            found.append("lat and lon must be given together")
        elif self.lat is not None and self.lon is not None:
            if not (-90 <= self.lat <= 90 and -180 <= self.lon <= 180):
                found.append(f"coordinates {self.lat},{self.lon} are out of range")
        return found

    def check(self) -> None:
        """Raise :class:`InvalidEvent` naming the first problem, if any."""
        found = self.problems()
        if found:
            raise InvalidEvent(self.source, self.source_uid, "; ".join(found))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (datetimes as ISO 8601 with offset)."""
        # not dataclasses.asdict: it deep-copies, and this runs once per
        # stored record on the ingest hot path
        data = {name: getattr(self, name) for name in _FIELD_ORDER}
        data["start"] = self.start.isoformat()
        if self.end is not None:
            data["end"] = self.end.isoformat()
        data["topics"] = list(self.topics)
        data["categories"] = list(self.categories)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        """Rebuild an Event from :meth:`to_dict` output."""
        values = {k: v for k, v in data.items() if k in _FIELD_NAMES}
        for key in ("start", "end"):
            if values.get(key) is not None:
                values[key] = datetime.fromisoformat(values[key])
        values["topics"] = tuple(values.get("topics") or ())
        values["categories"] = tuple(values.get("categories") or ())
        return cls(**values)


@dataclass(frozen=True, slots=True, kw_only=True)
class Listing:
    """One source's entry for a stored event: who lists it, and what that source said."""

    name: str
    kind: str
    source_url: str
    source_uid: str
    #: the title and start (ISO 8601) as this source gave them, before merging
    title: str | None = None
    start: str | None = None
    url: str | None = None
    first_seen: str | None = None
    last_seen: str | None = None
    removed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object of this entry (the ``sources`` items of search JSON)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "source_url": self.source_url,
            "source_uid": self.source_uid,
            "title": self.title,
            "start": self.start,
            "url": self.url,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "removed": self.removed,
        }


@dataclass(frozen=True, slots=True)
class Rhythm:
    """The series an event belongs to, as shown beside it (`show`, search JSON, the web page)."""

    #: the series' id (``techcal series``)
    id: int
    #: the part of the title its meetings share ("PLUG")
    title: str
    #: the rule in RFC 5545 RRULE form ("FREQ=MONTHLY;BYDAY=2SA")
    rule: str
    #: as people say it: "every 2nd Saturday, 19:00"
    text: str
    #: its first occurrence seen
    since: date
    #: the first date on its rule from today on
    next_expected: date | None
    sources: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "rule": self.rule,
            "text": self.text,
            "since": self.since.isoformat(),
            "next_expected": self.next_expected.isoformat() if self.next_expected else None,
            "sources": list(self.sources),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredEvent:
    """One real event as the store keeps it: what every read returns and every writer takes.

    The merged record of one or more sources' entries (``sources``), with its
    stable ``uid`` and ``sequence``. ``start``/``end`` are the ISO 8601 texts
    the store keeps (``start_at``/``end_at`` give them as datetimes);
    ``distance_km`` and ``score`` say how a search found it, when it did.
    """

    id: int
    uid: str
    sequence: int = 0
    title: str
    description: str = ""
    url: str | None = None
    start: str
    end: str | None = None
    start_utc: int
    end_utc: int | None = None
    timezone: str | None = None
    all_day: bool = False
    status: str = "confirmed"
    venue: str | None = None
    address: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    lat: float | None = None
    lon: float | None = None
    geo_precision: str | None = None
    online: bool = False
    online_url: str | None = None
    kind: str = "other"
    topics: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    organizer: str | None = None
    cost: str | None = None
    changed_at: str | None = None
    removed_at: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    #: every source entry that lists it, in the order they were first seen
    sources: tuple[Listing, ...] = ()
    #: how far from the searched place, when the search had one
    distance_km: float | None = None
    #: bm25 rank of a text search (lower is better)
    score: float | None = None
    #: the series it belongs to, when the read asked for it
    series: Rhythm | None = None

    @property
    def start_at(self) -> datetime:
        return datetime.fromisoformat(self.start)

    @property
    def end_at(self) -> datetime | None:
        return datetime.fromisoformat(self.end) if self.end else None

    def source_names(self) -> list[str]:
        """Return the names of the sources that list it now (else of all that did)."""
        listed = [s.name for s in self.sources if not s.removed]
        return list(dict.fromkeys(listed or [s.name for s in self.sources]))

    @classmethod
    def from_values(cls, values: Iterable[Any]) -> StoredEvent:
        """Return the event of ``values``, one for every field, in the order of the fields.

        The store's reads build thousands of these: setting the slots
        directly is about twice as fast as the keyword constructor.
        """
        event = object.__new__(cls)
        for setter, value in zip(_STORED_SETTERS, values, strict=True):
            setter(event, value)
        return event


_FIELD_ORDER = tuple(f.name for f in fields(Event))
_FIELD_NAMES = frozenset(_FIELD_ORDER)
#: the slots of StoredEvent's fields, in order (their setters ignore ``frozen``)
_STORED_SETTERS = tuple(getattr(StoredEvent, f.name).__set__ for f in fields(StoredEvent))


def zone_named(name: str | None) -> ZoneInfo | None:
    """Return the IANA zone called ``name``, or None when it is empty or unknown."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
