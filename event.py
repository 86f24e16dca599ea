"""The Event record: the one shape every parser produces and every consumer reads."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from techcal.errors import InvalidEvent

#: what kind of organisation runs an event (from the source, overridable per event)
KINDS = ("user-group", "lug", "college", "charity", "conference", "other")
#: how a source is read; "auto" decides from the response
SOURCE_TYPES = ("auto", "ics", "rss", "html")
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


_FIELD_ORDER = tuple(f.name for f in fields(Event))
_FIELD_NAMES = frozenset(_FIELD_ORDER)
