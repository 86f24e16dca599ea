"""A big calendar cut into texts small enough to parse one at a time.

icalendar turns each character it is given into about 37 bytes of components,
so a 26 MB file parsed at once takes a gigabyte. A calendar longer than
:data:`BATCH_CHARS` or :data:`BATCH_LINES` is parsed a few UID groups at a
time instead: each batch
is the calendar's own text (its properties and VTIMEZONEs) with only some of
its VEVENTs, and a map back to the file's line numbers for warnings to name.
A series and its overrides are always in one batch, and the groups go in the
order they first appear, as the reader takes them from a whole parse.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from techcal.feeds.ical_layout import Groups, Layout
from techcal.feeds.ical_lines import LineMap, splice

#: what one batch holds at most (a series is never cut): icalendar's components
#: cost about 37 bytes a character of typical events, and more than a
#: kilobyte a line of tiny ones, so a batch costs some 40 MB
BATCH_CHARS = 2**20
BATCH_LINES = 20_000
#: content lines past which one VEVENT, or one series with its overrides, is
#: refused: it could only be parsed at once, and no real entry comes near (a
#: daily series with an override for every day of ten years is about 50,000)
ENTRY_LINES = 40_000
SERIES_LINES = 80_000
_CONTENT_LINE = re.compile(r"\n[^ \t]")


def needs_batches(text: str) -> bool:
    """Return True when ``text`` is too big to parse at once."""
    return len(text) > BATCH_CHARS or text.count("\n", 0, len(text)) > BATCH_LINES


@dataclass
class Refused:
    """A VEVENT, or a series, too long to read."""

    #: where its first block starts
    start: int
    #: its UID group
    key: str
    entries: int
    lines: int


def batch_texts(
    layout: Layout,
    refused: list[Refused] | None = None,
    *,
    chars: int = BATCH_CHARS,
    lines: int = BATCH_LINES,
) -> Iterator[tuple[str, LineMap]]:
    """Yield calendars of at most ``chars`` and ``lines`` of VEVENTs, that hold them all.

    Each comes with the file's line numbers of its lines. Components the
    reader never reads are left out; entries too long to read are added to
    ``refused`` instead.

    >>> from techcal.feeds.ical_layout import outline
    >>> event = "BEGIN:VEVENT\\nUID:{}\\nEND:VEVENT\\n"
    >>> text = "BEGIN:VCALENDAR\\n" + event.format("a") + event.format("b") + "END:VCALENDAR\\n"
    >>> [(t.count("UID"), lines(2)) for t, lines in batch_texts(outline(text), lines=3)]
    [(1, 2), (1, 5)]
    """
    context = _without(layout.header, layout.unread)
    planner = _Planner(layout.text, (chars, lines), [] if refused is None else refused)
    for blocks in planner.batches(layout.groups):
        yield splice(layout.text, list(heapq.merge(context, sorted(blocks))))


def _without(spans: list[tuple[int, int]], holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Return ``spans`` less ``holes`` (each hole inside one span; both in order)."""
    if not holes:
        return spans
    kept: list[tuple[int, int]] = []
    hole = iter(holes)
    current = next(hole, None)
    for start, end in spans:
        while current is not None and current[0] < end:
            if current[0] > start:
                kept.append((start, current[0]))
            start = current[1]
            current = next(hole, None)
        if end > start:
            kept.append((start, end))
    return kept


class _Planner:
    """Puts UID groups into batches in the order they come, and refuses what is too long."""

    def __init__(self, text: str, limits: tuple[int, int], refused: list[Refused]) -> None:
        self.text = text
        self.limits = limits
        self.refused = refused
        self.batch: list[tuple[int, int]] = []
        self.chars = 0
        self.lines = 0

    def batches(self, groups: Groups) -> Iterator[list[tuple[int, int]]]:
        """Yield the VEVENT spans of each batch."""
        text = self.text
        for key, group in groups.items():
            lines = sum(text.count("\n", start, end) for start, end in group.pairs())
            size = group.size()
            if group.recurring:
                # a series is expanded with its overrides: it is read whole, or not at all
                if lines > SERIES_LINES and self._content_lines(group.pairs()) > SERIES_LINES:
                    first = next(group.pairs())[0]
                    self.refused.append(Refused(first, key, len(group), lines))
                else:
                    yield from self._add(list(group.pairs()), size, lines)
            elif size <= self.limits[0] and lines <= self.limits[1]:
                yield from self._add(list(group.pairs()), size, lines)  # kept together
            else:  # entries that only share a UID are read one by one anyway
                for start, end in group.pairs():
                    count = text.count("\n", start, end)
                    if count > ENTRY_LINES and self._content_lines([(start, end)]) > ENTRY_LINES:
                        self.refused.append(Refused(start, key, 1, count))
                    else:
                        yield from self._add([(start, end)], end - start, count)
        if self.batch:
            yield self.batch

    def _add(
        self, spans: list[tuple[int, int]], chars: int, lines: int
    ) -> Iterator[list[tuple[int, int]]]:
        if self.batch and (
            self.chars + chars > self.limits[0] or self.lines + lines > self.limits[1]
        ):
            yield self.batch
            self.batch, self.chars, self.lines = [], 0, 0
        self.batch += spans
        self.chars += chars
        self.lines += lines

    def _content_lines(self, spans: Iterable[tuple[int, int]]) -> int:
        """Return the lines of ``spans`` once unfolded.

        A long ATTACH folded over thousands of lines is one line, and one property.
        """
        return sum(
            sum(1 for _ in _CONTENT_LINE.finditer(self.text, start, end)) for start, end in spans
        )
