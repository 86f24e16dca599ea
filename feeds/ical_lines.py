"""A calendar's text as lines, before any parse: where components begin and end.

icalendar nests components as deep as the file does, and builds all it is
given at once. Its BEGIN and END lines are found here with one regular
expression (C speed) and a counter, so that components nested deeper than
any real calendar are cut out before a parse (:func:`prune`), and texts
made of pieces of the file (:func:`splice`) still name the file's lines.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

#: VCALENDAR > VEVENT > VALARM is as deep as real files go (VTIMEZONE >
#: STANDARD too), but components left unclosed nest what follows them: a
#: fuzzed libical file nests 11 deep, and is still read as before
MAX_DEPTH = 16

# a BEGIN or END line as icalendar reads it: the name alone before ";" or ":",
# or nothing after it. The "\n" in front lets the regex engine skip ahead to
# candidates instead of trying every position (the first line is matched
# without it); the value is taken greedily and trimmed in Python, for speed.
_MARKER = re.compile(r"\n(BEGIN|END)([;:][^\n]*|\r?)(?=\n|\Z)", re.I)
_FIRST_MARKER = re.compile(r"(BEGIN|END)([;:][^\n]*|\r?)(?=\n|\Z)", re.I)
# a line that is the start of "BEGIN" or "END" folded onto the next line: such
# markers only show once the text is unfolded (icalendar folds blank lines too)
_FOLDED_MARKER = re.compile(r"\n[BbEe][A-Za-z]{0,4}\r?\n")
_FOLDED_FIRST = re.compile(r"[BbEe][A-Za-z]{0,4}\r?\n")
# from the first line break of a run only, and over a character class: a
# group repeated over a run of empty lines costs time and memory per line
_UNFOLD = re.compile(r"(?<![\r\n])[\r\n]+[ \t]")
# runs of empty lines worth cutting (a few are common, and harmless)
_EMPTY_RUN = re.compile(r"\n[\r\n]{64,}")
_EMPTY_FIRST = re.compile(r"[\r\n]{64,}")


def markers(text: str) -> Iterator[re.Match[str]]:
    """Yield the BEGIN and END lines of ``text``, in order, as regex matches."""
    first = _FIRST_MARKER.match(text)
    if first is not None:
        yield first
    yield from _MARKER.finditer(text)


def begins(match: re.Match[str]) -> bool:
    """Return True for a BEGIN line, False for an END line."""
    return match.group(1)[0] in "Bb"


def component_name(match: re.Match[str]) -> str:
    """Return the component a marker names, upper case, as icalendar names it.

    >>> [component_name(m) for m in markers("BEGIN:vevent\\r\\nEND;X=1:VEVENT\\nBEGIN\\n")]
    ['VEVENT', 'VEVENT', '']
    """
    value = match.group(2).rstrip("\r")
    if value.startswith(";"):  # parameters first: the value follows the first ":"
        return value.partition(":")[2].upper()
    return value[1:].upper()


def line_span(text: str, match: re.Match[str]) -> tuple[int, int]:
    """Return where a marker's line starts and ends (its line break included)."""
    start = match.start() + (text[match.start()] == "\n")
    end = match.end()
    return start, (end + 1 if end < len(text) else end)


class LineMap:
    """Line numbers of a text spliced from pieces of another, mapped back to the other's.

    The pieces are never padded with empty lines instead: icalendar's
    unfolding regex holds on to every line of a run of empty lines at once.
    """

    def __init__(self) -> None:
        #: first line of each piece here, and the line it was in the source
        self.starts: list[int] = []
        self.origins: list[int] = []

    def add(self, line: int, origin: int) -> None:
        """Say that ``line`` here, and the lines after it, were ``origin`` on in the source."""
        if self.starts and origin - self.origins[-1] == line - self.starts[-1]:
            return  # the piece goes on where the last one ended
        self.starts.append(line)
        self.origins.append(origin)

    def __call__(self, line: int) -> int:
        """Return the source's number of ``line``."""
        piece = bisect_right(self.starts, line) - 1
        if piece < 0:
            return line
        return self.origins[piece] + line - self.starts[piece]


def splice(source: str, spans: list[tuple[int, int]]) -> tuple[str, LineMap]:
    """Return the text of ``spans`` (whole lines, in order) of ``source``, and its line map.

    >>> text, lines = splice("a\\nb\\nc\\nd\\n", [(0, 2), (6, 8)])
    >>> text, lines(1), lines(2)
    ('a\\nd\\n', 1, 4)
    """
    lines = LineMap()
    parts: list[str] = []
    line, origin, position = 1, 1, 0
    for start, end in spans:
        origin += source.count("\n", position, start)
        lines.add(line, origin)
        part = source[start:end]
        parts.append(part)
        newlines = part.count("\n")
        line, origin, position = line + newlines, origin + newlines, end
    return "".join(parts), lines


@dataclass
class Pruned:
    """A text without what would make icalendar's work unbounded, and what was cut."""

    text: str
    #: the file's line numbers of the text's lines (None when nothing was cut)
    lines: LineMap | None = None
    #: components nested too deep cut out (nested ones included)
    components: int = 0
    #: of them, VEVENTs (entries lost: the read is not the whole file)
    vevents: int = 0
    #: line of the first one cut
    line: int | None = None


def prune(text: str, limit: int = MAX_DEPTH) -> Pruned:
    """Return ``text`` without components nested more than ``limit`` deep, or long empty runs.

    Runs of empty lines mean nothing, but icalendar's unfolding regex keeps
    some 130 bytes a line of them at once.

    >>> deep = "BEGIN:A\\nBEGIN:B\\nBEGIN:VEVENT\\nEND:VEVENT\\nEND:B\\nX:1\\nEND:A\\n"
    >>> cut = prune(deep, limit=2)
    >>> cut.text, cut.components, cut.vevents, cut.line, cut.lines(4)
    ('BEGIN:A\\nBEGIN:B\\nEND:B\\nX:1\\nEND:A\\n', 1, 1, 3, 6)
    >>> prune("X:1\\n" + "\\n" * 500 + "Y:2\\n").text
    'X:1\\nY:2\\n'
    """
    source = text
    if _FOLDED_FIRST.match(text) or _FOLDED_MARKER.search(text):
        # a marker folded across lines (only hostile files do that) is seen,
        # and cut, once unfolded; line numbers after it may then be off
        source = _UNFOLD.sub("", text)
    pruned = Pruned(source)
    cuts = _too_deep(source, limit, pruned)
    if cuts:
        pruned.line = source.count("\n", 0, cuts[0][0]) + 1
    first = _EMPTY_FIRST.match(source)
    if first is not None:
        cuts.append((0, first.end()))
    # each run from its second line break on: the line before it keeps its end
    cuts += [(run.start() + 1, run.end()) for run in _EMPTY_RUN.finditer(source)]
    if not cuts:
        return Pruned(text)
    kept, position = [], 0
    for start, end in sorted(cuts):
        if start > position:
            kept.append((position, start))
        position = max(position, end)
    kept.append((position, len(source)))
    pruned.text, pruned.lines = splice(source, kept)
    return pruned


def _too_deep(source: str, limit: int, pruned: Pruned) -> list[tuple[int, int]]:
    """Return the spans of the components nested more than ``limit`` deep, counting them."""
    cuts: list[tuple[int, int]] = []
    depth = 0
    cut_from: int | None = None
    for marker in markers(source):
        if begins(marker):
            depth += 1
            if depth > limit:
                pruned.components += 1
                pruned.vevents += component_name(marker) == "VEVENT"
                if cut_from is None:
                    cut_from = line_span(source, marker)[0]
        elif depth > 0:  # a stray END is icalendar's to refuse
            depth -= 1
            if cut_from is not None and depth == limit:
                cuts.append((cut_from, line_span(source, marker)[1]))
                cut_from = None
    if cut_from is not None:  # cut short inside a too-deep component
        cuts.append((cut_from, len(source)))
    return cuts
