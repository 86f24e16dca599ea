"""Sources on the command line: add, list, remove, import, export."""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from techcal.cli import cli
from techcal.event import KINDS
from techcal.store import SOURCE_TYPES, list_sources, open_store

from conftest import FIXTURES

SOURCES = FIXTURES / "sources"
BUNDLED = Path(str(resources.files("techcal") / "data" / "sources.toml"))


def run(runner, db_path, *args, ok=True):
    result = runner.invoke(cli, ["--db", str(db_path), *args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_add_list_remove(runner, db_path):
    out = run(
        runner,
        db_path,
        "sources",
        "add",
        "https://www.meetup.com/pdxpython/events/ical/",
        "--kind",
        "user-group",
        "--city",
        "Portland, OR",
        "--topic",
        "python",
    ).output
    assert out.strip() == "added meetup-pdxpython: https://www.meetup.com/pdxpython/events/ical/"
    run(
        runner,
        db_path,
        "sources",
        "add",
        "webcal://calagator.org/events.ics",
        "--name",
        "calagator",
        "--type",
        "ics",
    )
    listed = json.loads(run(runner, db_path, "sources", "list", "--json").output)
    assert [s["name"] for s in listed] == ["calagator", "meetup-pdxpython"]
    assert listed[1] | {"added_at": None} == {
        "name": "meetup-pdxpython",
        "url": "https://www.meetup.com/pdxpython/events/ical/",
        "kind": "user-group",
        "type": "auto",
        "city": "Portland, OR",
        "topics": ["python"],
        "enabled": True,
        "added_at": None,
        "last_fetched": None,
        "last_status": None,
        "http_status": None,
        "last_error": None,
        "failures": 0,
        "next_due": None,
        "events": 0,
    }
    table = run(runner, db_path, "sources", "list").output
    assert "calagator" in table and "Portland, OR" in table
    assert run(runner, db_path, "sources", "remove", "calagator").output.startswith(
        "removed calagator"
    )
    assert [
        s["name"] for s in json.loads(run(runner, db_path, "sources", "list", "--json").output)
    ] == ["meetup-pdxpython"]


def test_file_urls_are_accepted(runner, db_path, tmp_path):
    ics = tmp_path / "plug.ics"
    ics.write_text("BEGIN:VCALENDAR\nEND:VCALENDAR\n")
    out = run(runner, db_path, "sources", "add", ics.as_uri(), "--kind", "lug").output
    assert out.strip() == f"added plug: {ics.as_uri()}"


@pytest.mark.parametrize(
    "args, message",
    [
        (["ftp://example.org/x.ics"], "scheme 'ftp' is not supported"),
        (["example.org/events.ics"], "no scheme is not supported"),
        (["https:///events.ics"], "has no host name"),
        (["file://"], "file:// URL needs a path"),
        (["http://[fe80::1/events.ics"], "the URL is malformed"),
        (["https://example.org:port/x.ics"], "the URL is malformed"),
        (["https://example.org/x.ics", "--name", "Bad Name!"], "name must be"),
        (["https://example.org/x.ics", "--topic", "C++"], "topic 'C++'"),
    ],
)
def test_bad_sources_are_refused_with_the_problem_named(runner, db_path, args, message):
    result = run(runner, db_path, "sources", "add", *args, ok=False)
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert list_sources(open_store(db_path)) == []


def test_bad_kind_is_refused_by_click(runner, db_path):
    result = run(
        runner, db_path, "sources", "add", "https://x.org/a.ics", "--kind", "meetup", ok=False
    )
    assert result.exit_code == 2 and "'meetup' is not one of" in result.output


def test_same_url_or_name_twice_is_refused(runner, db_path):
    run(runner, db_path, "sources", "add", "https://calagator.org/events.ics")
    again = run(
        runner,
        db_path,
        "sources",
        "add",
        "https://calagator.org/events.ics",
        "--name",
        "other",
        ok=False,
    )
    assert again.exit_code == 1
    assert "already registered as 'calagator'" in again.output
    same_name = run(
        runner, db_path, "sources", "add", "https://x.org/e.ics", "--name", "calagator", ok=False
    )
    assert "name is already used for https://calagator.org/events.ics" in same_name.output


def test_remove_unknown_source(runner, db_path):
    result = run(runner, db_path, "sources", "remove", "nope", ok=False)
    assert result.exit_code == 1 and "source nope: no such source" in result.output


def test_bundled_sources_file_is_installed_valid_and_imports_whole(runner, db_path):
    doc = tomllib.loads(BUNDLED.read_text())
    entries = doc["source"]
    assert len(entries) >= 40
    assert {e["kind"] for e in entries} == set(KINDS)
    assert all(e.get("type", "auto") in SOURCE_TYPES for e in entries)
    out = run(runner, db_path, "sources", "import", str(BUNDLED)).output
    assert out.strip() == f"imported {len(entries)} source(s) from {BUNDLED}"
    listed = json.loads(run(runner, db_path, "sources", "list", "--json").output)
    assert sorted(s["name"] for s in listed) == sorted(e["name"] for e in entries)
    again = run(runner, db_path, "sources", "import", str(BUNDLED)).output
    assert f"imported 0 source(s) from {BUNDLED}, {len(entries)} already present" in again


def test_import_feed_reader_opml(runner, db_path):
    run(runner, db_path, "sources", "import", str(SOURCES / "feedly-export.opml"))
    run(runner, db_path, "sources", "import", str(SOURCES / "thunderbird-export.opml"))
    listed = {
        s["url"]: s for s in json.loads(run(runner, db_path, "sources", "list", "--json").output)
    }
    assert set(listed) == {
        "https://www.agendadulibre.org/events.rss",
        "https://calagator.org/events.atom",
        "https://lwn.net/headlines/rss",
        "https://events.linuxfoundation.org/feed/",
    }
    assert listed["https://lwn.net/headlines/rss"]["type"] == "rss"
    assert listed["https://lwn.net/headlines/rss"]["topics"] == ["linux"]
    assert listed["https://calagator.org/events.atom"]["name"] == "calagator"


def test_bad_entry_refuses_the_whole_file_naming_the_entry(runner, db_path):
    result = run(runner, db_path, "sources", "import", str(SOURCES / "bad-kind.toml"), ok=False)
    assert result.exit_code == 1
    assert (
        "bad-kind.toml: entry 2 (plug): source plug: kind 'linux-user-group' is not one of"
        in result.output
    )
    assert list_sources(open_store(db_path)) == []


@pytest.mark.parametrize(
    "content, message",
    [
        ("[[source]\nname=", "is not valid TOML"),
        ("title = 'no sources'\n", "has no [[source]] entries"),
        ("[[source]]\nname = 'x'\n", "entry 1 (x): missing url"),
        ("[[source]]\nurl = 'https://a.org/x.ics'\ncolour = 'red'\n", "unknown key(s) colour"),
        (
            "[[source]]\nurl='https://a.org/1.ics'\nname='a'\n[[source]]\nurl='https://a.org/1.ics'\nname='b'\n",
            "entry 2 repeats",
        ),
        (
            "<?xml version='1.0'?><opml><body><outline text='x'/></body></opml>",
            "has no <outline> with an xmlUrl",
        ),
        ("<?xml version='1.0'?><opml><body><outline", "is not valid OPML/XML"),
    ],
)
def test_broken_source_files(runner, db_path, tmp_path, content, message):
    path = tmp_path / "list.txt"
    path.write_text(content)
    result = run(runner, db_path, "sources", "import", str(path), ok=False)
    assert result.exit_code == 1
    assert message in result.output and str(path) in result.output


@pytest.mark.parametrize("fmt", ["toml", "opml"])
def test_export_imports_back_identically(runner, db_path, tmp_path, fmt):
    run(runner, db_path, "sources", "import", str(BUNDLED))
    out = tmp_path / f"export.{fmt}"
    run(runner, db_path, "sources", "export", "--format", fmt, "-o", str(out))
    second = tmp_path / "second.db"
    run(runner, second, "sources", "import", str(out))

    def fields(path):
        return sorted(
            (s.name, s.url, s.kind, s.type, s.city, s.topics)
            for s in list_sources(open_store(path))
        )

    assert fields(second) == fields(db_path)
    assert len(fields(second)) >= 40


def test_a_new_url_whose_made_up_name_is_taken_gets_a_free_name(runner, db_path, tmp_path):
    run(runner, db_path, "sources", "add", "https://lug.example.org/events.ics")
    listing = tmp_path / "more.toml"
    listing.write_text('[[source]]\nurl = "https://lug.example.org/calendar.ics"\n')
    out = run(runner, db_path, "sources", "import", str(listing)).output
    assert out.strip() == f"imported 1 source(s) from {listing}"
    names = {s.name: s.url for s in list_sources(open_store(db_path))}
    assert names == {
        "lug-example": "https://lug.example.org/events.ics",
        "lug-example-2": "https://lug.example.org/calendar.ics",
    }


def test_removing_a_source_marks_only_its_upcoming_events(db):
    from techcal.store import Source, add_source, remove_source, upsert_events

    from conftest import NOW, make_event

    add_source(db, Source(name="plug", url="https://pdxlinux.org/events.ics"))
    upsert_events(db, "plug", [make_event(1, days=-30), make_event(2, days=30)], now=NOW)
    assert remove_source(db, "plug", now=NOW) == 1
    rows = {
        r["title"][:12]: (r["removed_at"], r["sequence"]) for r in db.query("SELECT * FROM events")
    }
    assert rows["PLUG meeting"] is not None
    past, future = sorted(
        db.query("SELECT start_utc, removed_at, sequence FROM events ORDER BY start_utc"),
        key=lambda r: r["start_utc"],
    )
    assert (past["removed_at"], past["sequence"]) == (None, 0)
    assert future["removed_at"] is not None and future["sequence"] == 1
