"""Parsed VEVENTs -> Events: series expanded into the window, each entry read on its own."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from icalendar.cal import Component
from recurring_ical_events import EventAdapter, Series

from techcal.event import Event
from techcal.feeds.base import ReadResult, SourceDefaults, Window
from techcal.feeds.ical_parse import Block
from techcal.feeds.ical_rules import bad_rule, recurs
from techcal.feeds.ical_values import (
    apple_geo,
    categories_of,
    drop_broken,
    made_up_uid,
    organizer_of,
    page_link,
    place_of,
    plain_description,
    prop_value,
    raw_text,
    reason,
    text_of,
)
from techcal.feeds.ical_zones import Zones, iana_name, zone_name
from techcal.feeds.text import plain_text

_STATUSES = {"CANCELLED": "cancelled", "CANCELED": "cancelled", "TENTATIVE": "tentative"}
UNTITLED = "(untitled)"
#: occurrences kept per series and window (a daily series for a year is 366)
MAX_OCCURRENCES = 1000


class CalendarReader:
    """Turns the VEVENTs of parsed calendars into Events on one ReadResult."""

    def __init__(self, defaults: SourceDefaults, window: Window, result: ReadResult) -> None:
        self.defaults = defaults
        self.window = window
        self.result = result
        self.seen_uids: set[str] = set()
        self.repeats = 0
        #: the VCALENDAR being read, until :meth:`finish`
        self.open = False
        #: a series' complaints, said once each however many occurrences make them
        self.series_warnings: dict[str, None] | None = None

    def read(self, block: Block, *, last: bool = True) -> None:
        """Add the events of one VCALENDAR (or of one batch of it, until ``last``) to the result."""
        if not self.open:
            self._begin(block.calendar)
        for uid, entries in self._series(block.events).items():
            masters = [event for event, _ in entries if "RECURRENCE-ID" not in event]
            if any(recurs(event) for event in masters):
                self._expand(uid, entries)
            else:
                for event, line in entries:
                    self._single(uid, event, line)
        if last:
            self.finish()

    def _begin(self, calendar: Component) -> None:
        """Take the calendar's settings: METHOD, and the zones its times are meant in."""
        self.open = True
        self.cancel_all = str(calendar.get("METHOD", "")).strip().upper() == "CANCEL"
        x_wr = self._zone_setting(calendar.get("X-WR-TIMEZONE"), "X-WR-TIMEZONE")
        configured = self._zone_setting(self.defaults.timezone, "source time zone")
        self.zoned = bool(configured or x_wr)
        self.floating_name = configured or x_wr or "UTC"
        self.floating = ZoneInfo(self.floating_name)
        self.zones = Zones(ZoneInfo(x_wr) if x_wr else None, self.floating)

    def finish(self) -> None:
        """Say what applies to the whole VCALENDAR just read."""
        if self.open and self.zones.saw_floating and not self.zoned:
            self.result.warn("floating times read as UTC: no source time zone and no X-WR-TIMEZONE")
        self.open = False

    def _zone_setting(self, value: object, what: str) -> str | None:
        """Return ``value`` as a usable IANA zone name, or None (with a warning when bad)."""
        if value is None or not str(value).strip():
            return None
        name = iana_name(str(value).strip().strip('"'))
        if name is None:
            self.result.warn(f"{what} {str(value)!r} is not a known time zone; ignored")
        return name

    def _series(
        self, events: list[tuple[Component, int | None]]
    ) -> dict[str, list[tuple[Component, int | None]]]:
        """Return the VEVENTs grouped by UID (a stable made-up one when UID is missing)."""
        groups: dict[str, list[tuple[Component, int | None]]] = {}
        for event, line in events:
            uid = str(event.get("UID", "")).strip() or made_up_uid(event)
            groups.setdefault(uid, []).append((event, line))
            ignored = drop_broken(event)
            if ignored:
                self._warn(uid, line, f"{'; '.join(ignored)}; ignored")
        return groups

    def _single(self, uid: str, event: Component, line: int | None) -> None:
        """Add one non-recurring VEVENT, or an override without its series, whatever its date."""
        label = uid
        try:
            if "RECURRENCE-ID" in event:
                uid = f"{uid}#{self._stamp(prop_value(event, 'RECURRENCE-ID'))}"
            self._add(self._event(event, uid, line, label), line)
        except Exception as error:  # noqa: BLE001 - one bad VEVENT costs only itself
            self._skip(uid, line, reason(error))

    def _expand(self, uid: str, entries: list[tuple[Component, int | None]]) -> None:
        """Add the occurrences of one recurring series that fall inside the window."""
        self.series_warnings = {}
        try:
            self._occurrences(uid, entries)
        finally:
            said, self.series_warnings = self.series_warnings, None
            self.result.warn_all(said)

    def _occurrences(self, uid: str, entries: list[tuple[Component, int | None]]) -> None:
        line = entries[0][1]
        bad = bad_rule(entries)
        if bad:
            self._skip(uid, line, bad, "series skipped")
            return
        try:
            series = Series([EventAdapter(self.zones.walk_event(event)) for event, _ in entries])
            occurrences = list(
                islice(series.between(self.window.start, self.window.end), MAX_OCCURRENCES + 1)
            )
        except Exception as error:  # noqa: BLE001 - a bad RRULE costs only its series
            self._skip(uid, line, f"recurrence unreadable ({reason(error)})", "series skipped")
            return
        if len(occurrences) > MAX_OCCURRENCES:
            occurrences = occurrences[:MAX_OCCURRENCES]
            self._warn(uid, line, f"more than {MAX_OCCURRENCES} occurrences; first kept")
        taken: set[str] = set()
        for occurrence in occurrences:
            try:
                component = occurrence.as_component(False)
                key = self._stamp(prop_value(component, "RECURRENCE-ID"))
                if key in taken:  # RANGE=THISANDFUTURE copies one RECURRENCE-ID forward
                    key = self._stamp(prop_value(component, "DTSTART"))
                taken.add(key)
                self._add(self._event(component, f"{uid}#{key}", line, uid), line)
            except Exception as error:  # noqa: BLE001 - one bad occurrence costs only itself
                self._skip(uid, line, f"occurrence unreadable ({reason(error)})")

    def _add(self, event: Event, line: int | None) -> None:
        problems = event.problems()
        if problems:
            self._skip(event.source_uid, line, "; ".join(problems))
            return
        if event.source_uid in self.seen_uids:
            # feeds that reuse one UID for different dates: tell them apart by start
            event.source_uid = f"{event.source_uid}#{self._stamp(event.start)}"
            if event.source_uid in self.seen_uids:
                self.repeats += 1  # counted, not listed: some files repeat whole calendars
                return
        self.seen_uids.add(event.source_uid)
        self.result.events.append(event)

    def _skip(self, uid: str | None, line: int | None, why: str, what: str = "skipped") -> None:
        """Report an entry that could not be used, and count it."""
        self.result.failed_entries += 1
        self._warn(uid, line, f"{why}; {what}")

    def _warn(self, uid: str | None, line: int | None, message: str) -> None:
        where = f" (line {line})" if line else ""
        if self.series_warnings is not None:
            self.series_warnings[f"VEVENT {uid}{where}: {message}"] = None
        else:
            self.result.warn(f"VEVENT {uid}{where}: {message}")

    def _event(self, event: Component, uid: str, line: int | None, label: str) -> Event:
        """Return the Event for one VEVENT or occurrence; raises on what cannot be used.

        ``label`` names the entry in warnings: the series UID, so that a complaint
        about a series is made once, not once per occurrence.
        """
        if "DTSTART" not in event:
            raise ValueError("DTSTART missing")
        start_value = prop_value(event, "DTSTART")
        all_day = not isinstance(start_value, datetime)
        start, zone_name = self._moment(start_value)
        end = self._end(event, start_value, start, label, line)
        title = plain_text(text_of(event, "SUMMARY"))
        if not title:
            title = UNTITLED
            self._warn(label, line, f"SUMMARY missing; titled {UNTITLED!r}")
        # links are looked for in the raw text: HTML descriptions keep them in href
        raw_description = text_of(event, "DESCRIPTION") or text_of(event, "X-ALT-DESC")
        location = text_of(event, "LOCATION")
        url = text_of(event, "URL").strip() or None
        venue, address, online, meeting = place_of(location, raw_description, url)
        lat, lon = self._geo(event, label, line)
        return Event(
            source=self.defaults.source,
            source_uid=uid,
            title=" ".join(title.split()),
            description=plain_description(raw_description),
            url=url or page_link(location, raw_description),
            start=start,
            end=end,
            timezone=zone_name,
            all_day=all_day,
            status=self._status(event),
            venue=venue,
            address=address,
            city=self.defaults.city,
            lat=lat,
            lon=lon,
            online=online,
            online_url=meeting,
            kind=self.defaults.kind,
            topics=tuple(self.defaults.topics),
            categories=categories_of(event),
            organizer=organizer_of(event),
        )

    def _end(
        self, event: Component, start_value: date, start: datetime, uid: str, line: int | None
    ) -> datetime | None:
        """Return the aware end: DTEND, else DTSTART + DURATION, else the RFC 5545 default."""
        if "DTEND" in event:
            end_value = prop_value(event, "DTEND")
        elif "DURATION" in event:
            end_value = start_value + prop_value(event, "DURATION")
        elif isinstance(start_value, datetime):
            return None  # a timed event without end or duration is an instant: end unknown
        else:
            end_value = start_value + timedelta(days=1)
        end, _ = self._moment(end_value)
        if not isinstance(start_value, datetime):
            if end <= start:  # DTEND = DTSTART on a date: a one-day event written loosely
                return start + timedelta(days=1)
        elif end == start:
            return None  # expanded occurrences always carry DTEND, even for instants
        if end < start:
            self._warn(uid, line, "DTEND before DTSTART; end ignored")
            return None
        return end

    def _moment(self, value: date) -> tuple[datetime, str | None]:
        """Return ``value`` as an aware datetime in its IANA zone, and that zone's name."""
        if not isinstance(value, datetime):
            # all-day dates mean the whole day where the calendar's readers are
            return datetime.combine(value, time(), tzinfo=self.floating), self.floating_name
        value = self.zones.walk_value_datetime(value)
        name = zone_name(value.tzinfo)
        if name is None:
            return value, None  # a VTIMEZONE of its own: offsets right, no IANA name
        return value.astimezone(ZoneInfo(name)), name

    def _stamp(self, value: date) -> str:
        """Return the occurrence key of a start: UTC ``YYYYMMDDTHHMMSSZ``, or ``YYYYMMDD``."""
        if not isinstance(value, datetime):
            return value.strftime("%Y%m%d")
        moment = self.zones.walk_value_datetime(value)
        return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    def _status(self, event: Component) -> str:
        if self.cancel_all:
            return "cancelled"
        return _STATUSES.get(text_of(event, "STATUS").strip().upper(), "confirmed")

    def _geo(
        self, event: Component, uid: str, line: int | None
    ) -> tuple[float | None, float | None]:
        """Return (lat, lon) from GEO when it is a real point on Earth."""
        geo = event.get("GEO")
        if geo is None:
            return apple_geo(event)
        try:
            lat, lon = float(geo.latitude), float(geo.longitude)
        except Exception:  # noqa: BLE001 - icalendar keeps unreadable GEO as vBroken
            self._warn(uid, line, f"bad GEO {raw_text(geo)!r}; ignored")
            return None, None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            self._warn(uid, line, f"GEO {lat},{lon} out of range; ignored")
            return None, None
        if lat == 0 and lon == 0:
            return None, None  # "no place" written as coordinates (online events)
        return lat, lon
