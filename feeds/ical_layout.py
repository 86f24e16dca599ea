"""A calendar's VEVENTs grouped by UID, found without parsing it.

A UID group is a series with its RECURRENCE-ID overrides, or entries that
share a UID: what the reader must see together. The groups are found from
the BEGIN/END lines alone (:mod:`techcal.feeds.ical_lines`), so that a big
file can be parsed a few groups at a time (:mod:`techcal.feeds.ical_batches`)
and a re-read can skip unchanged groups (:mod:`techcal.feeds.incremental`).
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from techcal.feeds.ical_lines import begins, component_name, line_span, markers

# property lines inside a VEVENT block (never its first line, so "\n" leads
# them: far faster to search for than "^"), with their continuation lines
# (possessive "*+": a plain "*" keeps ~100 bytes per line to backtrack into)
_UID_LINE = re.compile(r"\nUID[;:][^\r\n]*(?:\r?\n[ \t][^\r\n]*)*+", re.I)
_DTSTART_LINE = re.compile(r"\nDTSTART[;:][^\r\n]*(?:\r?\n[ \t][^\r\n]*)*+", re.I)
_FOLD = re.compile(r"\r?\n[ \t]")
_RRULE = re.compile(r"\n(?:RRULE|RDATE)[;:]", re.I)


class RawGroup:
    """One UID group's VEVENT blocks: where they are in the text (a view into :class:`Groups`)."""

    __slots__ = ("_groups", "_index")

    def __init__(self, groups: Groups, index: int) -> None:
        self._groups = groups
        self._index = index

    @property
    def recurring(self) -> bool:
        """Return True when a block has RRULE or RDATE (the group must then be read together)."""
        return bool(self._groups.recurring[self._index])

    def pairs(self) -> Iterator[tuple[int, int]]:
        """Yield the start and end of each block, in file order."""
        groups = self._groups
        block = groups.first[self._index]
        while block >= 0:
            yield groups.starts[block], groups.ends[block]
            block = groups.next[block]

    def blocks(self, text: str) -> Iterator[str]:
        """Yield the text of each block."""
        for start, end in self.pairs():
            yield text[start:end]

    def size(self) -> int:
        """Return the characters of all its blocks."""
        return sum(end - start for start, end in self.pairs())

    def __len__(self) -> int:
        return sum(1 for _ in self.pairs())


class Groups(Mapping[str, RawGroup]):
    """UID groups in the order they first appear, kept in flat arrays.

    A file can hold a million UIDs: an object per group would take ten
    times the file, a few array slots take less than it.
    """

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        # per group: its first and last block, whether it recurs
        self.first = array("q")
        self.last = array("q")
        self.recurring = bytearray()
        # per block: where it is, and the next block of its group (-1: none)
        self.starts = array("q")
        self.ends = array("q")
        self.next = array("q")

    def add(self, key: str, start: int, end: int, recurring: bool) -> None:
        """Add the block at ``start``..``end`` to group ``key``."""
        block = len(self.starts)
        self.starts.append(start)
        self.ends.append(end)
        self.next.append(-1)
        index = self.index.setdefault(key, len(self.first))
        if index == len(self.first):
            self.first.append(block)
            self.last.append(block)
            self.recurring.append(recurring)
            return
        self.next[self.last[index]] = block
        self.last[index] = block
        self.recurring[index] |= recurring

    def __getitem__(self, key: str) -> RawGroup:
        return RawGroup(self, self.index[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self.index)

    def __len__(self) -> int:
        return len(self.index)


@dataclass
class Layout:
    """One VCALENDAR's text: its VEVENT blocks grouped by UID, and everything else."""

    text: str
    #: start and end of the text outside VEVENT blocks (calendar properties,
    #: VTIMEZONEs, other components), empty stretches left out
    header: list[tuple[int, int]]
    #: UID groups in the order they first appear
    groups: Groups
    #: components of the header the reader never reads (VTODO, VJOURNAL, X-...)
    unread: list[tuple[int, int]] = field(default_factory=list)
    #: False when the text ends inside the VCALENDAR (a file cut short)
    complete: bool = True

    def header_text(self) -> str:
        """Return the text outside VEVENT blocks, BEGIN/END:VCALENDAR lines included."""
        return "".join(self.text[start:end] for start, end in self.header)


def outline(text: str) -> Layout | None:
    """Return the layout of a calendar, or None when it is not one VCALENDAR of plain VEVENTs.

    None for several calendars, components outside the calendar, or a VEVENT
    inside another component: those are read whole.

    >>> layout = outline("BEGIN:VCALENDAR\\nBEGIN:VEVENT\\nUID:a\\nEND:VEVENT\\nEND:VCALENDAR\\n")
    >>> list(layout.groups), layout.header_text(), layout.complete
    (['a'], 'BEGIN:VCALENDAR\\nEND:VCALENDAR\\n', True)
    """
    layout = Layout(text, [], Groups())
    depth, calendars, position = 0, 0, 0
    block_start: int | None = None
    unread_start: int | None = None
    for marker in markers(text):
        if begins(marker):
            depth += 1
            name = component_name(marker)
            if depth == 1 and (name != "VCALENDAR" or calendars):
                return None  # several calendars, or components outside one
            calendars += depth == 1
            if name == "VEVENT":
                if depth != 2:
                    return None  # a VEVENT inside another component: read whole
                block_start = line_span(text, marker)[0]
            elif depth == 2 and name != "VTIMEZONE":
                unread_start = line_span(text, marker)[0]
        elif depth == 0:
            return None
        else:
            if depth == 2 and block_start is not None:
                end = line_span(text, marker)[1]
                if block_start > position:
                    layout.header.append((position, block_start))
                _add_block(text, layout.groups, block_start, end)
                position, block_start = end, None
            elif depth == 2 and unread_start is not None:
                layout.unread.append((unread_start, line_span(text, marker)[1]))
                unread_start = None
            depth -= 1
    if calendars != 1 or (depth >= 2 and block_start is None):
        return None  # no calendar, or cut short inside a component that is no VEVENT
    if depth:  # cut short: the reader reads each VEVENT alone, as far as it goes
        layout.complete = False
        if block_start is not None:
            if block_start > position:
                layout.header.append((position, block_start))
            _add_block(text, layout.groups, block_start, len(text))
            position = len(text)
    if position < len(text):
        layout.header.append((position, len(text)))
    return layout


def _add_block(text: str, groups: Groups, start: int, end: int) -> None:
    uid = _uid(text, start, end)
    if not uid:
        # the reader makes a UID up from DTSTART and SUMMARY: blocks that may
        # share one must stay together, so group them by DTSTART (never a UID)
        uid = "\0" + _unfolded(_DTSTART_LINE, text, start, end).rpartition(":")[2].strip().upper()
    groups.add(uid, start, end, _RRULE.search(text, start, end) is not None)


def _uid(text: str, start: int, end: int) -> str:
    """Return the UID of a raw VEVENT block, unfolded ("" when it has none)."""
    return _unfolded(_UID_LINE, text, start, end).partition(":")[2].strip()


def _unfolded(line: re.Pattern[str], text: str, start: int, end: int) -> str:
    match = line.search(text, start, end)
    return "" if match is None else _FOLD.sub("", match.group(0))
