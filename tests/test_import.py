"""`techcal import`: local files through the readers into the store."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

from techcal.cli import cli
from techcal.store import list_sources, open_store

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
    assert f"0 new, 0 updated, {stored} unchanged, 0 removed" in again.output


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
