"""The iCalendar reader against files shaped like real exports, each saying what it expects.

Every file in ``tests/fixtures/ical/`` is read with the window around the
frozen NOW and checked against its sidecar ``<file>.expect.toml``:

- ``count``: how many events the file gives;
- ``warnings``: one substring per expected warning, in order (no others allowed);
- ``failed_entries`` (default 0) and ``recognised`` (default true), as on ReadResult;
- ``[defaults]``: SourceDefaults fields for the read (``source`` is "test");
- ``[[event]]``: events found by ``source_uid``; every other key must equal the
  Event field (``start``/``end`` as ISO 8601 with offset, lists for tuples);
  ``none = [...]`` lists the fields that must be None (TOML has no null).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from techcal.event import Event
from techcal.feeds.base import ReadResult, SourceDefaults, Window
from techcal.feeds.ical import read_ical

from conftest import FIXTURES, NOW

ICAL = FIXTURES / "ical"
CASES = sorted(p for p in ICAL.iterdir() if not p.name.endswith(".expect.toml"))


def read_case(path: Path, **defaults: Any) -> ReadResult:
    """Return what read_ical makes of a fixture file, with time frozen at NOW."""
    return read_ical(
        path.read_bytes(),
        SourceDefaults(source="test", **defaults),
        window=Window.around(NOW),
    )


def field_value(event: Event, name: str) -> Any:
    """Return an Event field in the form the expectation files write it."""
    value = getattr(event, name)
    if name in ("start", "end") and value is not None:
        return value.isoformat()
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_fixture(path: Path) -> None:
    expect = tomllib.loads(Path(f"{path}.expect.toml").read_text(encoding="utf-8"))
    result = read_case(path, **expect.get("defaults", {}))

    wanted = expect.get("warnings", [])
    assert len(result.warnings) == len(wanted), result.warnings
    for text, warning in zip(wanted, result.warnings, strict=True):
        assert text in warning
    assert all("\n" not in warning for warning in result.warnings)

    assert result.failed_entries == expect.get("failed_entries", 0)
    assert result.recognised == expect.get("recognised", True)
    assert len(result.events) == expect["count"], [e.source_uid for e in result.events]
    by_uid = {event.source_uid: event for event in result.events}
    assert len(by_uid) == len(result.events), "source_uid must be unique within a file"
    for event in result.events:
        assert event.problems() == []
        assert event.source == "test"
    for wanted_event in expect.get("event", []):
        uid = wanted_event["source_uid"]
        assert uid in by_uid, sorted(by_uid)
        must_be_none = dict.fromkeys(wanted_event.pop("none", []))
        wanted_fields = {**wanted_event, **must_be_none}
        got = {name: field_value(by_uid[uid], name) for name in wanted_fields}
        assert got == wanted_fields


def test_every_fixture_states_its_expectations() -> None:
    assert CASES
    for path in CASES:
        assert Path(f"{path}.expect.toml").exists(), path.name


def test_reading_twice_gives_the_same_uids() -> None:
    # UIDs made up for VEVENTs without one, and occurrence keys, must not drift between crawls
    path = ICAL / "no-uid.ics"
    first, second = read_case(path), read_case(path)
    assert [e.source_uid for e in first.events] == [e.source_uid for e in second.events]


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\xff" * 50,
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2026",
        b"BEGIN:VEVENT\nUID:x\nDTSTART:20261201T100000Z\nSUMMARY:no calendar around\nEND:VEVENT\n",
        b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nRRULE:FREQ=SOMETIMES\nDTSTART:20261201\nEND:VEVENT\n",
        "BEGIN:VCALENDAR\nX-WR-TIMEZONE:Mars/Olympus\nEND:VCALENDAR\n".encode("utf-16"),
    ],
    ids=["binary", "cut-short", "no-vcalendar", "bad-rrule", "bad-x-wr-timezone"],
)
def test_bad_input_never_raises(data: bytes) -> None:
    result = read_ical(data, SourceDefaults(source="test"), window=Window.around(NOW))
    assert all(event.problems() == [] for event in result.events)
    assert result.events or result.warnings
