"""Finding, refusing and migrating database files."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlite_utils

from techcal.cli import cli
from techcal.errors import NotATechcalDatabase
from techcal.store import Source, add_source, list_sources, open_store
from techcal.store.database import APPLICATION_ID, connect, resolve_db_path
from techcal.store.schema import MIGRATIONS, known_migrations
from techcal.store.schema_names import MIGRATION_NAMES

from conftest import NOW


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_database_is_created_with_its_folder_in_wal_mode(tmp_path):
    path = tmp_path / "a" / "b" / "techcal.db"
    db = open_store(path)
    assert path.exists()
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert {"sources", "events", "provenance", "events_fts"} <= set(db.table_names())
    assert [m.name for m in MIGRATIONS.applied(db)] == list(MIGRATION_NAMES)


def test_text_file_is_refused_and_left_unchanged(tmp_path, runner):
    path = tmp_path / "notes.txt"
    path.write_text("my shopping list\n")
    before = digest(path)
    result = runner.invoke(cli, ["--db", str(path), "sources", "list"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: refusing to use {path}: it is not an SQLite database"
    ]
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_other_programs_sqlite_file_is_refused_and_left_unchanged(tmp_path, runner):
    path = tmp_path / "places.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)")
    conn.execute("INSERT INTO moz_places (url) VALUES ('https://example.org')")
    conn.commit()
    conn.close()
    before = digest(path)
    result = runner.invoke(
        cli, ["--db", str(path), "sources", "add", "https://calagator.org/events.ics"]
    )
    assert result.exit_code == 1
    assert "another program's SQLite database (tables: moz_places)" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert digest(path) == before


def test_sqlite_file_with_a_foreign_application_id_is_refused(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 1234")
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(NotATechcalDatabase, match="application_id 0x4d2"):
        open_store(path)
    assert digest(path) == before


def test_empty_file_and_empty_sqlite_database_are_set_up(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    assert "sources" in open_store(empty).table_names()
    blank = tmp_path / "blank.db"
    sqlite3.connect(blank).execute("PRAGMA user_version = 0").connection.close()
    assert "sources" in open_store(blank).table_names()


def test_directory_is_refused(tmp_path):
    with pytest.raises(NotATechcalDatabase, match="is a directory"):
        open_store(tmp_path)


def test_location_order_option_then_env_then_user_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TECHCAL_DB", str(tmp_path / "env.db"))
    assert resolve_db_path(str(tmp_path / "opt.db")) == tmp_path / "opt.db"
    assert resolve_db_path(None) == tmp_path / "env.db"
    monkeypatch.delenv("TECHCAL_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert resolve_db_path(None) == tmp_path / "xdg" / "techcal" / "techcal.db"


def test_cli_uses_techcal_db_environment_variable(tmp_path, runner):
    path = tmp_path / "from-env.db"
    result = runner.invoke(
        cli, ["sources", "add", "https://calagator.org/events.ics"], env={"TECHCAL_DB": str(path)}
    )
    assert result.exit_code == 0, result.output
    assert [s.name for s in list_sources(open_store(path))] == ["calagator"]


def test_older_schema_is_migrated_in_place_keeping_data(tmp_path):
    path = tmp_path / "old.db"
    # a database as the first release left it: only m001 applied
    old = sqlite_utils.Database(connect(path))
    MIGRATIONS.apply(old, stop_before="m002_source_crawl_state")
    assert "failures" not in old["sources"].columns_dict
    old.execute(
        "INSERT INTO sources (name, url, kind, type, city, topics, enabled, added_at)"
        " VALUES ('plug', 'https://pdxlinux.org/events.ics', 'lug', 'ics', 'Portland, OR',"
        " '[\"linux\"]', 1, '2026-01-01')"
    )
    # an event as that release stored it: no topics of its own, no place index
    old.execute(
        "INSERT INTO events (uid, title, description, start, start_utc, kind, topics,"
        " venue, city, created_at, updated_at, changed_at) VALUES ('u1@techcal',"
        " 'PLUG: Python on Linux', '', '2026-12-03T18:00:00-08:00', ?, 'lug', '[]',"
        " 'Lucky Lab', 'Portland', '2026-01-01', '2026-01-01', '2026-01-01')",
        (int(NOW.timestamp()) + 86400 * 11,),
    )
    old.execute(
        "INSERT INTO provenance (event_id, source_id, source_uid, content_hash, schedule_hash,"
        " first_seen, last_seen, record) VALUES (1, 1, 'e1', 'x', 'y', '2026-01-01',"
        " '2026-01-01', '[]')"
    )
    old.conn.commit()
    old.conn.close()

    db = open_store(path)
    assert "m002_source_crawl_state" in {m.name for m in MIGRATIONS.applied(db)}
    (plug,) = list_sources(db)
    assert (plug.name, plug.kind, plug.topics, plug.failures, plug.events) == (
        "plug",
        "lug",
        ("linux",),
        0,
        1,
    )
    # m005 tagged and placed what the old release stored, and indexed it
    event = db.execute("SELECT topics, lat, geo_precision FROM events").fetchone()
    assert set(json.loads(event[0])) >= {"linux", "python"}
    assert event[1] == pytest.approx(45.52, abs=0.01)
    assert event[2] == "city"
    assert db.execute("SELECT count(*) FROM events_rtree").fetchone()[0] == 1
    topics = {r[0] for r in db.execute("SELECT topic FROM event_topics")}
    assert {"linux", "python"} <= topics


def test_database_from_a_newer_techcal_is_refused(tmp_path):
    path = tmp_path / "new.db"
    db = open_store(path)
    db["_sqlite_migrations"].insert(
        {"migration_set": "techcal", "name": "m999_from_the_future", "applied_at": "2030-01-01"}
    )
    db.conn.close()
    with pytest.raises(NotATechcalDatabase, match="newer techcal"):
        open_store(path)


def test_reopening_applies_nothing_twice(tmp_path):
    path = tmp_path / "t.db"
    add_source(open_store(path), Source(name="a", url="https://a.example.org/x.ics"))
    db = open_store(path)
    assert len(MIGRATIONS.applied(db)) == len(known_migrations())
    assert [s.name for s in list_sources(db)] == ["a"]


def test_processes_opening_a_new_database_at_once_all_succeed(tmp_path):
    path = tmp_path / "shared.db"
    code = (
        "import sys; from techcal.store import open_store; "
        "db = open_store(sys.argv[1]); print(len(db.table_names()) > 3)"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [err for _, err in results]
    assert all(out.strip() == "True" for out, _ in results)
    db = open_store(path)
    assert len(MIGRATIONS.applied(db)) == len(known_migrations())


def test_the_light_list_of_migration_names_is_complete():
    # open_reader trusts MIGRATION_NAMES to skip sqlite-utils on the search path
    assert set(MIGRATION_NAMES) == known_migrations()


def test_checking_a_file_keeps_the_locks_of_open_connections(tmp_path):
    """Closing a file descriptor drops all of a process's POSIX locks on that file.

    A check that opened the database file itself while this process held an
    SQLite connection let another process, closing its own connection, think
    it was the last one and delete the WAL (seen: a crawl's commits lost
    while `techcal serve` checked the file for each request). The check
    reads through SQLite, which keeps its descriptors while locks are held.
    """
    import subprocess
    import sys

    from techcal.store.database import check_db_file, open_store

    path = tmp_path / "techcal.db"
    wal = tmp_path / "techcal.db-wal"
    db = open_store(path)
    db.conn.execute("SELECT count(*) FROM sources").fetchone()
    other = (
        "import sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1])\n"
        "c.execute(\"INSERT INTO meta (key, value) VALUES (?, 'x')\", (sys.argv[2],))\n"
        "c.commit()\n"
        "c.close()\n"
    )
    subprocess.run([sys.executable, "-c", other, str(path), "one"], check=True)
    assert wal.exists()  # we are still connected: the other process was not the last
    check_db_file(path)
    subprocess.run([sys.executable, "-c", other, str(path), "two"], check=True)
    assert wal.exists()  # and still after the check
    db.conn.close()


def test_a_writer_looping_over_transactions_lets_a_waiting_writer_in(tmp_path):
    """A loop of write transactions (batches of a big source, feed blocks) leaves the
    lock free often enough for a waiting writer, however long the loop runs.

    SQLite's busy handler tries again every 100 ms at most; a lock that is free
    only for the microseconds between one transaction and the next is never
    seen free, and the waiter fails after its busy timeout.
    """
    import threading
    import time

    from techcal.store.database import write_transaction

    path = tmp_path / "techcal.db"
    open_store(path).conn.close()
    stop = threading.Event()

    def batches() -> None:
        conn = connect(path)
        try:
            while not stop.is_set():
                with write_transaction(conn):
                    conn.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES ('batch', ?)",
                        (str(time.monotonic()),),
                    )
                    time.sleep(0.2)  # a batch's work
        finally:
            conn.close()

    loop = threading.Thread(target=batches)
    loop.start()
    try:
        time.sleep(0.5)
        waiting = sqlite3.connect(path, timeout=3.0, isolation_level=None)
        try:
            waiting.execute("BEGIN IMMEDIATE")  # fails after 3 s if never let in
            waiting.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('other', 'in')")
            waiting.execute("COMMIT")
        finally:
            waiting.close()
    finally:
        stop.set()
        loop.join()
    check = connect(path)
    try:
        assert check.execute("SELECT value FROM meta WHERE key = 'other'").fetchone() == ("in",)
    finally:
        check.close()
