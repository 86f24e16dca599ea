"""Calendar text -> parsed VCALENDARs and their VEVENTs, piece by piece when the whole fails.

icalendar refuses a whole file for one bad line; then each VEVENT is parsed
alone, with the calendar's properties and VTIMEZONEs, so one bad entry
costs only itself. Every VEVENT keeps the file's number of its first line,
for warnings.
"""

from __future__ import annotations

import re
import warnings as pywarnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import icalendar
from icalendar.cal import Component

from techcal.feeds.base import ReadResult
from techcal.feeds.ical_values import short_error

_BEGIN_VEVENT = re.compile(r"^[ \t]*BEGIN:VEVENT[ \t]*\r?$", re.I | re.M)
_BLOCK_LINE = re.compile(r"^(BEGIN|END):([A-Za-z-]+)\s*$", re.I)
# a content line starts with a name followed by ";" or ":"; anything else in a
# calendar header (stray text, half-written lines) would sink the whole parse
_CONTENT_LINE = re.compile(r"^(?:[A-Za-z0-9-]+[;:]|[ \t])")
#: the file's number of a line of the text being parsed
Lines = Callable[[int], int]


@dataclass
class Block:
    """One VCALENDAR: its own properties and its VEVENTs with their line numbers."""

    calendar: Component
    events: list[tuple[Component, int | None]] = field(default_factory=list)


def then(first: Lines, second: Lines) -> Lines:
    """Return the line numbering of ``first`` followed by ``second``."""
    return lambda line: second(first(line))


def same_line(line: int) -> int:
    """Return ``line``: the numbering of a text that is the whole file."""
    return line


def parse_calendars(text: str, result: ReadResult, lines: Lines | None = None) -> list[Block]:
    """Return the calendars in ``text``, parsed whole, or piece by piece when that fails.

    ``lines`` gives the file's number of a line of ``text`` when it is not the whole file.
    """
    in_file = lines or same_line
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
    blocks: list[Block] = []
    loose: Block | None = None  # VEVENTs written without a VCALENDAR around them
    for component in components:
        if component.name == "VCALENDAR":
            block = Block(component)
            blocks.append(block)
        else:
            if loose is None:
                loose = Block(icalendar.Calendar())
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


#: a line ends where icalendar ends one: at LF or CRLF (not at the other
#: characters str.splitlines breaks at, such as U+2028 in a description)
_NEWLINE = re.compile(r"\r?\n")


def _split(text: str) -> list[_Pieces]:
    """Return each VCALENDAR's header lines, VTIMEZONE and VEVENT blocks (with first line)."""
    calendars: list[_Pieces] = []
    current: _Pieces | None = None
    block: list[str] | None = None  # the VEVENT/VTIMEZONE being collected
    block_name = ""
    other_depth = 0  # inside a component we do not read (VTODO, VJOURNAL, ...)
    lines = _NEWLINE.split(text)
    if lines and not lines[-1]:
        lines.pop()
    for number, line in enumerate(lines, start=1):
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


def _parse_pieces(text: str, result: ReadResult, in_file: Lines = same_line) -> list[Block]:
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
        block = Block(header)
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
            result.warn(f"{name} (line {line}): unreadable ({short_error(error)}); skipped")
        return None


def _raw_property(lines: list[str], name: str) -> str | None:
    """Return the value of property ``name`` in unparsed ``lines`` (for naming bad entries)."""
    prefix = name.upper()
    for line in lines:
        head, _, value = line.partition(":")
        if head.split(";")[0].strip().upper() == prefix:
            return value.strip() or None
    return None
