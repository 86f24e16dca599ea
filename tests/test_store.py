"""The store: upsert semantics, provenance, uids, removal, atomicity."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

import pytest

from techcal.errors import UnknownSource
from techcal.store import add_source, upsert_events
from techcal.store.events import stored_record
from techcal.store.stored import source_records

from conftest import NOW, make_event


def events(db):
    return {r["title"]: r for r in db.query("SELECT * FROM events ORDER BY id")}


def test_new_entries_are_inserted_with_provenance(db, plug):
    result = upsert_events(db, "plug", [make_event(1), make_event(2)], now=NOW)
    assert result.counts() == {
        "new": 2,
        "updated": 0,
        "unchanged": 0,
        "removed": 0,
        "merged": 0,
        "rejected": 0,
    }
    rows = list(db.query("SELECT * FROM events ORDER BY id"))
    assert [r["title"] for r in rows] == [
        "PLUG meeting 1: Intro to eBPF",
        "PLUG meeting 2: Intro to eBPF",
    ]
    assert rows[0]["sequence"] == 0
    assert rows[0]["start"] == make_event(1).start.isoformat()
    assert rows[0]["uid"].endswith("@techcal") and rows[0]["uid"] != rows[1]["uid"]
    prov = list(db.query("SELECT * FROM provenance ORDER BY id"))
    assert [p["source_uid"] for p in prov] == ["meeting-1@pdxlinux.org", "meeting-2@pdxlinux.org"]
    assert prov[0]["event_id"] == rows[0]["id"]
    assert prov[0]["first_seen"] == prov[0]["last_seen"] == "2026-11-22T12:00:00+00:00"
    record = source_records(db.conn)[prov[0]["id"]]
    assert record["title"] == "PLUG meeting 1: Intro to eBPF"
    assert record["start"] == make_event(1).start.isoformat()
    assert json.loads(record["topics"]) == ["linux"]


def test_same_entry_again_is_unchanged_and_only_last_seen_moves(db, plug):
    upsert_events(db, "plug", [make_event(1)], now=NOW)
    before = events(db)
    later = NOW + timedelta(hours=1)
    result = upsert_events(db, "plug", [make_event(1)], now=later)
    assert (result.new, result.updated, result.unchanged) == (0, 0, 1)
    assert events(db) == before  # the event row itself is untouched
    prov = db.query("SELECT first_seen, last_seen FROM provenance").__next__()
    assert prov == {
        "first_seen": "2026-11-22T12:00:00+00:00",
        "last_seen": "2026-11-22T13:00:00+00:00",
    }


def test_moved_event_bumps_sequence_and_keeps_uid(db, plug):
    upsert_events(db, "plug", [make_event(1)], now=NOW)
    uid = events(db)["PLUG meeting 1: Intro to eBPF"]["uid"]
    moved = make_event(1)
    moved.start += timedelta(days=1)
    moved.end += timedelta(days=1)
    result = upsert_events(db, "plug", [moved], now=NOW + timedelta(hours=1))
    assert (result.updated, result.rescheduled) == (1, 1)
    row = events(db)["PLUG meeting 1: Intro to eBPF"]
    assert row["uid"] == uid
    assert row["sequence"] == 1
    assert row["start"] == moved.start.isoformat()
    assert row["changed_at"] == "2026-11-22T13:00:00+00:00"


@pytest.mark.parametrize(
    "change, bumps",
    [
        ({"description": "Now with pizza."}, False),
        ({"title": "PLUG: eBPF night"}, False),
        ({"url": "https://pdxlinux.org/m/1"}, False),
        ({"venue": "Lucky Lab Brew Pub"}, True),
        ({"status": "cancelled"}, True),
        ({"online": True, "online_url": "https://meet.jit.si/plug"}, True),
        ({"lat": 45.52, "lon": -122.68}, True),
    ],
)
def test_only_time_place_or_status_bump_sequence(db, plug, change, bumps):
    upsert_events(db, "plug", [make_event(1)], now=NOW)
    result = upsert_events(db, "plug", [make_event(1, **change)], now=NOW + timedelta(hours=1))
    assert result.updated == 1
    (row,) = db.query("SELECT * FROM events")
    assert row["sequence"] == (1 if bumps else 0)
    for key, value in change.items():
        assert row[key] == (int(value) if isinstance(value, bool) else value)


def test_vanished_upcoming_entry_is_marked_removed_not_deleted(db, plug):
    upsert_events(db, "plug", [make_event(1), make_event(2)], now=NOW)
    result = upsert_events(db, "plug", [make_event(1)], now=NOW + timedelta(hours=1))
    assert result.removed == 1 and result.unchanged == 1
    rows = events(db)
    assert len(rows) == 2
    gone = rows["PLUG meeting 2: Intro to eBPF"]
    assert gone["removed_at"] == "2026-11-22T13:00:00+00:00"
    assert gone["sequence"] == 1
    assert rows["PLUG meeting 1: Intro to eBPF"]["removed_at"] is None
    # and it comes back as an update of the same event when the source lists it again
    result = upsert_events(db, "plug", [make_event(1), make_event(2)], now=NOW + timedelta(hours=2))
    assert (result.new, result.updated) == (0, 1)
    back = events(db)["PLUG meeting 2: Intro to eBPF"]
    assert back["removed_at"] is None and back["uid"] == gone["uid"] and back["sequence"] == 2


def test_past_entries_that_drop_off_a_feed_are_not_marked_removed(db, plug):
    past = make_event(1, days=-30)
    upsert_events(db, "plug", [past, make_event(2)], now=NOW)
    result = upsert_events(db, "plug", [make_event(2)], now=NOW)
    assert result.removed == 0
    assert events(db)[past.title]["removed_at"] is None


def test_partial_batch_marks_nothing_removed(db, plug):
    upsert_events(db, "plug", [make_event(1), make_event(2)], now=NOW)
    result = upsert_events(db, "plug", [make_event(1)], now=NOW, complete=False)
    assert result.removed == 0


def test_invalid_records_are_rejected_and_their_stored_version_kept(db, plug):
    upsert_events(db, "plug", [make_event(1), make_event(2)], now=NOW)
    naive = make_event(2)
    naive.start = naive.start.replace(tzinfo=None)
    result = upsert_events(db, "plug", [make_event(1), naive], now=NOW)
    assert len(result.rejected) == 1
    assert "meeting-2@pdxlinux.org" in result.rejected[0] and "timezone-aware" in result.rejected[0]
    assert result.removed == 0
    assert events(db)["PLUG meeting 2: Intro to eBPF"]["removed_at"] is None


def test_repeated_uid_in_one_batch_keeps_the_last(db, plug):
    result = upsert_events(db, "plug", [make_event(1), make_event(1, title="Renamed")], now=NOW)
    assert (result.new, result.duplicates) == (1, 1)
    assert list(events(db)) == ["Renamed"]


def test_unknown_source_writes_nothing(db, plug):
    with pytest.raises(UnknownSource):
        upsert_events(db, "nope", [make_event(1, source="nope")], now=NOW)
    assert db["events"].count == 0


def test_fts_index_follows_inserts_and_updates(db, plug):
    upsert_events(db, "plug", [make_event(1)], now=NOW)
    hits = [r["title"] for r in db["events"].search("ebpf")]
    assert hits == ["PLUG meeting 1: Intro to eBPF"]
    upsert_events(db, "plug", [make_event(1, title="Kernel hacking night")], now=NOW)
    assert list(db["events"].search("ebpf")) == []
    assert [r["title"] for r in db["events"].search("kernels")] == [
        "Kernel hacking night"
    ]  # porter stemming


def test_failure_in_the_middle_rolls_back_everything(db, plug):
    upsert_events(db, "plug", [make_event(n) for n in range(10)], now=NOW)
    before = list(db.query("SELECT * FROM events ORDER BY id"))
    prov_before = list(db.query("SELECT * FROM provenance ORDER BY id"))
    # a real SQLite failure half-way through the writes: after the new
    # events went in, while their provenance rows are being inserted
    db.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON provenance"
        " WHEN new.source_uid = 'meeting-105@pdxlinux.org'"
        " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
    )
    batch = [make_event(n, title=f"changed {n}") for n in range(10)] + [
        make_event(n) for n in range(100, 110)
    ]
    with pytest.raises(sqlite3.IntegrityError, match="disk on fire"):
        upsert_events(db, "plug", batch, now=NOW + timedelta(hours=1))
    assert not db.conn.in_transaction
    assert list(db.query("SELECT * FROM events ORDER BY id")) == before
    assert list(db.query("SELECT * FROM provenance ORDER BY id")) == prov_before
    assert [r["title"] for r in db["events"].search("changed")] == []


def test_interrupt_in_the_middle_rolls_back_everything(db, plug):
    upsert_events(db, "plug", [make_event(n) for n in range(5)], now=NOW)
    calls = {"n": 0}

    def interrupt_after_a_while():
        calls["n"] += 1
        return 1 if calls["n"] > 50 else 0  # non-zero aborts the running statement

    db.conn.set_progress_handler(interrupt_after_a_while, 100)
    with pytest.raises(sqlite3.OperationalError, match="interrupted"):
        upsert_events(db, "plug", [make_event(n) for n in range(5, 2000)], now=NOW)
    db.conn.set_progress_handler(None, 0)
    assert calls["n"] > 50  # it really was stopped part-way through
    assert db["events"].count == 5 and db["provenance"].count == 5
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# -- big sources: short transactions --------------------------------------------


def test_a_failing_batch_keeps_the_batches_before_it_and_marks_nothing_removed(
    db, plug, monkeypatch
):
    # A source is stored in batches so that no writer holds the lock for long;
    # each batch is one transaction, and removal marks wait for the last one.
    monkeypatch.setattr("techcal.store.events.BATCH_ENTRIES", 10)
    listed = [make_event(n, days=5) for n in range(20)]
    upsert_events(db, "plug", listed, now=NOW)
    # the source now drops 10..19 and announces 40 more, later in the year
    # (entries are stored in order of time: 0..9, then 100..109, 110..119 ...)
    later = [make_event(n, days=20 + n - 100) for n in range(100, 140)]
    records = listed[:10] + later
    db.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON provenance"
        " WHEN new.source_uid = 'meeting-125@pdxlinux.org'"
        " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
    )
    with pytest.raises(sqlite3.IntegrityError, match="disk on fire"):
        upsert_events(db, "plug", records, now=NOW + timedelta(hours=1))
    assert not db.conn.in_transaction
    stored = {r[0] for r in db.execute("SELECT source_uid FROM provenance")}
    assert {f"meeting-{n}@pdxlinux.org" for n in range(100, 120)} <= stored
    assert not {f"meeting-{n}@pdxlinux.org" for n in range(120, 140)} & stored
    marked = db.execute("SELECT count(*) FROM provenance WHERE removed_at IS NOT NULL")
    assert marked.fetchone()[0] == 0
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # the next run finishes the work: what was stored is seen again, unchanged
    db.execute("DROP TRIGGER boom")
    result = upsert_events(db, "plug", records, now=NOW + timedelta(hours=2))
    assert (result.new, result.unchanged, result.removed) == (20, 30, 10)
    live = db.execute("SELECT count(*) FROM provenance WHERE removed_at IS NULL").fetchone()[0]
    assert live == 50 and db["events"].count == 60


def test_every_batch_of_a_big_source_is_its_own_short_transaction(db, plug, monkeypatch):
    from techcal.store.events import BATCH_ENTRIES

    # (batches are cut by time too: not here, so that they can be counted)
    monkeypatch.setattr("techcal.store.events.BATCH_SECONDS", 60.0)
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    records = [make_event(n, days=1 + n // 24) for n in range(2 * BATCH_ENTRIES + 500)]
    result = upsert_events(db, "plug", records, now=NOW)
    db.conn.set_trace_callback(None)
    assert result.new == 2 * BATCH_ENTRIES + 500
    # three batches of entries (and nothing to mark removed: no fourth)
    assert statements.count("BEGIN IMMEDIATE") == statements.count("COMMIT") == 3


def test_a_long_record_is_kept_once_and_read_back_whole(db, plug):
    long_text = "Talks, pizza and questions about eBPF. " * 60  # ~2.3 KB
    event = make_event(1, description=long_text)
    upsert_events(db, "plug", [event], now=NOW)
    # (the record leaves out what the event's row says too: here, everything)
    kind, size = db.execute("SELECT typeof(record), length(record) FROM provenance").fetchone()
    assert kind == "text" and size < len(long_text) / 4
    (said,) = source_records(db.conn).values()
    assert said["description"].strip() == long_text.strip()
    # the event row keeps the text plain: it is what search reads
    (description,) = db.execute("SELECT description FROM events").fetchone()
    assert description.strip() == long_text.strip()


def test_a_damaged_compressed_record_reads_as_an_error_not_a_crash():
    with pytest.raises(ValueError, match="damaged provenance record"):
        stored_record(b"\x78\x9c not zlib at all")


def _table_rows(db):
    return (
        db.execute(
            "SELECT uid, title, topics, lat, lon, geo_precision FROM events ORDER BY id"
        ).fetchall(),
        [
            (uid, content, schedule, source_records(db.conn)[prov_id])
            for prov_id, uid, content, schedule in db.execute(
                "SELECT id, source_uid, content_hash, schedule_hash FROM provenance ORDER BY id"
            )
        ],
    )


def test_records_prepared_in_a_reader_worker_store_as_the_store_would(tmp_path, plug):
    from techcal.store import open_store
    from techcal.store.prepared import prepare_records

    long_text = "Kernel tracing with eBPF, then questions. " * 20
    records = [
        make_event(1, description=long_text),
        make_event(2, venue="Room 327", address="1825 SW Broadway, Portland, OR"),
        make_event(2, title="PLUG meeting 2 (listed twice: the last counts)"),
        make_event(3, title=""),  # refused
    ]
    plain = open_store(tmp_path / "plain.db")
    add_source(plain, plug)
    by_store = upsert_events(plain, "plug", records, now=NOW)
    worked = open_store(tmp_path / "worked.db")
    add_source(worked, plug)
    prepared = prepare_records(records, "plug", plug.city, plug.topics)
    by_worker = upsert_events(worked, "plug", records, now=NOW, prepared=prepared)
    assert by_worker == by_store
    assert by_store.duplicates == 1 and len(by_store.rejected) == 1
    assert _table_rows(worked) == _table_rows(plain)


def test_values_worked_out_for_an_older_source_city_are_worked_out_again(db, plug):
    from techcal.store.prepared import prepare_records

    record = make_event(1, venue=None, address=None, city=None, lat=None, lon=None)
    stale = prepare_records([record], "plug", "Seattle, WA", ())
    upsert_events(db, "plug", [record], now=NOW, prepared=stale)
    lat, lon, precision = db.execute("SELECT lat, lon, geo_precision FROM events").fetchone()
    # the source is in Portland now: its events are placed there, not in Seattle
    assert precision == "source" and round(lat) == 46 and round(lon) == -123
