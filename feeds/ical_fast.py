"""The fast path: plain VEVENTs read with str operations, the rest left to icalendar.

icalendar's parse (content lines, Parameters, case-less dicts, a property
factory per line) is most of what reading a calendar costs. Most VEVENTs of
real exports (Meetup, Google, WordPress) are plain: one DTSTART and DTEND,
a few text properties, a GEO. This module reads such a VEVENT from its text
into a :class:`FastEvent`: a dict holding the values icalendar would hold for
the properties :class:`~techcal.feeds.ical_reader.CalendarReader` reads. The
reader then turns it into an Event with the same code as a parsed VEVENT, so
the two paths cannot drift apart: only "text -> values" differs.

How a calendar is read (:func:`fast_blocks`):

1. Its layout (:func:`~techcal.feeds.ical_layout.outline`) gives the VEVENT
   blocks grouped by UID. Every block of a group without RRULE/RDATE is tried
   with :func:`read_block`; a group is fast only when all its blocks are.
2. Everything else (calendar properties, VTIMEZONEs, other components and the
   slow groups) is spliced into one text, with the file's line numbers, and
   parsed as before (:func:`~techcal.feeds.ical_parse.parse_calendars`), so
   that the calendar, its zones and whatever fails are exactly as before.
3. The slow VEVENTs and the fast ones are merged back in file order into one
   :class:`~techcal.feeds.ical_parse.Block`: the reader sees the same VEVENTs,
   in the same order, with the same line numbers as from a whole parse.

Anything the fast path is not sure of is declined, and goes through
icalendar. :func:`read_block` declines a VEVENT with:

- a first line other than ``BEGIN:VEVENT`` or a last one other than
  ``END:VEVENT``, a nested component, a NUL, a CR that ends no line,
  a fold continuing past its end;
- a content line that is not ``NAME(;PARAM=value)*:value`` with simple
  parameters (quoted values without ``"``, ``\\`` or ``^``; unquoted ones
  without ``,;:="\\^`` or spaces other than inside), or a parameter given twice;
- RRULE, RDATE, EXDATE, EXRULE, RECURRENCE-ID (series stay with
  recurring-ical-events), no UID, or a UID the reader would replace;
- DTSTART/DTEND other than ``YYYYMMDD``, ``YYYYMMDDTHHMMSS`` (floating or
  with a TZID) or ``YYYYMMDDTHHMMSSZ``; a TZID that is not an IANA name the
  zone provider knows as written (Windows names and custom VTIMEZONEs depend
  on what icalendar cached before); parameters other than TZID and
  ``VALUE=DATE``/``DATE-TIME``; a repeated DTSTART, DTEND, DURATION, GEO,
  UID or ORGANIZER;
- a DURATION, GEO or date value icalendar would refuse, a URL or ORGANIZER
  with a line break in it, ``VALUE=`` on a text property, ``ENCODING=``;
- properties it does not read unless their values cannot fail to parse
  (text, URI, calendar address, unknown X- names) or are checked here
  (DTSTAMP, CREATED, LAST-MODIFIED, SEQUENCE, PRIORITY).

:func:`fast_blocks` declines (returns None: the file is read as before) a file
that is big enough to be read in batches, is not one complete VCALENDAR, whose
BEGIN:VEVENT lines are not all at block starts, whose slow part parses into
other than one calendar or gives too many warnings, or where a slow
VEVENT has the UID of a fast one.

Values are made with icalendar's own functions (``unescape_backslash``,
``vDDDTypes.from_ical``, ``vGeo.from_ical``, ``split_on_unescaped_comma``) on
the same strings icalendar would give them, so the values are equal. The
reader is not split into "component -> values" and "values -> Event": a
FastEvent answers the few questions it asks of a VEVENT (``in``, ``get``,
``.dt``, ``.latitude``, ``.cats``, ``.params``) as icalendar's components do, so
all of the reader is shared.
``tests/test_ical_fast.py`` reads every fixture both ways and compares.

One difference is left: when :func:`fast_blocks` declines a file after
parsing its slow part, the whole file is parsed again, and icalendar's
process-wide cache of custom VTIMEZONEs (which already makes a TZID read
depend on the files read before) holds this file's zones from the first
parse on. Only a custom zone used above its own VTIMEZONE could read
differently, in a file that also has a UID written two ways or a slow part
that fails to parse into one calendar.

Set :data:`FAST` to False (or ``TECHCAL_ICAL_FAST=0``) to read every VEVENT
with icalendar.
"""

from __future__ import annotations

import os
import re
import zoneinfo
from collections import Counter
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, cast

from icalendar.cal import Component
from icalendar.parser.content_line import UFOLD
from icalendar.parser.property import split_on_unescaped_comma, unescape_backslash
from icalendar.prop import vDDDTypes, vGeo
from icalendar.timezone import tzp

from techcal.feeds.base import MAX_WARNINGS, ReadResult
from techcal.feeds.ical_batches import needs_batches
from techcal.feeds.ical_layout import outline
from techcal.feeds.ical_lines import splice
from techcal.feeds.ical_parse import Block, Lines, parse_calendars, same_line, then
from techcal.feeds.ical_values import made_up_uid

#: the switch: False reads every VEVENT with icalendar
FAST = os.environ.get("TECHCAL_ICAL_FAST", "1") != "0"
#: VEVENTs read fast ("fast") and with icalendar ("slow") in this process, for tests and benches
counts: Counter[str] = Counter()

# the reference numbers VEVENTs by these lines (ical_parse._BEGIN_VEVENT)
_BEGIN_VEVENT = re.compile(r"^[ \t]*BEGIN:VEVENT[ \t]*\r?$", re.I | re.M)
# what would fold the line after a block onto its END:VEVENT line
_FOLD_AFTER = re.compile(r"[\r\n]*[ \t]")
_QUOTED = r'"[^"\x00-\x1f\x7f\\^]+"'
# spaces inside an unquoted value are kept by icalendar, those around it (and
# around "=" in it) are not
_PLAIN = r'[^";:,=\\^\x00-\x20\x7f]+(?: +[^";:,=\\^\x00-\x20\x7f]+)*'
_LINE = re.compile(rf"([A-Za-z0-9-]+)((?:;[A-Za-z0-9-]+=(?:{_QUOTED}|{_PLAIN}))*):")
_PARAM = re.compile(rf""";([A-Za-z0-9-]+)=({_QUOTED}|{_PLAIN})""")
_DATE = re.compile(r"[0-9]{8}(?:T[0-9]{6}Z?)?", re.A)
_INTEGER = re.compile(r"-?[0-9]{1,9}", re.A)
_MADE_UP = "@techcal.invalid"

_DATES = frozenset({"DTSTART", "DTEND"})
_TEXTS = frozenset({"SUMMARY", "DESCRIPTION", "LOCATION", "STATUS"})
_STAMPS = frozenset({"DTSTAMP", "CREATED", "LAST-MODIFIED"})
_SERIES = frozenset({"RRULE", "RDATE", "EXDATE", "EXRULE", "RECURRENCE-ID"})
_ONCE = frozenset({"DTSTART", "DTEND", "DURATION", "GEO", "UID", "ORGANIZER"})
#: value types whose parse cannot fail in a way that matters to an unread property
_SAFE_TYPES = frozenset({"text", "uri", "cal-address"})


class FastEvent(dict[str, Any]):
    """A VEVENT read by the fast path: property name -> value, as icalendar would hold them.

    Only what the reader looks at is kept; repeated properties become lists,
    as in icalendar.
    """

    errors: tuple[()] = ()


class _Dt:
    """A date, datetime or duration property (what the reader takes ``.dt`` of)."""

    __slots__ = ("dt",)

    def __init__(self, dt: Any) -> None:
        self.dt = dt


class _Geo:
    __slots__ = ("latitude", "longitude")

    def __init__(self, point: tuple[float, float]) -> None:
        self.latitude, self.longitude = float(point[0]), float(point[1])


class _Categories:
    __slots__ = ("cats",)

    def __init__(self, cats: list[str]) -> None:
        self.cats = cats


class _Address(str):
    """An ORGANIZER: its address, and its parameters (upper-case names)."""

    params: dict[str, str]


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    """Return the zones icalendar's zoneinfo provider knows: never replaced by a VTIMEZONE."""
    return frozenset(zoneinfo.available_timezones())


@lru_cache(maxsize=1024)
def _unread_is_safe(name: str) -> bool:
    """Return True when icalendar reads property ``name`` as a value that cannot fail."""
    if name.startswith("X-"):
        return True  # unknown: kept verbatim
    kind = Component.types_factory.types_map.get(name)
    return kind is None or kind in _SAFE_TYPES


def _unescaped(raw: str) -> str:
    """Return a value as icalendar's content line parse gives it (backslash escapes undone)."""
    return unescape_backslash(raw) if "\\" in raw else raw


def _params(text: str) -> dict[str, str] | None:
    """Return the parameters of a content line (upper-case names, unquoted), or None."""
    params: dict[str, str] = {}
    for match in _PARAM.finditer(text):
        key, value = match.group(1).upper(), match.group(2)
        if key in params:
            return None
        params[key] = value[1:-1] if value.startswith('"') else value
    return params


def _add(event: FastEvent, name: str, value: object) -> None:
    """Add a value as icalendar's ``Component.add`` does: a repeated property becomes a list."""
    old = event.get(name)
    if old is None:
        event[name] = value
    elif isinstance(old, list):
        old.append(value)
    else:
        event[name] = [old, value]


def _moment(raw: str, params: dict[str, str]) -> _Dt | None:
    """Return a DTSTART/DTEND value as icalendar parses it, or None when doubtful."""
    if not _DATE.fullmatch(raw):
        return None
    tzid = params.get("TZID")
    value = params.get("VALUE")
    if len(params) > (tzid is not None) + (value is not None):
        return None
    if value is not None and value not in ("DATE", "DATE-TIME"):
        return None
    if tzid is not None:
        # a date with a TZID becomes a datetime, a "Z" is ignored: not plain
        if len(raw) != 15 or not tzp.uses_zoneinfo() or tzid not in _known_zones():
            return None
    try:
        parsed = vDDDTypes.from_ical(raw, tzid) if tzid else vDDDTypes.from_ical(raw)
    except Exception:  # noqa: BLE001 - icalendar would refuse it: not for the fast path
        return None
    return _Dt(parsed) if isinstance(parsed, date) else None


def unfold(block: str) -> str:
    """Return ``block`` unfolded exactly as icalendar unfolds it (its ``UFOLD``), faster.

    Without blank lines (and without lone CRs: see :func:`read_block`) a fold
    is a line break and one space or tab, and nothing else can become one.
    """
    if "\n\n" in block or "\n\r\n" in block:
        return UFOLD.sub("", block)
    return block.replace("\r\n ", "").replace("\r\n\t", "").replace("\n ", "").replace("\n\t", "")


def read_block(block: str) -> FastEvent | None:
    """Return the values of one VEVENT's text, or None when icalendar must read it."""
    if "\x00" in block or block.count("\r") != block.count("\r\n"):
        return None  # NUL, or a CR that ends no line
    # icalendar splits at "\r?\n" (NEWLINE) and skips empty lines
    lines = [line for line in unfold(block).replace("\r\n", "\n").split("\n") if line]
    if len(lines) < 2 or lines[0] != "BEGIN:VEVENT" or lines[-1] != "END:VEVENT":
        return None
    event = FastEvent()
    for line in lines[1:-1]:
        match = _LINE.match(line)
        if match is None:
            return None
        name, raw = match.group(1).upper(), line[match.end() :]
        params = _params(match.group(2)) if match.group(2) else {}
        if params is None or "ENCODING" in params:
            return None
        if name in _ONCE and name in event:
            return None
        if not _read_property(event, name, params, raw):
            return None
    uid = event.get("UID")
    if not isinstance(uid, str) or not uid.strip() or uid.strip().endswith(_MADE_UP):
        return None  # the reader would make one up, from icalendar's own serialisation
    return event


def _read_property(event: FastEvent, name: str, params: dict[str, str], raw: str) -> bool:
    """Add one property's value to ``event``; return False to decline the VEVENT."""
    kind = params.get("VALUE")
    if name in _DATES:
        moment = _moment(raw, params)
        if moment is None:
            return False
        event[name] = moment
    elif name in _SERIES or name in ("BEGIN", "END"):
        return False
    elif kind is not None and not (name == "X-APPLE-STRUCTURED-LOCATION" and kind == "URI"):
        return False  # a VALUE picks another value type
    elif name in _TEXTS or name == "UID":
        _add(event, name, _unescaped(raw))
    elif name in ("URL", "ORGANIZER", "X-APPLE-STRUCTURED-LOCATION"):
        if name == "X-APPLE-STRUCTURED-LOCATION" and kind is None:
            _add(event, name, raw)  # an unknown property: kept verbatim
            return True
        value = _unescaped(raw)
        if "\r" in value or "\n" in value:
            return False  # icalendar refuses a URI or address with a line break
        if name == "ORGANIZER":
            address = _Address(value)
            address.params = params
            event[name] = address
        else:
            _add(event, name, value)
    elif name == "X-ALT-DESC":
        _add(event, name, raw)  # an unknown property: kept verbatim
    elif name == "CATEGORIES":
        _add(event, name, _Categories(split_on_unescaped_comma(raw)))
    elif name == "GEO":
        if params:
            return False
        try:
            event[name] = _Geo(vGeo.from_ical(_unescaped(raw)))
        except Exception:  # noqa: BLE001 - icalendar keeps it broken: the reader warns
            return False
    elif name == "DURATION":
        try:
            duration = vDDDTypes.from_ical(raw)
        except Exception:  # noqa: BLE001
            return False
        if params or "\\" in raw or not isinstance(duration, timedelta):
            return False
        event[name] = _Dt(duration)
    elif name in _STAMPS:
        return not params and bool(_DATE.fullmatch(raw))
    elif name in ("SEQUENCE", "PRIORITY"):
        return not params and bool(_INTEGER.fullmatch(raw))
    else:
        return _unread_is_safe(name)
    return True


def fast_blocks(text: str, result: ReadResult, lines: Lines | None = None) -> list[Block] | None:
    """Return the calendars of ``text`` with plain VEVENTs read fast, or None to read it all.

    What it returns is what :func:`~techcal.feeds.ical_parse.parse_calendars`
    would, except that some VEVENTs are :class:`FastEvent`: the reader takes both.
    """
    if not FAST or needs_batches(text):
        return None
    try:
        return _fast_blocks(text, result, lines or same_line)
    except Exception:  # noqa: BLE001 - whatever surprised the fast path, icalendar reads
        return None


def _fast_blocks(text: str, result: ReadResult, lines: Lines) -> list[Block] | None:
    layout = outline(text)
    if layout is None or not layout.complete:
        return None
    spans = sorted(pair for key in layout.groups for pair in layout.groups[key].pairs())
    if [match.start() for match in _BEGIN_VEVENT.finditer(text)] != [s for s, _ in spans]:
        return None  # the reference would number the VEVENTs otherwise
    fast: dict[int, FastEvent] = {}
    for key in layout.groups:
        group = layout.groups[key]
        if group.recurring:
            continue
        read: dict[int, FastEvent] = {}
        for start, end in group.pairs():
            event = None if _FOLD_AFTER.match(text, end) else read_block(text[start:end])
            if event is None:
                break
            read[start] = event
        else:
            fast.update(read)
    if not fast:
        counts["slow"] += len(spans)
        return None
    return _merge(text, layout.header, spans, fast, result, lines)


def _merge(
    text: str,
    header: list[tuple[int, int]],
    spans: list[tuple[int, int]],
    fast: dict[int, FastEvent],
    result: ReadResult,
    lines: Lines,
) -> list[Block] | None:
    """Parse all but the fast VEVENTs with icalendar; return one calendar of both, in order."""
    slow = [span for span in spans if span[0] not in fast]
    slow_text, slow_lines = splice(text, sorted(header + slow))
    said = ReadResult()
    blocks = parse_calendars(slow_text, said, then(slow_lines, lines))
    if len(blocks) != 1 or said.more_warnings:
        return None
    if len(result.warnings) + len(said.warnings) > MAX_WARNINGS:
        return None  # past the limit, what is counted depends on the repeats left out
    block = blocks[0]
    entries: list[tuple[Any, int | None]] = []
    line, position = 1, 0
    for start in sorted(fast):
        line += text.count("\n", position, start)
        position = start
        entries.append((fast[start], lines(line)))
    fast_uids = {event["UID"].strip() for event in fast.values()}
    for event, number in block.events:
        if number is None:
            return None
        if (str(event.get("UID", "")).strip() or made_up_uid(event)) in fast_uids:
            return None  # the reader must see them as one group: all from icalendar
    entries += block.events
    entries.sort(key=lambda entry: cast(int, entry[1]))
    if len({number for _, number in entries}) != len(entries):
        return None
    result.warn_all(said.warnings)
    result.failed_entries += said.failed_entries
    counts["fast"] += len(fast)
    counts["slow"] += len(slow)
    return [Block(block.calendar, entries)]
