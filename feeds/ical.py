"""Reading iCalendar (.ics) files into Event records.

``read_ical`` is a pure reader (see :mod:`techcal.feeds.base`): bytes in,
events and one-line warnings out. icalendar parses, x-wr-timezone decides how
UTC and floating times are meant, recurring-ical-events expands series into
the window. Every VEVENT is converted on its own so one bad entry costs only
itself. The work is bounded whatever the file: components nested too deep
are cut before the parse (:mod:`techcal.feeds.ical_lines`), and a big
calendar is parsed a few UID groups at a time (:mod:`techcal.feeds.ical_batches`).

The parse is :mod:`techcal.feeds.ical_parse`, or for plain VEVENTs the
fast path of :mod:`techcal.feeds.ical_fast` (str operations, the rest left
to icalendar, the same Events either way); the VEVENTs become Events in
:mod:`techcal.feeds.ical_reader`, with the property readers of
:mod:`techcal.feeds.ical_values`, the zones of :mod:`techcal.feeds.ical_zones`
and the recurrence checks of :mod:`techcal.feeds.ical_rules`.
"""

from __future__ import annotations

import codecs
import re

from techcal.feeds.base import ReadResult, SourceDefaults, Window
from techcal.feeds.ical_batches import Refused, batch_texts, needs_batches
from techcal.feeds.ical_fast import fast_blocks
from techcal.feeds.ical_layout import Layout, outline
from techcal.feeds.ical_lines import MAX_DEPTH, prune
from techcal.feeds.ical_parse import Lines, parse_calendars, same_line, then
from techcal.feeds.ical_reader import CalendarReader

_CHARSET = re.compile(rb"CHARSET=\"?([A-Za-z0-9_.:-]+)", re.I)
_VCALENDAR = re.compile(r"BEGIN:VCALENDAR|BEGIN:VEVENT", re.I)


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
    text = decode(data, decode_warnings)
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
    reader = CalendarReader(defaults, window, result)
    layout = outline(text) if needs_batches(text) else None
    if layout is None:
        blocks = fast_blocks(text, result, lines) or parse_calendars(text, result, lines)
        for block in blocks:
            reader.read(block)
        found = any(block.events for block in blocks)
    else:
        found = _read_in_batches(layout, lines or same_line, reader, result)
    if not found and not result.warnings:
        result.warn("calendar has no VEVENT entries")
    if reader.repeats:
        result.warn(f"{reader.repeats} entries repeat earlier ones; skipped")


def _read_in_batches(
    layout: Layout, lines: Lines, reader: CalendarReader, result: ReadResult
) -> bool:
    """Read one big calendar a few UID groups at a time; return True when it had VEVENTs.

    Its components never all exist at once.
    """
    found = False
    refused: list[Refused] = []
    for batch, batch_lines in batch_texts(layout, refused):
        for block in parse_calendars(batch, result, then(batch_lines, lines)):
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


def decode(data: bytes, warnings: list[str]) -> str:
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
