"""Incremental iCal reading gives exactly what a full read gives, at the cost of what changed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import techcal.feeds.incremental as incremental
from techcal.feeds.base import SourceDefaults, Window
from techcal.feeds.ical import read_ical
from techcal.feeds.incremental import Snapshot, file_digest, read_ical_incremental

from conftest import FIXTURES, SHARED_FIXTURES, all_events, roundtrip

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
WINDOW = Window.around(NOW)
DEFAULTS = SourceDefaults(source="plug", kind="lug", timezone="America/Los_Angeles")
FILES = sorted((FIXTURES / "ical").glob("*.ics")) + sorted((SHARED_FIXTURES / "ics").glob("*.ics"))
_SUMMARY = re.compile(rb"^(SUMMARY[^:\r\n]*:)", re.M | re.I)


def same(a, b, earlier=None):
    """``a`` (incremental, its unchanged events as ``earlier`` gave them) is ``b`` (whole)."""
    assert all_events(a, earlier) == all_events(b)
    assert a.failed_entries == b.failed_entries
    assert _ignoring_lines(a.warnings) == _ignoring_lines(b.warnings)


def _ignoring_lines(warnings):
    return {re.sub(r" \(line \d+\)", "", w) for w in warnings}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_incremental_equals_full_read_on_every_fixture(path: Path):
    data = path.read_bytes()
    window = (
        WINDOW  # most real files' series still recur in it; singles are kept whatever their date
    )
    cold, snapshot = read_ical_incremental(data, DEFAULTS, window=window)
    same(cold, read_ical(data, DEFAULTS, window=window))

    # unchanged: the same result from the snapshot
    again, again_snapshot = read_ical_incremental(
        data, DEFAULTS, window=window, previous=roundtrip(snapshot)
    )
    same(again, cold, cold)
    if snapshot.groups is not None and not snapshot.warnings:
        assert again.events == [] and len(again.unchanged) == len(cold.events)

    # one SUMMARY changed: only that group is read again, and the result is a full read's
    changed = _SUMMARY.sub(rb"\1Changed: ", data, count=1)
    if changed != data:
        warm, _ = read_ical_incremental(
            changed, DEFAULTS, window=window, previous=roundtrip(snapshot)
        )
        same(warm, read_ical(changed, DEFAULTS, window=window), cold)


def test_only_changed_groups_are_parsed(monkeypatch):
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:e{n}@plug\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART;TZID=America/Los_Angeles:20261201T{10 + n % 8:02d}0000\r\n"
        f"SUMMARY:Talk {n}\r\nEND:VEVENT\r\n"
        for n in range(200)
    )
    series = (
        "BEGIN:VEVENT\r\nUID:weekly@plug\r\nDTSTAMP:20261101T000000Z\r\n"
        "DTSTART;TZID=America/Los_Angeles:20261103T180000\r\nRRULE:FREQ=WEEKLY\r\n"
        "SUMMARY:Hack night\r\nEND:VEVENT\r\n"
    )
    text = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{events}{series}END:VCALENDAR\r\n"
    data = text.encode()
    first, snapshot = read_ical_incremental(data, DEFAULTS, window=WINDOW)
    parsed: list[str] = []
    real = incremental._calendar_of

    def counting(header, groups):
        parsed.extend(groups)
        return real(header, groups)

    monkeypatch.setattr(incremental, "_calendar_of", counting)
    # DTSTAMP rewritten on every request: not a change
    restamped = data.replace(b"DTSTAMP:20261101T000000Z", b"DTSTAMP:20261122T093000Z")
    assert file_digest(restamped) == file_digest(data)
    result, _ = read_ical_incremental(restamped, DEFAULTS, window=WINDOW, previous=snapshot)
    assert parsed == [] and result.events == [] and len(result.unchanged) == 200 + 53

    edited = data.replace(b"SUMMARY:Talk 7\r\n", b"SUMMARY:Talk 7 (room change)\r\n")
    result, _ = read_ical_incremental(edited, DEFAULTS, window=WINDOW, previous=snapshot)
    assert parsed == ["e7@plug"]
    assert [e.title for e in result.events] == ["Talk 7 (room change)"]
    assert len(result.unchanged) == 199 + 53

    # a week later the unchanged series is expanded again into the moved window
    parsed.clear()
    later = Window.around(NOW + timedelta(days=7))
    result, _ = read_ical_incremental(data, DEFAULTS, window=later, previous=snapshot)
    assert parsed == ["weekly@plug"]
    same(result, read_ical(data, DEFAULTS, window=later), first)


def test_changed_timezone_or_defaults_reads_everything_again():
    data = (FIXTURES / "ical" / "meetup.ics").read_bytes()
    _, snapshot = read_ical_incremental(data, DEFAULTS, window=WINDOW)
    other = SourceDefaults(source="plug", kind="user-group", timezone="Europe/Berlin")
    result, _ = read_ical_incremental(data, other, window=WINDOW, previous=snapshot)
    same(result, read_ical(data, other, window=WINDOW))
    assert {e.kind for e in result.events} == {"user-group"}


def test_unreadable_snapshot_is_ignored():
    assert Snapshot.from_bytes(b"not zlib") is None
    assert Snapshot.from_bytes(b"x\x01" + b"\x00" * 10) is None


def test_a_file_read_whole_still_says_it_has_series():
    # two VCALENDARs in one file cannot be split into groups: read whole, and
    # the caller must still re-read it when the window moves
    one = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:w@x\r\n"
        "DTSTART:20261103T180000Z\r\nRRULE:FREQ=WEEKLY\r\nSUMMARY:Hack night\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    _, snapshot = read_ical_incremental((one + one).encode(), DEFAULTS, window=WINDOW)
    assert snapshot.groups is None and snapshot.recurring


def test_folded_dtstamp_is_ignored_whole():
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
        "BEGIN:VEVENT\r\nUID:a@x\r\nDTSTAMP:20261122\r\n T000000Z\r\n"
        "DTSTART:20261201T180000Z\r\nSUMMARY:Rust night\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:b@x\r\nDTSTART:20261202T180000Z\r\nSUMMARY:Go night\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    data = text.encode()
    first, snapshot = read_ical_incremental(data, DEFAULTS, window=WINDOW)
    changed = data.replace(b"Go night", b"Go night!")
    warm, _ = read_ical_incremental(changed, DEFAULTS, window=WINDOW, previous=snapshot)
    same(warm, read_ical(changed, DEFAULTS, window=WINDOW), first)
    assert file_digest(data) == file_digest(data.replace(b"\r\n T000000Z", b"\r\n T120000Z"))
