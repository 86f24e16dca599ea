"""`techcal search`, `show` and `topics` as users and scripts run them."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from datetime import datetime

import icalendar
import pytest
import recurring_ical_events

from techcal.cli import cli
from techcal.store import Source, add_source, upsert_events
from techcal.writers.text import CSV_FIELDS

from conftest import NOW, make_event

LA = "America/Los_Angeles"
#: the fields DESIGN.md promises in every JSON result
DESIGN_FIELDS = {
    "id", "uid", "title", "start", "end", "all_day", "timezone", "url", "venue", "city",
    "lat", "lon", "online", "topics", "kind", "status", "sources",
}  # fmt: skip


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def store(db, db_path):
    """Two sources in Portland and Berlin; events in 2027 around the DST changes."""
    from zoneinfo import ZoneInfo

    la = ZoneInfo(LA)
    add_source(db, Source(name="plug", url="https://pdxlinux.org/e.ics", kind="lug",
                          city="Portland, OR", topics=("linux",)))  # fmt: skip
    add_source(db, Source(name="bln", url="https://berlin.example/e.ics", city="Berlin"))

    def at(*parts):
        return datetime(*parts, tzinfo=la)

    upsert_events(
        db,
        "plug",
        [
            # the Saturday before US daylight saving time starts (2027-03-14)...
            make_event(1, title="PLUG: Python packaging", start=at(2027, 3, 13, 18),
                       end=at(2027, 3, 13, 20), timezone=LA),
            # ...and the Monday after: same wall-clock time, an hour less offset
            make_event(2, title="PLUG: Kubernetes at home", start=at(2027, 3, 15, 18),
                       end=at(2027, 3, 15, 20), timezone=LA),
            make_event(3, title="PLUG: all-day install fest", start=at(2027, 3, 20),
                       end=at(2027, 3, 21), timezone=LA, all_day=True),
        ],
        now=NOW,
    )  # fmt: skip
    upsert_events(
        db,
        "bln",
        [
            make_event(4, source="bln", title="Rust Berlin: embedded", description="",
                       city="Berlin", region=None, country="DE", lat=52.52, lon=13.405,
                       kind="user-group", start=_at("2027-03-16T19:00:00+01:00"), end=None,
                       timezone="Europe/Berlin", venue="c-base", topics=()),
        ],
        now=NOW,
    )  # fmt: skip
    return db_path


MARCH = ["--from", "2027-03-01", "--to", "2027-03-31"]


@pytest.fixture
def upcoming(db, db_path):
    """Events like ``store``'s, dated from the clock: what is "upcoming" is the clock's to say."""
    from datetime import UTC, timedelta

    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=9)
    add_source(db, Source(name="plug", url="https://pdxlinux.org/e.ics", kind="lug",
                          city="Portland, OR", topics=("linux",)))  # fmt: skip
    add_source(db, Source(name="bln", url="https://berlin.example/e.ics", city="Berlin"))
    talks = ["PLUG: Python packaging", "PLUG: Kubernetes at home", "PLUG: all-day install fest"]
    upsert_events(db, "plug", [
        make_event(n, title=title, start=soon + timedelta(days=n), end=None, timezone=LA)
        for n, title in enumerate(talks, start=1)
    ], now=soon - timedelta(days=9))  # fmt: skip
    upsert_events(db, "bln", [
        make_event(4, source="bln", title="Rust Berlin: embedded", description="", city="Berlin",
                   region=None, country="DE", lat=52.52, lon=13.405, kind="user-group",
                   start=soon, end=None, timezone="Europe/Berlin", venue="c-base", topics=()),
    ], now=soon - timedelta(days=9))  # fmt: skip
    return db_path


def run(runner, db_path, *args):
    return runner.invoke(cli, ["--db", str(db_path), *args])


def test_table_shows_times_in_the_zone_asked_for_across_dst(runner, store):
    result = run(runner, store, "search", *MARCH, "--tz", "Europe/Berlin")
    assert result.exit_code == 0, result.output
    out = result.output
    # 18:00 PST is 03:00 in Berlin; after the US change 18:00 PDT is 02:00
    assert re.search(r"Sun 14 Mar( 2027)? 03:00 +PLUG: Python packaging", out)
    assert re.search(r"Tue 16 Mar( 2027)? 02:00 +PLUG: Kubernetes at home", out)
    # an all-day event is the same day everywhere
    assert re.search(r"Sat 20 Mar( 2027)? all day +PLUG: all-day install fest", out)
    local = run(runner, store, "search", *MARCH, "--tz", LA).output
    assert re.search(r"Sat 13 Mar( 2027)? 18:00 +PLUG: Python packaging", local)
    assert re.search(r"Mon 15 Mar( 2027)? 18:00 +PLUG: Kubernetes at home", local)


def test_table_fits_the_terminal(runner, store):
    from zoneinfo import ZoneInfo

    from techcal.store import open_store
    from techcal.store.query import build_query
    from techcal.store.search import search
    from techcal.writers.text import to_table

    db = open_store(store)
    hits = search(db.conn, build_query(date_from="2027-03-01", limit=0, now=NOW), now=NOW)
    for width in (60, 80, 120):
        table = to_table(hits, ZoneInfo("UTC"), now=NOW, width=width)
        assert max(len(line) for line in table.splitlines()) <= width
        assert len(table.splitlines()) == len(hits) + 1


LONG_TITLE = "PLUG: Tracing the Linux kernel with eBPF, bpftrace and a room full of questions"


def _add_long_title(db_path):
    from techcal.store import open_store

    db = open_store(db_path)
    add_source(db, Source(name="ebpf", url="https://ebpf.example/e.ics", city="Berlin"))
    upsert_events(
        db,
        "ebpf",
        [
            make_event(
                9, source="ebpf", title=LONG_TITLE, end=None, start=_at("2027-03-17T19:00:00+01:00")
            )
        ],
        now=NOW,
    )
    db.conn.close()  # fmt: skip


def _techcal(db_path, *args, **run_args):
    return subprocess.run(
        [sys.executable, "-m", "techcal.cli", "--db", str(db_path), *args],
        env={k: v for k, v in os.environ.items() if k != "TECHCAL_COLUMNS"},
        timeout=60, **run_args,
    )  # fmt: skip


def test_a_pipe_gets_whole_cells_whatever_the_width(store):
    _add_long_title(store)
    done = _techcal(store, "search", *MARCH, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert LONG_TITLE in done.stdout and "…" not in done.stdout
    line = next(x for x in done.stdout.splitlines() if LONG_TITLE in x)
    assert len(line) > 100  # wider than any default, so nothing was fitted


def test_a_terminal_gets_a_table_that_fits_its_width(store):
    import fcntl
    import pty
    import struct
    import termios

    _add_long_title(store)
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 60, 0, 0))
    try:
        done = _techcal(store, "search", *MARCH, stdout=follower, stderr=subprocess.PIPE)
        os.close(follower)
        out = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed its side
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(leader)
    assert done.returncode == 0, done.stderr
    lines = out.decode("utf-8").replace("\r\n", "\n").splitlines()
    assert len(lines) == 6  # the header and five events
    assert max(len(x) for x in lines) <= 60
    assert any("Wed 17 Mar" in x and "PLUG: T" in x and "…" in x for x in lines), lines


def test_terminal_output_shows_control_characters_escaped(runner, store):
    import sqlite3

    # written straight into the store, as a database from before cleaning at normalisation
    conn = sqlite3.connect(store)
    hostile = "Rust\x1b]0;owned\x07 Berlin\x1b[2J \u202eevil\x9b1m"
    conn.execute("UPDATE events SET title = ?, description = ? WHERE id = 4",
                 (hostile, "line one\x1b[31m red"))  # fmt: skip
    conn.commit()
    conn.close()
    table = run(runner, store, "search", *MARCH)
    shown = run(runner, store, "show", "4")
    for result in (table, shown):
        assert result.exit_code == 0, result.output
        assert not any(c in result.output for c in "\x1b\x07\x9b\u202e"), result.output
        assert "Rust\\x1b]0;owned\\x07 Berlin\\x1b[2J \\u202eevil\\x9b1m" in result.output
    assert "line one\\x1b[31m red" in shown.output


def test_json_has_the_contract_fields_with_offsets(runner, store):
    result = run(runner, store, "search", *MARCH, "--format", "json")
    assert result.exit_code == 0, result.output
    events = json.loads(result.output)
    assert len(events) == 4
    for event in events:
        assert DESIGN_FIELDS <= set(event)
        assert datetime.fromisoformat(event["start"]).utcoffset() is not None
        assert [s["name"] for s in event["sources"]] in (["plug"], ["bln"])
    first = events[0]
    # the event's own offset, unless --tz says otherwise
    assert first["start"] == "2027-03-13T18:00:00-08:00"
    assert first["timezone"] == LA
    assert "linux" in first["topics"] and "python" in first["topics"]
    assert first["sources"][0]["title"] == "PLUG: Python packaging"
    converted = json.loads(run(runner, store, "search", *MARCH, "--format", "json",
                               "--tz", "UTC").output)  # fmt: skip
    assert converted[0]["start"] == "2027-03-14T02:00:00+00:00"


def test_json_with_near_has_distances(runner, store):
    result = run(runner, store, "search", *MARCH, "--near", "Berlin", "--format", "json")
    assert result.exit_code == 0, result.output
    (event,) = json.loads(result.stdout)
    assert event["title"] == "Rust Berlin: embedded"
    assert event["distance_km"] == pytest.approx(0.7, abs=0.5)


def test_the_chosen_place_is_said_on_stderr(runner, store):
    result = run(runner, store, "search", *MARCH, "--near", "Portland")
    assert result.exit_code == 0
    assert "near Portland, OR, US" in result.stderr
    assert "most populous of" in result.stderr
    assert "near Portland" not in result.stdout


def test_csv(runner, store):
    result = run(runner, store, "search", *MARCH, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == list(CSV_FIELDS)
    assert [r["title"] for r in rows][0] == "PLUG: Python packaging"
    assert rows[0]["sources"] == "plug"
    assert "linux" in rows[0]["topics"].split(";")


def test_ics_output_parses_and_keeps_zones(runner, store):
    result = run(runner, store, "search", *MARCH, "--format", "ics")
    assert result.exit_code == 0, result.output
    cal = icalendar.Calendar.from_ical(result.stdout)
    events = cal.walk("VEVENT")
    assert len(events) == 4
    uids = {str(e["UID"]) for e in events}
    as_json = json.loads(run(runner, store, "search", *MARCH, "--format", "json").output)
    assert uids == {e["uid"] for e in as_json}
    timezones = {str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")}
    assert {LA, "Europe/Berlin"} <= timezones
    packaging = next(e for e in events if str(e["SUMMARY"]) == "PLUG: Python packaging")
    assert packaging["DTSTART"].params["TZID"] == LA
    fest = next(e for e in events if "install fest" in str(e["SUMMARY"]))
    assert fest["DTSTART"].to_ical() == b"20270320"  # a DATE: all day
    # a second, independent reader agrees
    found = recurring_ical_events.of(cal).between((2027, 3, 1), (2027, 4, 1))
    assert len(found) == 4


def test_show_prints_the_event_with_its_sources(runner, store):
    hit = json.loads(run(runner, store, "search", "packaging", *MARCH, "--format", "json").output)
    event_id = str(hit[0]["id"])
    result = run(runner, store, "show", event_id, "--tz", "Europe/Berlin")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("PLUG: Python packaging\n")
    assert "Sun 14 Mar" in out and "03:00 - 05:00 (Europe/Berlin)" in out
    assert "local time: Sat 13 Mar 18:00 (America/Los_Angeles)" in out
    assert "sources (1):" in out and "plug (lug)" in out
    by_uid = run(runner, store, "show", hit[0]["uid"], "--json")
    assert json.loads(by_uid.output)["id"] == hit[0]["id"]


def test_show_unknown_event(runner, store):
    result = run(runner, store, "show", "424242")
    assert result.exit_code == 1
    assert "no event '424242'" in result.output


def test_topics_lists_the_taxonomy_with_upcoming_counts(runner, upcoming):
    store = upcoming
    result = run(runner, store, "topics", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["topic"]: r for r in json.loads(result.stdout)}
    assert len(rows) >= 40
    assert rows["linux"]["upcoming"] == 3
    assert rows["kubernetes"]["upcoming"] == 1
    assert rows["rust"]["upcoming"] == 1
    table = run(runner, store, "topics").output
    assert re.search(r"^linux +3 +Linux$", table, re.M)


def test_topics_retag_after_the_taxonomy_changed(runner, upcoming, tmp_path, monkeypatch):
    store = upcoming
    custom = tmp_path / "topics.toml"
    custom.write_text('[packaging]\nlabel = "Packaging"\nsynonyms = ["packaging"]\n', "utf-8")
    monkeypatch.setenv("TECHCAL_TOPICS", str(custom))
    stale = run(runner, store, "topics")
    assert "the taxonomy changed" in stale.stderr
    result = run(runner, store, "topics", "--retag")
    assert result.exit_code == 0, result.output
    assert "re-tagged" in result.stderr
    assert re.search(r"^packaging +1 +Packaging$", result.stdout, re.M)
    found = run(runner, store, "search", "--topic", "packaging", "--format", "json")
    assert [e["title"] for e in json.loads(found.stdout)] == ["PLUG: Python packaging"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--near", "Portlnd"], "unknown place 'Portlnd'; did you mean: Portland, OR, US"),
        (["--topic", "pyhton"], "unknown topic 'pyhton'; did you mean python"),
        (["--within", "5km"], "--within: needs --near"),
        (["--from", "someday"], "--from: 'someday' is not a date"),
        (["--tz", "Nowhere/Land"], "unknown time zone"),
    ],
)
def test_bad_filters_exit_2_with_one_line(runner, store, args, message):
    result = run(runner, store, "search", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.output.count("\n") == 1


def test_fts_syntax_is_never_a_crash(runner, store):
    for text in ['"unbalanced', "AND (", "NEAR(", "C++"]:
        result = run(runner, store, "search", text, *MARCH)
        assert result.exit_code == 0, (text, result.output)


def test_no_results_says_so(runner, store):
    result = run(runner, store, "search", "cobol", *MARCH)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no events match" in result.stderr
    assert json.loads(run(runner, store, "search", "cobol", "--format", "json").stdout) == []


def test_searching_a_database_that_does_not_exist_creates_nothing(runner, tmp_path):
    path = tmp_path / "none.db"
    result = run(runner, path, "search", "python")
    assert result.exit_code == 1
    assert "no techcal database at" in result.output
    assert not path.exists()


def test_search_path_does_not_import_the_crawler_notifier_or_server(store):
    # `techcal search` must start fast: Scrapy, Apprise, the web server, the
    # readers and sqlite-utils belong to other commands
    code = (
        "import sys\n"
        "from techcal.cli import cli\n"
        f"db = {str(store)!r}\n"
        "for args in (['search', 'python', '--near', 'Portland, OR', '--topic', 'linux'],\n"
        "             ['search', '--format', 'json', '--from', '2027-03-01'],\n"
        "             ['search', '--format', 'csv'], ['show', '1']):\n"
        "    cli.main(['--db', db, *args], standalone_mode=False)\n"
        "heavy = {'scrapy', 'twisted', 'apprise', 'uvicorn', 'starlette', 'sqlite_utils',\n"
        "         'feedparser', 'icalendar', 'lxml', 'extruct', 'rapidfuzz', 'tabulate'}\n"
        "print('LOADED', sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        env=os.environ.copy(),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "LOADED []" in out.stdout


def test_an_empty_file_is_no_database_and_stays_empty(runner, tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    result = run(runner, path, "search", "python")
    assert result.exit_code == 1
    assert "no techcal database at" in result.output
    assert path.stat().st_size == 0
