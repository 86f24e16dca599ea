"""What a hostile source can put in the store, and what every output then shows.

Records are cleaned at the one place they enter the store (``upsert_events``
through ``techcal.normalise.clean``): characters XML 1.0 and RFC 5545 forbid, and
the controls a terminal obeys, become spaces; fields are capped; links are
http(s) or nothing; dates outside 1900-2200 are refused with a warning.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import icalendar
import pytest

from techcal.event import Event
from techcal.normalise.clean import LIMITS, clean_record, clean_text

#: what RFC 5545 forbids in a content line (CONTROL but HTAB) and XML 1.0 in a document
FORBIDDEN = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
XML_FORBIDDEN = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def techcal(db: Path, *args: str, env: dict[str, str] | None = None, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "techcal.cli", "--db", str(db), *args],
        capture_output=True, timeout=120, env={**os.environ, **(env or {})}, **kwargs,
    )  # fmt: skip


def vcalendar(*events: str) -> bytes:
    body = "".join(
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:{start}\r\n"
        f"SUMMARY:{title}\r\nEND:VEVENT\r\n"
        for uid, start, title in events
    )
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
    return f"{head}{body}END:VCALENDAR\r\n".encode()


def record(**changes) -> Event:
    values = dict(source="s", source_uid="u1", title="PLUG meeting",
                  start=datetime(2027, 1, 9, 18, tzinfo=UTC))  # fmt: skip
    values.update(changes)
    return Event(**values)


# -- the cleaning itself -----------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "lines", "clean"),
    [
        ("Meetup\x0bnight", False, "Meetup night"),
        ("Rust\x1b[2J Berlin\x07", False, "Rust [2J Berlin "),
        ("CSI\x9b1m here\x7f", False, "CSI 1m here "),
        ("one\r\ntwo\rthree\u2028four", True, "one\ntwo\nthree\nfour"),
        ("one\r\ntwo\nthree", False, "one two three"),
        ("tab\tkept", False, "tab\tkept"),
        ("lone \ud800 surrogate \ufffe", False, "lone \ufffd surrogate \ufffd"),
        ("Ünïcödé, 東京, emoji 🐧", False, "Ünïcödé, 東京, emoji 🐧"),
    ],
)
def test_clean_text(raw, lines, clean):
    assert clean_text(raw, lines=lines) == clean


def test_a_clean_record_is_returned_as_it_is():
    good = record(description="Line one\nLine two", url="https://pdxlinux.org/")
    assert clean_record(good) == (good, [])
    assert clean_record(good)[0] is good


def test_fields_are_capped_links_checked_and_each_change_named():
    bad = record(
        title="Talk " * 50_000,
        description="x" * 100_000,
        venue="\x1b]0;owned\x07Room 1",
        url="javascript:alert(1)",
        online_url="https://meet.example/" + "a" * 5_000,
        source_uid="uid-" + "z" * 5_000,
        categories=tuple(f"c{n}" for n in range(80)),
    )
    cleaned, notes = clean_record(bad)
    assert len(cleaned.title) <= LIMITS["title"] and cleaned.title.endswith("…")
    assert cleaned.title.startswith("Talk Talk")
    assert len(cleaned.description) == LIMITS["description"]
    assert cleaned.venue == " ]0;owned Room 1"
    assert cleaned.url is None and cleaned.online_url is None
    assert len(cleaned.categories) == 50
    # a long uid stays itself on every read, and apart from others
    assert len(cleaned.source_uid) <= LIMITS["source_uid"]
    assert cleaned.source_uid == clean_record(bad)[0].source_uid
    assert cleaned.source_uid != clean_record(record(source_uid="uid-" + "z" * 4_999))[0].source_uid
    assert cleaned.problems() == []
    text = "\n".join(notes)
    assert "title cut to 500 characters (it had 250,000)" in text
    assert "description cut to 20,000 characters" in text
    assert "url dropped: not an http(s) link (javascript)" in text
    assert "online_url dropped: longer than 2,048 characters" in text
    assert "30 categories over 50 dropped" in text
    assert all("\n" not in note for note in notes)


@pytest.mark.parametrize(
    ("start", "ok"),
    [
        (datetime(1900, 1, 1, tzinfo=UTC), True),
        (datetime(2200, 12, 31, 23, 59, tzinfo=UTC), True),
        (datetime(1899, 12, 31, 23, 59, tzinfo=UTC), False),
        (datetime(2201, 1, 1, tzinfo=UTC), False),
        (datetime(9999, 12, 31, 23, tzinfo=UTC), False),
    ],
)
def test_the_years_an_event_may_fall_in(start, ok):
    assert (record(start=start).problems() == []) is ok
    if not ok:
        assert "is outside the years 1900-2200" in record(start=start).problems()[0]


# -- end to end: a hostile source, then every output -------------------------

HOSTILE_RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:ev="http://purl.org/rss/1.0/modules/event/"><channel>
<title>Hostile LUG</title><link>https://lug.example/</link><description>x</description>
<item><title>Meetup&#11;night &#8;at&#31;the lab</title>
<link>https://lug.example/e/1</link><guid>https://lug.example/e/1</guid>
<description>Bring a laptop&#12; and &#1;snacks</description>
<ev:startdate>{start}</ev:startdate></item>
</channel></rss>
"""


def test_a_hostile_source_cannot_break_an_output(tmp_path):
    db = tmp_path / "t.db"
    tomorrow = datetime.now(UTC) + timedelta(days=1)  # upcoming, so in every feed
    start = tomorrow.strftime("%Y%m%dT190000Z")
    hostile_ics = vcalendar(
        ("esc@x", start, "Rust\x1b]0;owned\x07 night\x1b[2J \x9b31m"),
        ("big@x", start, "Huge " * 400_000),  # a 2 MB title line
        ("js@x", start, "Linked"),
    ).replace(b"SUMMARY:Linked", b"SUMMARY:Linked\r\nURL:javascript:alert(document.cookie)")
    (tmp_path / "hostile.ics").write_bytes(hostile_ics)
    soon = tomorrow.strftime("%Y-%m-%dT19:00:00Z")
    (tmp_path / "hostile.rss").write_text(HOSTILE_RSS.format(start=soon), encoding="utf-8")
    done = techcal(db, "import", str(tmp_path / "hostile.ics"), str(tmp_path / "hostile.rss"))
    assert done.returncode == 0, done.stderr
    err = done.stderr.decode()
    assert "Traceback" not in err
    # each change is named once, with its source and entry
    assert re.search(r"warning: .*hostile.*big@x.*title cut to 500 characters", err), err
    assert re.search(r"warning: .*hostile.*js@x.*url dropped: not an http\(s\) link", err), err
    assert all(len(line) < 400 for line in err.splitlines())

    site = tmp_path / "site"
    published = techcal(db, "publish", str(site), "--base-url", "https://ev.example/")
    assert published.returncode == 0, published.stderr
    for path in site.rglob("*.ics"):
        for line in path.read_bytes().split(b"\r\n"):
            assert not FORBIDDEN.search(line), (path, line)
        icalendar.Calendar.from_ical(path.read_bytes())
    for path in [*site.rglob("*.atom"), site / "index.html", site / "all.json"]:
        assert not XML_FORBIDDEN.search(path.read_bytes()), path
    atom = feedparser.parse((site / "all.atom").read_bytes())
    assert not atom.bozo, atom.bozo_exception
    titles = {entry.title for entry in atom.entries}
    assert any(t.startswith("Meetup night  at the lab (") for t in titles), titles
    assert any(t.startswith("Rust ]0;owned  night [2J  31m (") for t in titles), titles
    assert len(max(titles, key=len)) <= 500 + 40  # and the date after it
    events = json.loads((site / "all.json").read_text())
    assert not [e for e in events if e["url"] and not e["url"].startswith("https:")]

    # the terminal gets no escape sequence, in any format
    for args in (["search"], ["search", "--format", "csv"], ["search", "--format", "json"],
                 ["show", "1"], ["show", "2"], ["show", "3"], ["show", "4"]):  # fmt: skip
        shown = techcal(db, *args)
        assert shown.returncode == 0, shown.stderr
        assert not re.search(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]", shown.stdout), args


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_dates_at_the_edges_are_kept_or_refused_with_a_warning(tmp_path, zone):
    db = tmp_path / "t.db"
    (tmp_path / "edges.ics").write_bytes(vcalendar(
        ("first@x", "19000101T000000Z", "Earliest"),
        ("last@x", "22001231T235900Z", "Latest"),
        ("before@x", "18991231T235900Z", "Too early"),
        ("after@x", "22010101T000000Z", "Too late"),
        ("far@x", "99991231T230000Z", "Far future"),
    ))  # fmt: skip
    env = {"TZ": zone}
    done = techcal(db, "import", str(tmp_path / "edges.ics"), env=env)
    assert done.returncode == 0, done.stderr
    err = done.stderr.decode()
    for uid in ("before@x", "after@x", "far@x"):
        line = next(x for x in err.splitlines() if uid in x)
        assert "edges" in line and "outside the years 1900-2200" in line, line
    assert "2 new" in done.stdout.decode()
    window = ["--from", "1899-12-01", "--to", "2201-01-31"]
    for fmt in ("table", "json", "csv", "ics"):
        for extra in ([], ["--tz", zone]):
            shown = techcal(db, "search", *window, "--format", fmt, *extra, env=env)
            assert shown.returncode == 0, (fmt, shown.stderr)
            out = shown.stdout.decode()
            assert "Earliest" in out and "Latest" in out, (fmt, out)
    rows = list(
        csv.DictReader(
            io.StringIO(
                techcal(
                    db, "search", *window, "--format", "csv", "--tz", zone, env=env
                ).stdout.decode()
            )
        )
    )
    years = sorted(datetime.fromisoformat(r["start"]).year for r in rows)
    expected = [
        moment.astimezone(ZoneInfo(zone)).year
        for moment in (datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 12, 31, 23, 59, tzinfo=UTC))
    ]
    assert years == expected and expected[1] == (2201 if zone == "Pacific/Kiritimati" else 2200)
    for event_id in ("1", "2"):
        assert techcal(db, "show", event_id, env=env).returncode == 0
