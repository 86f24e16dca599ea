"""Reading an iCalendar file again at the cost of what changed in it.

icalendar parses about a thousand VEVENTs a second, so a crawl that re-reads
unchanged exports must not parse them again. :func:`file_digest` lets the
caller skip a file whose content (ignoring DTSTAMP, which many servers
rewrite on every request) is the same as last time. Within a changed file,
:func:`read_ical_incremental` splits the raw text into UID groups (a series
and its RECURRENCE-ID overrides are one group), and parses only the groups
that are new or changed, each together with the file's calendar properties
and VTIMEZONEs. The events equal those of a full :func:`read_ical`.

The :class:`Snapshot` it returns is plain data for the caller to keep
(``techcal.store`` keeps it per source); this module stays pure.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

from techcal.event import Event
from techcal.feeds.base import ReadResult, SourceDefaults, Window
from techcal.feeds.ical import _decode, _split, read_ical

_DTSTAMP = re.compile(rb"^DTSTAMP[;:][^\n]*\n?", re.I | re.M)
_DTSTAMP_TEXT = re.compile(r"^DTSTAMP[;:].*$", re.I)
_RRULE = re.compile(r"^(RRULE|RDATE)[;:]", re.I)
_FORMAT = 1


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
    events: list[Event] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failed: int = 0


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
                uid: [g.digest, g.recurring, [e.to_dict() for e in g.events], g.warnings, g.failed]
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
                    uid: Group(d, r, [Event.from_dict(e) for e in events], w, f)
                    for uid, (d, r, events, w, f) in groups.items()
                },
            )
        except (ValueError, KeyError, TypeError, zlib.error):
            return None


@dataclass
class _RawGroup:
    blocks: list[list[str]] = field(default_factory=list)
    recurring: bool = False

    def digest(self) -> str:
        h = hashlib.blake2b(digest_size=16)
        for block in self.blocks:
            for line in block:
                if not _DTSTAMP_TEXT.match(line):
                    h.update(line.encode("utf-8", "surrogatepass"))
                    h.update(b"\n")
        return h.hexdigest()


def read_ical_incremental(
    data: bytes,
    defaults: SourceDefaults,
    *,
    window: Window | None = None,
    previous: Snapshot | None = None,
) -> tuple[ReadResult, Snapshot]:
    """Return the events of ``data`` (as :func:`read_ical` would) and the snapshot for next time.

    Groups whose text, context and (for series) window are unchanged since
    ``previous`` are taken from it instead of being parsed again.
    """
    window = window or Window.around()
    digest = file_digest(data)
    wkey = window_key(window)
    try:
        split = _groups(data)
    except Exception:  # noqa: BLE001 - an odd file is simply read whole
        split = None
    if split is None:
        result = read_ical(data, defaults, window=window)
        return result, Snapshot(digest, wkey, warnings=list(result.warnings))
    decode_warnings, header, groups = split
    context = _context_digest(header, defaults)

    if previous is None or previous.groups is None or previous.context != context:
        # cold: one full parse is cheaper than a parse per group (VTIMEZONEs
        # would be parsed once per group); the events are then sorted into groups
        result = read_ical(data, defaults, window=window)
        return result, _snapshot_from_full(result, digest, wkey, context, groups)

    result = ReadResult(warnings=list(decode_warnings))
    kept: dict[str, Group] = {}
    for uid, raw in groups.items():
        group_digest = raw.digest()
        old = previous.groups.get(uid)
        if (
            old is not None
            and old.digest == group_digest
            and (not raw.recurring or previous.window_key == wkey)
        ):
            group = old
        else:
            group = _read_group(header, raw, defaults, window, group_digest)
        kept[uid] = group
    file_warnings = [w for w in previous.warnings if w not in decode_warnings]
    result.warnings.extend(file_warnings)
    for group in kept.values():
        result.events.extend(group.events)
        result.warnings.extend(group.warnings)
        result.failed_entries += group.failed
    result.warnings = list(dict.fromkeys(result.warnings))
    recurring = any(raw.recurring for raw in groups.values())
    snapshot = Snapshot(digest, wkey, context, recurring, file_warnings, kept)
    return result, snapshot


def _groups(data: bytes) -> tuple[list[str], list[str], dict[str, _RawGroup]] | None:
    """Return (decoding warnings, header lines, UID groups), or None when not splittable."""
    warnings: list[str] = []
    text = _decode(data, warnings)
    calendars = _split(text)
    if len(calendars) != 1:
        return None  # several VCALENDARs (or none): rare, read whole
    pieces = calendars[0]
    header = list(pieces.header)
    for _, lines in pieces.timezones:
        header.extend(lines)
    groups: dict[str, _RawGroup] = {}
    for _, lines in pieces.events:
        if not lines or not lines[-1].strip().upper().startswith("END:VEVENT"):
            return None  # a block cut short: the full reader knows how to report it
        uid = _uid(lines)
        group = groups.setdefault(uid, _RawGroup())
        group.blocks.append(lines)
        group.recurring = group.recurring or any(_RRULE.match(line) for line in lines)
    return warnings, header, groups


def _uid(lines: list[str]) -> str:
    """Return the UID of a raw VEVENT block, unfolded ("" when it has none)."""
    unfolded: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t") and unfolded:
            unfolded[-1] += line[1:]
        else:
            unfolded.append(line)
    for line in unfolded:
        name, _, value = line.partition(":")
        if name.split(";")[0].strip().upper() == "UID":
            return value.strip()
    return ""


def _context_digest(header: list[str], defaults: SourceDefaults) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(repr(defaults).encode())
    for line in header:
        if not _DTSTAMP_TEXT.match(line):
            h.update(line.encode("utf-8", "surrogatepass"))
            h.update(b"\n")
    return h.hexdigest()


def _read_group(
    header: list[str], raw: _RawGroup, defaults: SourceDefaults, window: Window, digest: str
) -> Group:
    """Return one group parsed on its own, with the file's properties and VTIMEZONEs."""
    lines = ["BEGIN:VCALENDAR", *header]
    for block in raw.blocks:
        lines.extend(block)
    lines.append("END:VCALENDAR")
    result = read_ical("\r\n".join(lines).encode("utf-8", "surrogatepass"), defaults, window=window)
    return Group(digest, raw.recurring, result.events, result.warnings, result.failed_entries)


def _snapshot_from_full(
    result: ReadResult, digest: str, wkey: str, context: str, groups: dict[str, _RawGroup]
) -> Snapshot:
    """Return the snapshot of a full read, its events and warnings sorted into UID groups."""
    kept = {uid: Group(raw.digest(), raw.recurring) for uid, raw in groups.items()}
    recurring = any(raw.recurring for raw in groups.values())
    for event in result.events:
        base = event.source_uid.split("#", 1)[0]
        group = kept.get(base) or kept.get(event.source_uid)
        if group is None:
            # an event we cannot place (a made-up uid, a UID with '#'):
            # keep reading this file whole until it changes shape
            return Snapshot(digest, wkey, context, recurring, list(result.warnings))
        group.events.append(event)
    file_warnings = []
    for warning in result.warnings:
        owner = next((g for uid, g in kept.items() if uid and f"VEVENT {uid}" in warning), None)
        if owner is not None:
            owner.warnings.append(warning)
        else:
            file_warnings.append(warning)
    # entries that failed cannot be placed: while any did, read this file whole
    if result.failed_entries:
        return Snapshot(digest, wkey, context, recurring, list(result.warnings))
    return Snapshot(digest, wkey, context, recurring, file_warnings, kept)
