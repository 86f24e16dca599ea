"""`techcal import`: local files through the readers into the store."""

from __future__ import annotations

import re
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from techcal.cli import cli
from techcal.store import list_sources, open_store
from techcal.store.ingest import import_files
from techcal.store.reader_state import get_reader_state

from conftest import FIXTURES

MEETUP = FIXTURES / "ical" / "meetup.ics"


def test_import_registers_the_file_and_stores_its_events(runner, db_path, tmp_path):
    ics = tmp_path / "meetup.ics"
    shutil.copy(MEETUP, ics)
    first = runner.invoke(cli, ["--db", str(db_path), "import", str(ics)])
    assert first.exit_code == 0, first.output
    assert f"{ics} -> meetup (ics):" in first.output
    db = open_store(db_path)
    (source,) = list_sources(db)
    assert source.url == ics.resolve().as_uri()
    stored = db["events"].count
    assert stored > 0 and source.events == stored
    again = runner.invoke(cli, ["--db", str(db_path), "import", str(ics)])
    assert again.output.endswith("meetup (ics): unchanged since the last import\n")
    # a server rewriting DTSTAMP is no change; a new title is
    text = ics.read_text()
    ics.write_text(text.replace("DTSTAMP:20261120T150112Z", "DTSTAMP:20261122T093000Z"))
    restamped = runner.invoke(cli, ["--db", str(db_path), "import", str(ics)])
    assert "unchanged since the last import" in restamped.output
    ics.write_text(text.replace("SUMMARY:Python Project Night", "SUMMARY:Python Project Night!"))
    edited = runner.invoke(cli, ["--db", str(db_path), "import", str(ics)])
    assert "0 new, 1 updated, 2 unchanged, 0 removed" in edited.output
    titles = {r["title"] for r in open_store(db_path).query("SELECT title FROM events")}
    assert "Python Project Night!" in titles


def test_a_file_turned_to_garbage_keeps_what_was_stored(runner, db_path, tmp_path):
    ics = tmp_path / "plug.ics"
    start = datetime.now(UTC) + timedelta(days=20)
    ics.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        "UID:m1@plug\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nSUMMARY:PLUG meeting\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert runner.invoke(cli, ["--db", str(db_path), "import", str(ics)]).exit_code == 0
    ics.write_bytes(b"<html><body>502 Bad Gateway</body></html>")
    result = runner.invoke(cli, ["--db", str(db_path), "import", "--source", "plug", str(ics)])
    assert result.exit_code == 0
    assert "0 removed" in result.output
    (row,) = open_store(db_path).query("SELECT title, removed_at FROM events")
    assert row == {"title": "PLUG meeting", "removed_at": None}


def test_feed_rebuilt_with_a_new_build_date_is_unchanged(runner, db_path, tmp_path):
    feed = tmp_path / "events.xml"
    text = (FIXTURES / "rss" / "the-events-calendar.xml").read_text()
    feed.write_text(text)
    first = runner.invoke(cli, ["--db", str(db_path), "import", str(feed)])
    assert " (rss): " in first.output and " new" in first.output
    rebuilt = re.sub(
        r"<lastBuildDate>[^<]*<", "<lastBuildDate>Sun, 22 Nov 2026 09:00:00 +0000<", text
    )
    assert rebuilt != text
    feed.write_text(rebuilt)
    again = runner.invoke(cli, ["--db", str(db_path), "import", str(feed)])
    assert "unchanged since the last import" in again.output
    retitled = rebuilt.replace("Btrfs snapshots", "Btrfs snapshots and send/receive", 1)
    feed.write_text(retitled)
    edited = runner.invoke(cli, ["--db", str(db_path), "import", str(feed)])
    assert "0 new, 1 updated, 1 unchanged, 0 removed" in edited.output


def test_reading_in_worker_processes_stores_the_same(tmp_path):
    files = sorted((FIXTURES / "ical").glob("*.ics"))
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    stored = {}
    for workers in (1, 2):
        db = open_store(tmp_path / f"w{workers}.db")
        done = list(import_files(db, files, now=now, workers=workers))
        assert [d.path for d in done] == files
        stored[workers] = sorted(
            (r["uid"], r["title"], r["start"], r["status"])
            for r in db.query("SELECT uid, title, start, status FROM events")
        )
    assert stored[1] == stored[2] and len(stored[1]) > 20


def test_state_is_kept_only_once_the_events_are_stored(tmp_path):
    db = open_store(tmp_path / "t.db")
    ics = tmp_path / "meetup.ics"
    shutil.copy(MEETUP, ics)
    db.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON provenance"
        " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    with pytest.raises(sqlite3.IntegrityError):
        list(import_files(db, [ics]))
    assert get_reader_state(db, "meetup") is None  # so the next run reads it again
    db.execute("DROP TRIGGER boom")
    (done,) = import_files(db, [ics])
    assert done.status == "read" and done.stored.new == 3
    assert get_reader_state(db, "meetup") is not None


def test_importing_several_files_into_one_source_forgets_its_reader_state(tmp_path):
    db = open_store(tmp_path / "t.db")
    ics = tmp_path / "meetup.ics"
    shutil.copy(MEETUP, ics)
    (first,) = import_files(db, [ics])
    assert get_reader_state(db, "meetup") is not None
    other = tmp_path / "other.ics"
    shutil.copy(FIXTURES / "ical" / "luma.ics", other)
    list(import_files(db, [ics, other], source_name="meetup"))
    assert get_reader_state(db, "meetup") is None
    (again,) = import_files(db, [ics])
    assert again.status == "read"  # the store no longer matched the old state


def test_errors_from_worker_processes_arrive_whole():
    import pickle

    from techcal.errors import SourceFileError

    error = pickle.loads(pickle.dumps(SourceFileError(MEETUP, "cannot read it")))
    assert isinstance(error, SourceFileError)
    assert str(error) == f"{MEETUP}: cannot read it" and error.problem == "cannot read it"
