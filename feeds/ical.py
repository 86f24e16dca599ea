"""Reading iCalendar (.ics) files into Event records.

``read_ical`` is a pure reader (see :mod:`techcal.feeds.base`): bytes in,
events and one-line warnings out. icalendar parses, x-wr-timezone decides how
UTC and floating times are meant, recurring-ical-events expands series into
the window. Every VEVENT is converted on its own so one bad entry costs only
itself. The work is bounded whatever the file: components nested too deep
are cut before the parse (:mod:`techcal.feeds.ical_lines`), and a big
calendar is parsed a few UID groups at a time (:mod:`techcal.feeds.ical_batches`).
"""

from __future__ import annotations

import codecs
import functools
import hashlib
import re
import warnings as pywarnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import x_wr_timezone
from icalendar.cal import Component
from icalendar.prop import vBroken
from icalendar.timezone.tzid import tzid_from_tzinfo
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
from recurring_ical_events import EventAdapter, Series

from techcal.event import Event
from techcal.feeds.base import ReadResult, SourceDefaults, Window
from techcal.feeds.ical_batches import Refused, batch_texts, needs_batches
from techcal.feeds.ical_layout import Layout, outline
from techcal.feeds.ical_lines import MAX_DEPTH, prune
from techcal.feeds.place import find_urls, online_url, says_online, split_location
from techcal.feeds.text import plain_text

_CHARSET = re.compile(rb"CHARSET=\"?([A-Za-z0-9_.:-]+)", re.I)
_VCALENDAR = re.compile(r"BEGIN:VCALENDAR|BEGIN:VEVENT", re.I)
_BEGIN_VEVENT = re.compile(r"^[ \t]*BEGIN:VEVENT[ \t]*\r?$", re.I | re.M)
_BLOCK_LINE = re.compile(r"^(BEGIN|END):([A-Za-z-]+)\s*$", re.I)
# a content line starts with a name followed by ";" or ":"; anything else in a
# calendar header (stray text, half-written lines) would sink the whole parse
_CONTENT_LINE = re.compile(r"^(?:[A-Za-z0-9-]+[;:]|[ \t])")
# links that are the event's own page, preferred over other links in a DESCRIPTION
_EVENT_PAGE = re.compile(
    r"meetup\.com/[^/]+/events/|//lu\.ma/|//luma\.com/|eventbrite\.|/events?/", re.I
)
_UTC_NAMES = frozenset(
    {"UTC", "Z", "GMT", "Etc/UTC", "Etc/GMT", "Etc/UCT", "UCT", "Etc/Zulu", "Zulu", "Universal"}
)
# properties whose unreadable values are dropped so the rest of the VEVENT still counts
_OPTIONAL = frozenset(
    {"DTEND", "DURATION", "EXDATE", "RDATE", "SUMMARY", "DESCRIPTION", "LOCATION", "URL"}
    | {"CATEGORIES", "ORGANIZER", "STATUS", "X-ALT-DESC"}
)
# LOCATIONs that name a meeting service rather than a place (Outlook, Google, Apple)
_MEETING_ONLY = re.compile(
    r"^\s*(microsoft teams( meeting)?|teams meeting|zoom( meeting)?|google meet|webex"
    r"( meeting)?|jitsi( meet)?|skype( meeting)?|discord|online( event| meeting)?)\s*$",
    re.I,
)
# Meetup writes "Venue (street, city)"
_NAME_AND_ADDRESS = re.compile(r"^(?P<venue>[^()]+?)\s*\((?P<address>[^()]*\d[^()]*)\)$")
_STATUSES = {"CANCELLED": "cancelled", "CANCELED": "cancelled", "TENTATIVE": "tentative"}
UNTITLED = "(untitled)"
#: the file's number of a line of the text being parsed
Lines = Callable[[int], int]
#: occurrences kept per series and window (a daily series for a year is 366)
MAX_OCCURRENCES = 1000
_SUB_DAILY = frozenset({"SECONDLY", "MINUTELY", "HOURLY"})
_MONTH_DAYS = {2: 29, 4: 30, 6: 30, 9: 30, 11: 30}
# RFC 5545 3.3.10 value ranges (absolute values; negative ones count from the end)
_RULE_RANGES = {
    "BYMONTH": (1, 12),
    "BYMONTHDAY": (1, 31),
    "BYYEARDAY": (1, 366),
    "BYWEEKNO": (1, 53),
    "BYHOUR": (0, 23),
    "BYMINUTE": (0, 59),
    "BYSECOND": (0, 60),
    "BYSETPOS": (1, 366),
}
_BROKEN = re.compile(r"on broken property '([A-Za-z0-9-]+)' \(expected '[^']*'\): (.*)", re.S)
_APPLE_PLACE = "X-APPLE-STRUCTURED-LOCATION"


def read_ical(data: bytes, defaults: SourceDefaults, *, window: Window | None = None) -> ReadResult:
    """Return the events of an iCalendar file, recurring series expanded into ``window``.

    Never raises on bad input: what could not be used is named in ``warnings``.
    """
    result = ReadResult()
    try:
        _read(data, defaults, window or Window.around(), result)
    except Exception as error:  # noqa: BLE001 - a reader must never sink the crawl
        result.warn(f"iCalendar reader failed: {type(error).__name__}: {error}")
        result.failed_entries += 1  # what was lost is unknown: never treat this read as whole
    return result


def _read(data: bytes, defaults: SourceDefaults, window: Window, result: ReadResult) -> None:
    decode_warnings: list[str] = []
    text = _decode(data, decode_warnings)
    result.warn_all(decode_warnings)
    if not text.strip():
        result.recognised = False
        result.warn("empty file: no iCalendar data")
        return
    if not _VCALENDAR.search(text):
        start = " ".join(text.strip()[:40].split())
        result.recognised = False
        result.warn(f"not an iCalendar file: no BEGIN:VCALENDAR (starts {start!r})")
        return
    pruned = prune(text)
    if pruned.components:
        result.warn(
            f"{pruned.components} components nested more than {MAX_DEPTH} deep"
            f" (line {pruned.line} on); skipped"
        )
        result.failed_entries += pruned.vevents
    text, lines = pruned.text, pruned.lines
    reader = _CalendarReader(defaults, window, result)
    layout = outline(text) if needs_batches(text) else None
    if layout is None:
        blocks = _parse(text, result, lines)
        for block in blocks:
            reader.read(block)
        found = any(block.events for block in blocks)
    else:
        found = _read_in_batches(layout, lines or _same_line, reader, result)
    if not found and not result.warnings:
        result.warn("calendar has no VEVENT entries")
    if reader.repeats:
        result.warn(f"{reader.repeats} entries repeat earlier ones; skipped")


def _read_in_batches(
    layout: Layout, lines: Lines, reader: _CalendarReader, result: ReadResult
) -> bool:
    """Read one big calendar a few UID groups at a time; return True when it had VEVENTs.

    Its components never all exist at once.
    """
    found = False
    refused: list[Refused] = []
    for batch, batch_lines in batch_texts(layout, refused):
        for block in _parse(batch, result, _then(batch_lines, lines)):
            reader.read(block, last=False)
            found = found or bool(block.events)
    reader.finish()
    for entry in refused:
        line = lines(layout.text.count("\n", 0, entry.start) + 1)
        name = "VEVENT" if entry.key.startswith("\0") else f"VEVENT {entry.key}"
        what = f"a series of {entry.entries} entries" if entry.entries > 1 else "an entry"
        result.warn(
            f"{name} (line {line}): {what} in {entry.lines} lines, past any real one; skipped"
        )
        result.failed_entries += entry.entries
    return found or bool(refused)


def _decode(data: bytes, warnings: list[str]) -> str:
    """Return ``data`` as text: BOMs honoured, UTF-8 first, then a declared CHARSET, then cp1252."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    # UTF-16 without a BOM still starts "BEGIN" with a NUL in every other byte
    if data[:4] == b"B\x00E\x00":
        return data.decode("utf-16-le", errors="replace")
    if data[:4] == b"\x00B\x00E":
        return data.decode("utf-16-be", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = _CHARSET.search(data)
    if declared:
        charset = declared.group(1).decode("ascii")
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            warnings.append(f"declared CHARSET={charset} does not decode the file")
    warnings.append("file is not UTF-8 and declares no usable charset; read as Windows-1252")
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; Latin-1 maps every byte
        return data.decode("latin-1")


@dataclass
class _Block:
    """One VCALENDAR: its own properties and its VEVENTs with their line numbers."""

    calendar: Component
    events: list[tuple[Component, int | None]] = field(default_factory=list)


def _then(first: Lines, second: Lines) -> Lines:
    return lambda line: second(first(line))


def _parse(text: str, result: ReadResult, lines: Lines | None = None) -> list[_Block]:
    """Return the calendars in ``text``, parsed whole, or piece by piece when that fails.

    ``lines`` gives the file's number of a line of ``text`` when it is not the whole file.
    """
    in_file = lines or _same_line
    try:
        with pywarnings.catch_warnings():
            pywarnings.simplefilter("ignore")
            components = icalendar.Calendar.from_ical(text, multiple=True)
    except Exception:  # noqa: BLE001 - icalendar raises many kinds; recover below
        return _parse_pieces(text, result, in_file)
    begins = list(_vevent_lines(text))
    found = sum(1 for component in components for _ in component.walk("VEVENT"))
    if found < len(begins):
        # icalendar drops what it cannot close (a file cut short, no END:VCALENDAR)
        return _parse_pieces(text, result, in_file)
    numbers = (in_file(line) for line in begins)
    blocks: list[_Block] = []
    loose: _Block | None = None  # VEVENTs written without a VCALENDAR around them
    for component in components:
        if component.name == "VCALENDAR":
            block = _Block(component)
            blocks.append(block)
        else:
            if loose is None:
                loose = _Block(icalendar.Calendar())
                blocks.append(loose)
            block = loose
        block.events.extend((event, next(numbers, None)) for event in component.walk("VEVENT"))
    return blocks


def _vevent_lines(text: str) -> Iterator[int]:
    """Yield the line number of every BEGIN:VEVENT, in order."""
    line, position = 1, 0
    for match in _BEGIN_VEVENT.finditer(text):
        line += text.count("\n", position, match.start())
        position = match.start()
        yield line


@dataclass
class _Pieces:
    """The raw lines of one VCALENDAR, split so each part can be parsed alone."""

    header: list[str] = field(default_factory=list)
    timezones: list[tuple[int, list[str]]] = field(default_factory=list)
    events: list[tuple[int, list[str]]] = field(default_factory=list)


def _split(text: str) -> list[_Pieces]:
    """Return each VCALENDAR's header lines, VTIMEZONE and VEVENT blocks (with first line)."""
    calendars: list[_Pieces] = []
    current: _Pieces | None = None
    block: list[str] | None = None  # the VEVENT/VTIMEZONE being collected
    block_name = ""
    other_depth = 0  # inside a component we do not read (VTODO, VJOURNAL, ...)
    for number, line in enumerate(text.splitlines(), start=1):
        marker = _BLOCK_LINE.match(line.strip())
        kind, name = (marker.group(1).upper(), marker.group(2).upper()) if marker else ("", "")
        if block is not None:
            block.append(line)
            if kind == "END" and name == block_name:
                block = None
            continue
        if name == "VCALENDAR":
            current = _Pieces() if kind == "BEGIN" else None
            if current is not None:
                calendars.append(current)
            continue
        if current is None:
            current = _Pieces()
            calendars.append(current)
        if kind == "BEGIN" and name in ("VEVENT", "VTIMEZONE") and other_depth == 0:
            block, block_name = [line], name
            target = current.events if name == "VEVENT" else current.timezones
            target.append((number, block))
        elif kind:
            other_depth = max(0, other_depth + (1 if kind == "BEGIN" else -1))
        elif other_depth == 0 and _CONTENT_LINE.match(line):
            current.header.append(line)
    if block is not None:  # a file cut short: close the last block, keep what it has
        block.append(f"END:{block_name}")
    return calendars


def _same_line(line: int) -> int:
    return line


def _parse_pieces(text: str, result: ReadResult, in_file: Lines = _same_line) -> list[_Block]:
    """Return the calendars of a file icalendar refused whole, parsing each VEVENT alone."""
    blocks = []
    for pieces in _split(text):
        pieces.timezones = [(in_file(line), lines) for line, lines in pieces.timezones]
        pieces.events = [(in_file(line), lines) for line, lines in pieces.events]
        header = _try_calendar(pieces.header)
        if header is None:
            result.warn("calendar properties unreadable; ignored")
            header = _try_calendar([]) or icalendar.Calendar()
            pieces.header = []
        zones: list[str] = []
        for line, lines in pieces.timezones:
            if _try_calendar(pieces.header + lines) is None:
                result.warn(f"VTIMEZONE (line {line}): unreadable; skipped")
            else:
                zones += lines
        block = _Block(header)
        for line, lines in pieces.events:
            parsed = _try_calendar(pieces.header + zones + lines, result, line, lines)
            if parsed is None:
                result.failed_entries += 1
            else:
                block.events.extend((event, line) for event in parsed.walk("VEVENT"))
        blocks.append(block)
    return blocks


def _try_calendar(
    lines: list[str],
    result: ReadResult | None = None,
    line: int | None = None,
    event_lines: list[str] | None = None,
) -> Component | None:
    """Return ``lines`` parsed as one VCALENDAR, or None (with a warning when asked)."""
    wrapped = "\r\n".join(["BEGIN:VCALENDAR", *lines, "END:VCALENDAR", ""])
    try:
        with pywarnings.catch_warnings():
            pywarnings.simplefilter("ignore")
            return icalendar.Calendar.from_ical(wrapped)
    except Exception as error:  # noqa: BLE001 - any failure means "this piece is bad"
        if result is not None:
            uid = _raw_property(event_lines or [], "UID")
            name = f"VEVENT {uid}" if uid else "VEVENT"
            result.warn(f"{name} (line {line}): unreadable ({_short(error)}); skipped")
        return None


def _raw_property(lines: list[str], name: str) -> str | None:
    """Return the value of property ``name`` in unparsed ``lines`` (for naming bad entries)."""
    prefix = name.upper()
    for line in lines:
        head, _, value = line.partition(":")
        if head.split(";")[0].strip().upper() == prefix:
            return value.strip() or None
    return None


def _short(error: Exception) -> str:
    """Return a one-line, bounded description of ``error``."""
    message = " ".join(str(error).split()) or type(error).__name__
    return message if len(message) <= 120 else message[:117] + "..."


class _Zones(x_wr_timezone.UTCChangingWalker):
    """Gives times their meaning: floating ones get the floating zone, UTC ones the X-WR zone.

    x-wr-timezone's own walker uses one zone for both; the source's configured
    zone must win for floating times while Google's X-WR-TIMEZONE still
    decides how UTC times (and the DST of their RRULEs) are meant.
    """

    def __init__(self, utc_zone: tzinfo | None, floating_zone: tzinfo) -> None:
        super().__init__(floating_zone)
        self.utc_zone = utc_zone
        self.saw_floating = False

    def walk_value_datetime(self, dt: datetime) -> datetime:
        # not is_Floating(): it tests tzname(), which is None for Outlook's
        # VTIMEZONEs (they have no TZNAME), and would move them to another zone
        if dt.tzinfo is None:
            self.saw_floating = True
            return dt.replace(tzinfo=self.new_timezone)
        if self.utc_zone is not None and self.is_UTC(dt):
            return dt.astimezone(self.utc_zone)
        return dt


class _CalendarReader:
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

    def read(self, block: _Block, *, last: bool = True) -> None:
        """Add the events of one VCALENDAR (or of one batch of it, until ``last``) to the result."""
        if not self.open:
            self._begin(block.calendar)
        for uid, entries in self._series(block.events).items():
            masters = [event for event, _ in entries if "RECURRENCE-ID" not in event]
            if any(_recurs(event) for event in masters):
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
        self.zones = _Zones(ZoneInfo(x_wr) if x_wr else None, self.floating)

    def finish(self) -> None:
        """Say what applies to the whole VCALENDAR just read."""
        if self.open and self.zones.saw_floating and not self.zoned:
            self.result.warn("floating times read as UTC: no source time zone and no X-WR-TIMEZONE")
        self.open = False

    def _zone_setting(self, value: object, what: str) -> str | None:
        """Return ``value`` as a usable IANA zone name, or None (with a warning when bad)."""
        if value is None or not str(value).strip():
            return None
        name = _iana_name(str(value).strip().strip('"'))
        if name is None:
            self.result.warn(f"{what} {str(value)!r} is not a known time zone; ignored")
        return name

    def _series(
        self, events: list[tuple[Component, int | None]]
    ) -> dict[str, list[tuple[Component, int | None]]]:
        """Return the VEVENTs grouped by UID (a stable made-up one when UID is missing)."""
        groups: dict[str, list[tuple[Component, int | None]]] = {}
        for event, line in events:
            uid = str(event.get("UID", "")).strip() or _made_up_uid(event)
            groups.setdefault(uid, []).append((event, line))
            ignored = _drop_broken(event)
            if ignored:
                self._warn(uid, line, f"{'; '.join(ignored)}; ignored")
        return groups

    def _single(self, uid: str, event: Component, line: int | None) -> None:
        """Add one non-recurring VEVENT, or an override without its series, whatever its date."""
        label = uid
        try:
            if "RECURRENCE-ID" in event:
                uid = f"{uid}#{self._stamp(_dt(event, 'RECURRENCE-ID'))}"
            self._add(self._event(event, uid, line, label), line)
        except Exception as error:  # noqa: BLE001 - one bad VEVENT costs only itself
            self._skip(uid, line, _reason(error))

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
        bad = _bad_rule(entries)
        if bad:
            self._skip(uid, line, bad, "series skipped")
            return
        try:
            series = Series([EventAdapter(self.zones.walk_event(event)) for event, _ in entries])
            occurrences = list(
                islice(series.between(self.window.start, self.window.end), MAX_OCCURRENCES + 1)
            )
        except Exception as error:  # noqa: BLE001 - a bad RRULE costs only its series
            self._skip(uid, line, f"recurrence unreadable ({_reason(error)})", "series skipped")
            return
        if len(occurrences) > MAX_OCCURRENCES:
            occurrences = occurrences[:MAX_OCCURRENCES]
            self._warn(uid, line, f"more than {MAX_OCCURRENCES} occurrences; first kept")
        taken: set[str] = set()
        for occurrence in occurrences:
            try:
                component = occurrence.as_component(False)
                key = self._stamp(_dt(component, "RECURRENCE-ID"))
                if key in taken:  # RANGE=THISANDFUTURE copies one RECURRENCE-ID forward
                    key = self._stamp(_dt(component, "DTSTART"))
                taken.add(key)
                self._add(self._event(component, f"{uid}#{key}", line, uid), line)
            except Exception as error:  # noqa: BLE001 - one bad occurrence costs only itself
                self._skip(uid, line, f"occurrence unreadable ({_reason(error)})")

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
        start_value = _dt(event, "DTSTART")
        all_day = not isinstance(start_value, datetime)
        start, zone_name = self._moment(start_value)
        end = self._end(event, start_value, start, label, line)
        title = plain_text(_text(event, "SUMMARY"))
        if not title:
            title = UNTITLED
            self._warn(label, line, f"SUMMARY missing; titled {UNTITLED!r}")
        # links are looked for in the raw text: HTML descriptions keep them in href
        raw_description = _text(event, "DESCRIPTION") or _text(event, "X-ALT-DESC")
        location = _text(event, "LOCATION")
        url = _text(event, "URL").strip() or None
        venue, address, online, meeting = _place(location, raw_description, url)
        lat, lon = self._geo(event, label, line)
        return Event(
            source=self.defaults.source,
            source_uid=uid,
            title=" ".join(title.split()),
            description=_plain(raw_description),
            url=url or _page_link(location, raw_description),
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
            categories=_categories(event),
            organizer=_organizer(event),
        )

    def _end(
        self, event: Component, start_value: date, start: datetime, uid: str, line: int | None
    ) -> datetime | None:
        """Return the aware end: DTEND, else DTSTART + DURATION, else the RFC 5545 default."""
        if "DTEND" in event:
            end_value = _dt(event, "DTEND")
        elif "DURATION" in event:
            end_value = start_value + _dt(event, "DURATION")
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
        name = _zone_name(value.tzinfo)
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
        return _STATUSES.get(_text(event, "STATUS").strip().upper(), "confirmed")

    def _geo(
        self, event: Component, uid: str, line: int | None
    ) -> tuple[float | None, float | None]:
        """Return (lat, lon) from GEO when it is a real point on Earth."""
        geo = event.get("GEO")
        if geo is None:
            return _apple_geo(event)
        try:
            lat, lon = float(geo.latitude), float(geo.longitude)
        except Exception:  # noqa: BLE001 - icalendar keeps unreadable GEO as vBroken
            self._warn(uid, line, f"bad GEO {_raw(geo)!r}; ignored")
            return None, None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            self._warn(uid, line, f"GEO {lat},{lon} out of range; ignored")
            return None, None
        if lat == 0 and lon == 0:
            return None, None  # "no place" written as coordinates (online events)
        return lat, lon


@functools.lru_cache(maxsize=512)
def _iana_name(name: str) -> str | None:
    """Return the IANA zone for a TZID as calendars write it (Windows and vendor ids too).

    >>> _iana_name("W. Europe Standard Time"), _iana_name("/mozilla.org/20050126_1/Asia/Tokyo")
    ('Europe/Berlin', 'Asia/Tokyo')
    """
    # not icalendar's tzp.timezone(): it caches each file's VTIMEZONEs under their
    # TZID, so after one Outlook file "Pacific Standard Time" no longer has a key
    name = name.strip().strip('"')
    parts = name.strip("/").split("/")
    # "/vendor/version/Region/City" (Evolution, Lightning): the longest real zone wins
    candidates = [name, WINDOWS_TO_OLSON.get(name, "")]
    candidates += ["/".join(parts[i:]) for i in range(len(parts))]
    for candidate in candidates:
        if candidate in _UTC_NAMES:
            return "UTC"
        if not candidate or candidate.startswith(("/", ".")) or ".." in candidate:
            continue
        try:
            ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            continue
        return "UTC" if candidate in _UTC_NAMES else candidate
    return None


def _zone_name(zone: tzinfo | None) -> str | None:
    """Return the IANA name of a parsed time zone, or None for zones that have none."""
    key = getattr(zone, "key", None)
    if key:
        return "UTC" if key in _UTC_NAMES else key
    tzid = tzid_from_tzinfo(zone) if zone is not None else None
    if tzid is None and zone is not None and zone.utcoffset(None) == timedelta(0):
        return "UTC"  # datetime.timezone.utc and friends
    return _iana_name(tzid.strip('"')) if tzid else None


def _plain(text: str) -> str:
    """Return plain text, also for HTML escaped twice (Trumba writes ``&lt;br /&gt;``)."""
    once = plain_text(text)
    return plain_text(once) if "<" in once and once != text else once


def _apple_geo(event: Component) -> tuple[float | None, float | None]:
    """Return (lat, lon) from Apple's X-APPLE-STRUCTURED-LOCATION ``geo:`` URI, if any."""
    found = re.search(r"geo:(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)", _text(event, _APPLE_PLACE))
    if not found:
        return None, None
    lat, lon = float(found.group(1)), float(found.group(2))
    return (lat, lon) if -90 <= lat <= 90 and -180 <= lon <= 180 else (None, None)


def _bad_rule(entries: list[tuple[Component, int | None]]) -> str | None:
    """Return why a series must not be expanded, or None.

    dateutil walks a rule from its DTSTART until it has what was asked for:
    a rule that repeats every second since 1970, or one that can never match
    (INTERVAL=0, BYMONTH=13, a BYSETPOS with nothing to select from) walks
    for minutes, up to the year 9999. No real event series needs either.
    """
    for event, _ in entries:
        rules = event.get("RRULE")
        for rule in rules if isinstance(rules, list) else [rules]:
            if not rule or not hasattr(rule, "get"):
                continue
            for freq in rule.get("FREQ", []):
                if str(freq).upper() in _SUB_DAILY:
                    return f"repeats {str(freq).lower()}"
            for interval in rule.get("INTERVAL", []):
                if not isinstance(interval, int) or interval < 1:
                    return f"INTERVAL={interval} in RRULE"
            for part, (low, high) in _RULE_RANGES.items():
                for value in rule.get(part, []):
                    if isinstance(value, int) and not (low <= abs(value) <= high):
                        return f"{part}={value} in RRULE"
            positions = [abs(p) for p in rule.get("BYSETPOS", []) if isinstance(p, int)]
            if positions and min(positions) > _set_size_bound(rule):
                return "BYSETPOS beyond what each period can hold"
            months, days = rule.get("BYMONTH", []), rule.get("BYMONTHDAY", [])
            if (
                months
                and days
                and not any(
                    abs(day) <= _MONTH_DAYS.get(month, 31) for month in months for day in days
                )
            ):
                return "RRULE can never match (no such day in those months)"
    return None


def _set_size_bound(rule: Any) -> int:
    """Return an upper bound on the occurrences one period of ``rule`` holds (for BYSETPOS)."""
    freq = str((rule.get("FREQ") or ["YEARLY"])[0]).upper()
    days = {"DAILY": 1, "WEEKLY": 7, "MONTHLY": 31}.get(freq, 366)
    weekdays = len(rule.get("BYDAY", []))
    if weekdays:
        days = min(days, weekdays * {"DAILY": 1, "WEEKLY": 1, "MONTHLY": 5}.get(freq, 53))
    if rule.get("BYMONTHDAY"):
        months = 1 if freq in ("DAILY", "WEEKLY", "MONTHLY") else 12
        days = min(days, len(rule["BYMONTHDAY"]) * months)
    times = 1
    for part in ("BYHOUR", "BYMINUTE", "BYSECOND"):
        times *= max(1, len(rule.get(part, [])))
    return days * times


def _recurs(event: Component) -> bool:
    """Return True when a VEVENT repeats (an empty ``RRULE:`` line does not count)."""
    return bool(event.get("RRULE")) or "RDATE" in event


def _drop_broken(event: Component) -> list[str]:
    """Remove unreadable optional values from ``event``; return what was dropped, as phrases."""
    dropped = []
    for name, problem in getattr(event, "errors", ()):
        if name is None:
            dropped.append(f"unreadable line ({_short(Exception(problem))})")
        elif name in _OPTIONAL and name in event:
            value = event[name]
            kept = (
                [v for v in value if not isinstance(v, vBroken)] if isinstance(value, list) else []
            )
            del event[name]
            for item in kept:
                event.add(name, item)
            dropped.append(f"bad {name} ({_short(Exception(problem))})")
    return dropped[:1] + ([f"{len(dropped) - 1} more"] if len(dropped) > 1 else [])


def _made_up_uid(event: Component) -> str:
    """Return a UID for a VEVENT without one, the same on every read of the same entry."""
    start = event.get("DTSTART")
    raw = start.to_ical().decode() if hasattr(start, "to_ical") else ""
    digest = hashlib.sha1(f"{raw}|{_text(event, 'SUMMARY')}".encode()).hexdigest()
    return f"{digest[:20]}@techcal.invalid"


def _dt(event: Component, name: str) -> Any:
    """Return the date, datetime or duration of a property (raises when absent or unreadable)."""
    prop: Any = event[name]
    return prop.dt


def _text(event: Component, name: str) -> str:
    """Return a text property as str ('' when absent; the first when repeated)."""
    value = event.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return "" if value is None else str(value)


def _raw(value: object) -> str:
    """Return a property's value as written in the file."""
    raw = getattr(value, "to_ical", lambda: value)()
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _reason(error: Exception) -> str:
    """Return why a VEVENT failed, in the words a source owner would understand."""
    if isinstance(error, KeyError):
        return f"{error.args[0]} missing"
    broken = _BROKEN.search(str(error))
    if broken:  # icalendar's wording names its own types; say which property and why
        return f"bad {broken.group(1)} ({_short(Exception(broken.group(2)))})"
    if isinstance(error, ValueError | icalendar.error.InvalidCalendar):
        return _short(error)
    return f"{type(error).__name__}: {_short(error)}"


def _place(
    location: str, description: str, url: str | None
) -> tuple[str | None, str | None, bool, str | None]:
    """Return (venue, address, online, online_url) from LOCATION, DESCRIPTION and URL."""
    physical = location
    for link in find_urls(location):
        physical = physical.replace(link, " ")
    physical = physical.strip(" ,;-|\n")
    if says_online(physical) or _MEETING_ONLY.match(physical):
        physical = ""
    named = _NAME_AND_ADDRESS.match(physical)
    if named:
        venue, address = named.group("venue"), named.group("address")
    else:
        venue, address = split_location(physical)
    meeting = online_url(location) or online_url(description) or online_url(url)
    # a meeting link in the description of an event with a room is a stream, not the venue
    online = (
        says_online(location)
        or bool(_MEETING_ONLY.match(location))
        or (meeting is not None and venue is None and address is None)
    )
    return venue, address, online, (meeting if online else None)


def _page_link(location: str, description: str) -> str | None:
    """Return the event's own page when a platform wrote it into LOCATION or DESCRIPTION."""
    for text in (location, description):
        links = [link for link in find_urls(text) if online_url(link) is None]
        pages = [link for link in links if _EVENT_PAGE.search(link)]
        if pages or links:
            return (pages or links)[0]
    return None


def _categories(event: Component) -> tuple[str, ...]:
    """Return every CATEGORIES value, in order, once each."""
    values = event.get("CATEGORIES")
    found: dict[str, None] = {}
    for prop in values if isinstance(values, list) else [values] if values is not None else []:
        for value in getattr(prop, "cats", ()):
            text = str(value).strip()
            if text:
                found.setdefault(text, None)
    return tuple(found)


def _organizer(event: Component) -> str | None:
    """Return the organizer's name (CN) or, failing that, the address without ``mailto:``."""
    value = event.get("ORGANIZER")
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return None
    name = str(getattr(value, "params", {}).get("CN", "")).strip().strip('"')
    if name:
        return name
    address = re.sub(r"^mailto:", "", str(value).strip(), flags=re.I)
    return address or None
