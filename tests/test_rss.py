"""The RSS/Atom reader, run over tests/fixtures/rss/.

Each fixture ``<case>.<ext>`` has a ``<case>.expect.toml`` beside it: the
source defaults to read it with (``[defaults]``), what the whole result must
hold (``[expect]``: counts, pages, warnings) and, in order, the fields of the
events it must yield (``[[event]]``; ``none`` lists fields that must be empty).
"""

from __future__ import annotations

import doctest
import random
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import techcal.feeds.jsonld
from techcal.feeds.base import ReadResult, SourceDefaults, Window
from techcal.feeds.jsonld import events_from_jsonld
from techcal.feeds.rss import read_feed

from conftest import FIXTURES

RSS = FIXTURES / "rss"
CASES = sorted(p for p in RSS.iterdir() if not p.name.endswith(".toml"))


def expectations(path: Path) -> dict[str, Any]:
    """Return the parsed ``<case>.expect.toml`` beside fixture ``path``."""
    sidecar = path.with_name(path.name.rsplit(".", 1)[0] + ".expect.toml")
    return tomllib.loads(sidecar.read_text(encoding="utf-8"))


def read_case(path: Path) -> tuple[ReadResult, dict[str, Any]]:
    spec = expectations(path)
    defaults = SourceDefaults(source=path.stem, **spec.get("defaults", {}))
    return read_feed(path.read_bytes(), defaults), spec


def test_every_fixture_has_expectations():
    assert len(CASES) >= 14
    for path in CASES:
        assert expectations(path)["expect"], path.name


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_fixture(path: Path):
    result, spec = read_case(path)
    expect = spec["expect"]
    summary = [(e.title, e.start.isoformat()) for e in result.events]
    assert len(result.events) == expect["events"], (summary, result.warnings)
    assert result.pages == expect["pages"]
    assert len(result.warnings) == expect["warnings"], result.warnings
    for fragment in expect.get("warning_contains", []):
        assert any(fragment in w for w in result.warnings), (fragment, result.warnings)
    assert all("\n" not in w for w in result.warnings)
    assert result.recognised == expect.get("recognised", True)
    assert result.failed_entries == expect.get("failed_entries", 0)
    assert result.complete == expect.get("complete", result.recognised)
    for event in result.events:
        assert event.problems() == [], (event.source_uid, event.problems())
        assert event.source == path.stem
    for event, wanted in zip(result.events, spec.get("event", []), strict=False):
        actual = event.to_dict()
        for name in wanted.pop("none", []):
            assert actual[name] is None, (event.title, name, actual[name])
        assert {k: actual[k] for k in wanted} == wanted, event.title


def test_times_are_aware_and_keep_their_offsets():
    result, _ = read_case(RSS / "mod-event-rss1.rdf")
    meeting = result.events[0]
    assert meeting.start == datetime(2026, 12, 6, 0, 30, tzinfo=UTC)
    assert meeting.start.utcoffset() is not None and meeting.end is not None


def test_floating_time_without_a_source_zone_is_utc_with_a_warning():
    body = (RSS / "mod-event-rss2.xml").read_bytes()
    result = read_feed(body, SourceDefaults(source="wsu"))
    talk = result.events[0]
    assert talk.start.isoformat() == "2026-12-02T16:10:00+00:00"
    assert talk.timezone == "UTC"
    assert any("p=4411: ev: start has no time zone; taken as UTC" in w for w in result.warnings)


def test_window_is_accepted_and_does_not_drop_single_events():
    body = (RSS / "xcal.xml").read_bytes()
    far = Window(datetime(2030, 1, 1, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC))
    assert len(read_feed(body, SourceDefaults(source="pub"), window=far).events) == 2


def test_reading_twice_gives_the_same_identities():
    body = (RSS / "jsonld-content-encoded.xml").read_bytes()
    first = read_feed(body, SourceDefaults(source="hack"))
    second = read_feed(body, SourceDefaults(source="hack"))
    assert [e.to_dict() for e in first.events] == [e.to_dict() for e in second.events]


@pytest.mark.parametrize("seed", range(40))
def test_garbage_never_raises(seed: int):
    rng = random.Random(seed)
    pieces = [p.read_bytes() for p in CASES]
    body = rng.choice(pieces)
    if body:
        # cut, splice and flip bytes in a real fixture
        cut = rng.randrange(len(body))
        body = body[:cut] + bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
        body += rng.choice(pieces)[cut:]
    result = read_feed(body, SourceDefaults(source="fuzz", timezone="Not/AZone"))
    for event in result.events:
        assert event.problems() == []


def test_not_a_feed_inputs_say_so_once():
    for body in (b"\x00\xff\xfe garbage \x89PNG", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", b"   "):
        result = read_feed(body, SourceDefaults(source="odd"))
        assert result.events == [] and len(result.warnings) == 1, result.warnings
        assert not result.recognised


def test_jsonld_events_for_a_web_page():
    page = {
        "@context": "https://schema.org",
        "@type": ["Event", "EducationEvent"],
        "@id": "https://lug.example.org/talks/7#event",
        "name": "Intro to eBPF",
        "startDate": "2026-12-01T19:00:00-08:00",
        "location": [
            {"@type": "VirtualLocation", "url": "https://lug.example.org/live"},
            {"@type": "Place", "name": "Lucky Lab", "address": "915 SE Hawthorne Blvd"},
        ],
        "eventAttendanceMode": "https://schema.org/MixedEventAttendanceMode",
        "url": "talks/7",
        "keywords": "linux, ebpf",
        "offers": [{"@type": "Offer", "price": 5, "priceCurrency": "USD"}],
    }
    defaults = SourceDefaults(source="lug", kind="lug", timezone="America/Los_Angeles")
    events, warnings = events_from_jsonld([page], defaults, "https://lug.example.org/")
    assert warnings == []
    (event,) = events
    assert event.source_uid == "https://lug.example.org/talks/7#event"
    assert event.url == "https://lug.example.org/talks/7"
    assert event.timezone == "America/Los_Angeles"
    assert (event.venue, event.address) == ("Lucky Lab", "915 SE Hawthorne Blvd")
    assert event.online and event.online_url == "https://lug.example.org/live"
    assert event.categories == ("linux", "ebpf") and event.cost == "5 USD"


def test_jsonld_without_name_or_start_is_skipped_with_a_warning():
    objects = [{"@type": "Event", "name": "No date"}, {"@type": "Event", "startDate": "2026"}]
    events, warnings = events_from_jsonld(objects, SourceDefaults(source="x"), None)
    assert events == []
    assert warnings == [
        'JSON-LD event "No date" has no startDate; skipped',
        'JSON-LD event without a name (startDate "2026"); skipped',
    ]


def test_jsonld_docstring_examples():
    failures, tried = doctest.testmod(techcal.feeds.jsonld, verbose=False)
    assert tried > 0 and failures == 0
