"""Reading an iCalendar file again at the cost of what changed in it.

icalendar parses about a thousand VEVENTs a second, so a crawl that re-reads
unchanged exports must not parse them again. :func:`file_digest` lets the
caller skip a file whose content (ignoring DTSTAMP, which many servers
rewrite on every request) is the same as last time. Within a changed file,
:func:`read_ical_incremental` splits the raw text into UID groups (a series
and its RECURRENCE-ID overrides are one group: the split by which big files
are also parsed in batches, :mod:`techcal.feeds.ical_layout`), and parses
only the groups that are new or changed, each together with the file's
calendar properties and VTIMEZONEs. The events equal those of a full
:func:`read_ical`.

The :class:`Snapshot` it returns is plain data for the caller to keep
(``techcal.store`` keeps it per source); this module stays pure.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from techcal.event import Event
from techcal.feeds.base import ReadResult, SourceDefaults, Window
from techcal.feeds.ical import decode, read_ical
from techcal.feeds.ical_layout import Layout, RawGroup, outline

# a DTSTAMP line with its folded continuation lines
# (possessive "*+": a plain "*" keeps a backtracking entry per continuation
# line, some 100 bytes each, and a hostile line can have a million)
_DTSTAMP = re.compile(rb"^DTSTAMP[;:][^\n]*(?:\n[ \t][^\n]*)*+\n?", re.I | re.M)
_DTSTAMP_TEXT = re.compile(r"^DTSTAMP[;:][^\n]*(?:\n[ \t][^\n]*)*+\n?", re.I | re.M)
_VCALENDAR_LINE = re.compile(r"^(BEGIN|END):VCALENDAR[ \t]*\r?$", re.I | re.M)
_FORMAT = 4
_RRULE_BYTES = re.compile(rb"^(RRULE|RDATE)[;:]", re.I | re.M)
#: part of every digest: a reader that reads differently must not trust old results
READER_VERSION = "2026-12-05.1"


def _is_utf16(data: bytes) -> bool:
    return data[:2] in (b"\xff\xfe", b"\xfe\xff") or data[1:2] == b"\x00" or data[:1] == b"\x00"


def file_digest(data: bytes) -> str:
    """Return a digest of ``data`` ignoring DTSTAMP lines (rewritten per request) and line ends.

    >>> a = b"BEGIN:VEVENT\\r\\nDTSTAMP:20261122T010203Z\\r\\nUID:x\\r\\nEND:VEVENT\\r\\n"
    >>> b = a.replace(b"20261122T010203Z", b"20261123T000000Z")
    >>> file_digest(a) == file_digest(b), file_digest(a) == file_digest(a + b"X")
    (True, False)
    """
    unified = data.replace(b"\r\n", b"\n")  # CRLF or LF is no change
    return hashlib.blake2b(_DTSTAMP.sub(b"", unified), digest_size=16).hexdigest()


def window_key(window: Window) -> str:
    """Return the window as the day-precise key series are expanded for."""
    return f"{window.start.date().isoformat()}/{window.end.date().isoformat()}"


@dataclass
class Group:
    """What one UID group of the file gave last time."""

    digest: str
    recurring: bool
    #: the source uids of its events (what the store needs to leave them be:
    #: the events themselves are in the store, not kept here a second time)
    uids: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failed: int = 0
    #: links to visit (feed entries without event data)
    pages: list[str] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        digest: str,
        recurring: bool,
        events: list[Event],
        warnings: list[str],
        failed: int,
        pages: list[str] | None = None,
    ) -> Group:
        """Return the group that gave ``events``."""
        uids = [e.source_uid for e in events]
        return cls(digest, recurring, uids, warnings, failed, list(pages or []))


@dataclass
class Snapshot:
    """What a read of one file leaves behind for the next read of the same source."""

    digest: str
    window_key: str
    #: calendar properties, VTIMEZONEs and source defaults: when it changes, all is re-read
    context: str = ""
    recurring: bool = False
    #: warnings about the file as a whole (encoding, floating times)
    warnings: list[str] = field(default_factory=list)
    #: None when the file could not be split into groups (read whole every time)
    groups: dict[str, Group] | None = None

    def to_bytes(self) -> bytes:
        """Return the snapshot as compressed JSON (no pickle: the store is data, not code)."""
        doc: dict[str, Any] = {
            "format": _FORMAT,
            "digest": self.digest,
            "window_key": self.window_key,
            "context": self.context,
            "recurring": self.recurring,
            "warnings": self.warnings,
            "groups": None
            if self.groups is None
            else {
                uid: [g.digest, g.recurring, g.uids, g.warnings, g.failed, g.pages]
                for uid, g in self.groups.items()
            },
        }
        return zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 1)

    @classmethod
    def from_bytes(cls, blob: bytes) -> Snapshot | None:
        """Return the snapshot in ``blob``, or None when it is unreadable or of another format."""
        try:
            doc = json.loads(zlib.decompress(blob))
            if doc.get("format") != _FORMAT:
                return None
            groups = doc["groups"]
            return cls(
                digest=doc["digest"],
                window_key=doc["window_key"],
                context=doc["context"],
                recurring=doc["recurring"],
                warnings=doc["warnings"],
                groups=None
                if groups is None
                else {
                    uid: Group(d, r, uids, w, f, p) for uid, (d, r, uids, w, f, p) in groups.items()
                },
            )
        except (ValueError, KeyError, TypeError, zlib.error):
            return None


@dataclass
class _RawGroup:
    """One UID group of the file as text: what its digest is, and its blocks when needed."""

    text: str
    where: RawGroup

    @property
    def recurring(self) -> bool:
        return self.where.recurring

    @property
    def blocks(self) -> list[str]:
        """Return its VEVENT blocks without DTSTAMP lines and CRs (what digests are of)."""
        return [_stripped(block) for block in self.where.blocks(self.text)]

    def digest(self) -> str:
        h = hashlib.blake2b(digest_size=16)
        for block in self.where.blocks(self.text):
            h.update(_unified(_stripped(block)))
        return h.hexdigest()


class _RawGroups(Mapping[str, _RawGroup]):
    """The UID groups of a file's layout, each seen as a :class:`_RawGroup` when asked for."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def __getitem__(self, uid: str) -> _RawGroup:
        return _RawGroup(self.layout.text, self.layout.groups[uid])

    def __iter__(self) -> Iterator[str]:
        return iter(self.layout.groups)

    def __len__(self) -> int:
        return len(self.layout.groups)


def read_ical_incremental(
    data: bytes,
    defaults: SourceDefaults,
    *,
    window: Window | None = None,
    previous: Snapshot | None = None,
) -> tuple[ReadResult, Snapshot]:
    """Return what :func:`read_ical` would, reading only what changed since ``previous``.

    Groups whose text, context and (for series) window are unchanged since
    ``previous`` are not parsed, and their events are not repeated in
    ``result.events``: their source uids are in ``result.unchanged`` (and
    their events in the returned snapshot). Without ``previous``, the result
    is exactly :func:`read_ical`'s.
    """
    window = window or Window.around()
    digest = file_digest(data)
    wkey = window_key(window)
    # file-level warnings (floating times, encodings) are only known whole
    if previous is None or previous.groups is None or previous.warnings:
        return _read_whole(data, defaults, window, digest, wkey)
    split = _split(data)
    if split is None:
        return _read_whole(data, defaults, window, digest, wkey)
    decode_warnings, header, groups = split
    context = _context_digest(header, defaults)
    if previous.context != context:
        del split, groups  # the whole read splits the file again, after reading it
        return _read_whole(data, defaults, window, digest, wkey)

    kept, stale = _partition(groups, previous.groups, previous.window_key == wkey)
    file_warnings = [w for w in previous.warnings if w not in decode_warnings]
    fresh: dict[str, Group] = {}
    fresh_events: dict[str, list[Event]] = {}
    if stale:
        # all changed groups in one parse, so the VTIMEZONEs are parsed once
        read = read_ical(_calendar_of(header, stale), defaults, window=window)
        sorted_out = _sort_into_groups(read, stale)
        if sorted_out is None:  # events or warnings we cannot place: read the file whole
            del split, groups, stale, kept, read
            return _read_whole(data, defaults, window, digest, wkey)
        fresh, fresh_events, loose = sorted_out
        file_warnings = list(dict.fromkeys(file_warnings + loose))

    result = ReadResult(warnings=decode_warnings + file_warnings)
    _add_groups(result, groups, kept, fresh, fresh_events)
    recurring = any(raw.recurring for raw in groups.values())
    if result.more_warnings:
        # more warnings than a result keeps: the next read starts over, whole
        return result, Snapshot(digest, wkey, context, recurring, list(result.warnings))
    return result, Snapshot(digest, wkey, context, recurring, file_warnings, kept | fresh)


def _partition(
    groups: Mapping[str, _RawGroup], previous: dict[str, Group], same_window: bool
) -> tuple[dict[str, Group], dict[str, _RawGroup]]:
    """Return (the groups unchanged since ``previous``, as they were; the groups to read).

    A series is unchanged only when it is expanded for the same window too.
    """
    kept: dict[str, Group] = {}
    stale: dict[str, _RawGroup] = {}
    for uid, raw in groups.items():
        old = previous.get(uid)
        if old is not None and old.digest == raw.digest() and (not raw.recurring or same_window):
            kept[uid] = old
        else:
            stale[uid] = raw
    return kept, stale


def _add_groups(
    result: ReadResult,
    groups: Mapping[str, _RawGroup],
    kept: dict[str, Group],
    fresh: dict[str, Group],
    fresh_events: dict[str, list[Event]],
) -> None:
    """Add every group to ``result``, in file order: kept ones' uids as unchanged, fresh events."""
    for uid in groups:
        group = kept[uid] if uid in kept else fresh[uid]
        if uid in kept:
            result.unchanged.extend(group.uids)
        else:
            result.events.extend(fresh_events[uid])
        result.warn_all(group.warnings)
        result.failed_entries += group.failed


def _read_whole(
    data: bytes, defaults: SourceDefaults, window: Window, digest: str, wkey: str
) -> tuple[ReadResult, Snapshot]:
    """Return a full read of ``data``, and its snapshot with the events sorted into UID groups.

    One full parse is cheaper than a parse per group (VTIMEZONEs would be
    parsed once per group). The file is split into groups only once it is
    read, so that this split and the reader's own (a big file is parsed a few
    groups at a time) never take memory at once.
    """
    result = read_ical(data, defaults, window=window)
    split = _split(data)
    if split is None:
        # read whole every time; still say whether series need the window re-expanded
        recurring = bool(_RRULE_BYTES.search(data)) or _is_utf16(data)
        return result, Snapshot(digest, wkey, recurring=recurring, warnings=list(result.warnings))
    _, header, groups = split
    context = _context_digest(header, defaults)
    return result, _snapshot_from_full(result, digest, wkey, context, groups)


def _split(data: bytes) -> tuple[list[str], str, Mapping[str, _RawGroup]] | None:
    """Return :func:`_groups` of ``data``, or None when it cannot be split."""
    try:
        return _groups(data)
    except Exception:  # noqa: BLE001 - an odd file is simply read whole
        return None


def _groups(data: bytes) -> tuple[list[str], str, Mapping[str, _RawGroup]] | None:
    """Return (decoding warnings, calendar header text, UID groups), or None when not splittable."""
    warnings: list[str] = []
    text = decode(data, warnings)
    layout = outline(text)
    if layout is None or not layout.complete:
        return None  # several VCALENDARs, one cut short, nested VEVENTs: read whole
    groups = _RawGroups(layout)
    # the calendar's properties and VTIMEZONEs, without its BEGIN/END lines
    context = _VCALENDAR_LINE.sub("", _stripped(layout.header_text()))
    return warnings, context, groups


def _stripped(text: str) -> str:
    """Return ``text`` without DTSTAMP lines and CRs: what never matters to the reader."""
    return _DTSTAMP_TEXT.sub("", text).replace("\r\n", "\n")


def _unified(text: str) -> bytes:
    """Return ``text`` (already without DTSTAMP lines and CRs) as bytes, for digests."""
    return text.encode("utf-8", "surrogatepass")


def _context_digest(header: str, defaults: SourceDefaults) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{READER_VERSION}|{defaults!r}".encode())
    h.update(_unified(header))
    return h.hexdigest()


def _calendar_of(header: str, groups: dict[str, _RawGroup]) -> bytes:
    """Return a calendar of the file's properties, VTIMEZONEs and these groups' VEVENTs."""
    parts = ["BEGIN:VCALENDAR\r\n", header.strip("\r\n"), "\r\n"]
    for raw in groups.values():
        parts.extend(raw.blocks)
    text = "".join(parts)
    if not text.endswith("\n"):
        text += "\r\n"
    return (text + "END:VCALENDAR\r\n").encode("utf-8", "surrogatepass")


def _sort_into_groups(
    result: ReadResult, groups: Mapping[str, _RawGroup]
) -> tuple[dict[str, Group], dict[str, list[Event]], list[str]] | None:
    """Return ``result`` sorted into ``groups``: (groups, their events, warnings naming none).

    None when an event, a failed entry or a warning cannot be placed in a group.
    """
    if result.failed_entries or result.more_warnings:
        # an entry that failed cannot be placed, nor warnings that were only counted
        return None
    events: dict[str, list[Event]] = {uid: [] for uid in groups}
    for event in result.events:
        base = event.source_uid.split("#", 1)[0]
        owner = base if base in events else event.source_uid
        if owner not in events:
            return None  # a made-up uid, a UID with '#'
        events[owner].append(event)
    warnings: dict[str, list[str]] = {uid: [] for uid in groups}
    loose: list[str] = []
    for warning in result.warnings:
        named = next((uid for uid in groups if uid and f"VEVENT {uid}" in warning), None)
        if named is None:
            loose.append(warning)
        else:
            warnings[named].append(warning)
    built = {
        uid: Group.of(raw.digest(), raw.recurring, events[uid], warnings[uid], 0)
        for uid, raw in groups.items()
    }
    return built, events, loose


def _snapshot_from_full(
    result: ReadResult, digest: str, wkey: str, context: str, groups: Mapping[str, _RawGroup]
) -> Snapshot:
    """Return the snapshot of a full read, its events and warnings sorted into UID groups."""
    recurring = any(raw.recurring for raw in groups.values())
    sorted_out = _sort_into_groups(result, groups)
    if sorted_out is None:  # read this file whole until it changes
        return Snapshot(digest, wkey, context, recurring, list(result.warnings))
    kept, _, file_warnings = sorted_out
    return Snapshot(digest, wkey, context, recurring, file_warnings, kept)
