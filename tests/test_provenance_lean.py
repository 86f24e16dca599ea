"""Provenance records keep only what differs from their event's row, and lose nothing.

The invariant: whatever happens to an event's row (an update, another
source joining, a remerge, a split, a merge, a source removed, an entry
revived, a re-tag, even a deleted row), each source's record reads back as
exactly what that source said (see techcal.store.event_rows.provenance_record
and migration m012's triggers). Each test checks it against the source's
own values, worked out independently of the store (``said_by``).
"""

from __future__ import annotations

import base64
import json
import sqlite3
from datetime import timedelta

import pytest
import sqlite_utils

from techcal.store import Source, add_source, open_store, upsert_events
from techcal.store.database import connect
from techcal.store.event_rows import (
    LEAN_COLUMNS,
    RECORD_COLUMNS,
    RECORD_COLUMNS_SQL,
    UPDATE_EVENT,
    UPDATE_PROVENANCE,
    provenance_record,
    stored_record,
)
from techcal.store.merges import merge_events, split_entry
from techcal.store.prepared import prepare_records
from techcal.store.schema import MIGRATIONS
from techcal.store.sources import remove_source
from techcal.store.stored import get_event, source_records

from conftest import NOW, make_event

MEETING = NOW.replace(hour=2) + timedelta(days=11)
LONG = "Talks, pizza and questions about eBPF and the kernel's tracing tools. " * 12


@pytest.fixture
def pdx(db):
    for name, kind, url in (
        ("pdxlinux", "lug", "https://pdxlinux.org/events/"),
        ("calagator", "other", "https://calagator.org/events.ics"),
    ):
        add_source(db, Source(name=name, url=url, kind=kind, city="Portland, OR"))
    return db


def lug(**changes):
    values = dict(
        source="pdxlinux",
        source_uid="plug-2026-12@pdxlinux.org",
        title="PLUG: Intro to eBPF",
        description="Monthly meeting. " + LONG,
        url="https://pdxlinux.org/meetings/2026-12",
        start=MEETING,
        end=MEETING + timedelta(hours=2),
        venue="Lucky Labrador Beer Hall",
        address="915 SE Hawthorne Blvd, Portland, OR 97214",
        city="Portland",
        lat=45.5122,
        lon=-122.6566,
        organizer="Portland Linux/Unix Group",
        topics=(),
    )
    values.update(changes)
    return make_event(0, **values)


def community(**changes):
    # the same meeting as another source lists it: other words, a longer text
    return lug(
        source="calagator",
        source_uid="calagator-77001",
        description="Doors at 6, talk at 6:30: Intro to eBPF, with live demos. " + LONG * 2,
        url="https://pdxlinux.org/meetings/2026-12",
        organizer=None,
        kind="other",
        **changes,
    )


def said_by(db, record) -> dict[str, object]:
    """Return what the store should keep of ``record``: its values, worked out on their own."""
    city, topics = db.execute(
        "SELECT city, topics FROM sources WHERE name = ?", (record.source,)
    ).fetchone()
    prepared = prepare_records([record], record.source, city, tuple(json.loads(topics)))
    (entry,) = prepared.entries.values()
    return dict(zip(RECORD_COLUMNS, entry.row, strict=True))


def kept(db, record) -> dict[str, object]:
    """Return what the store's record of ``record``'s entry reads back as."""
    (prov_id,) = db.execute(
        "SELECT p.id FROM provenance p JOIN sources s ON s.id = p.source_id"
        " WHERE s.name = ? AND p.source_uid = ?",
        (record.source, record.source_uid),
    ).fetchone()
    return source_records(db.conn)[prov_id]


def raw(db, record) -> str | bytes:
    return db.execute(
        "SELECT p.record FROM provenance p JOIN sources s ON s.id = p.source_id"
        " WHERE s.name = ? AND p.source_uid = ?",
        (record.source, record.source_uid),
    ).fetchone()[0]


def keeps(record) -> set[str]:
    """Return the columns a stored record keeps itself (all, for one kept whole)."""
    values = json.loads(record) if isinstance(record, str) else None
    return set(values) if isinstance(values, dict) else set(RECORD_COLUMNS)


def leans_entirely(record) -> bool:
    """Say whether a stored record leaves out everything it may (it keeps only lat/lon)."""
    return set(json.loads(record)) <= {"lat", "lon"}


def check(db, *records):
    for record in records:
        assert kept(db, record) == said_by(db, record), record.source


def event_row(db, event_id) -> dict[str, object]:
    row = db.execute(f"SELECT {RECORD_COLUMNS_SQL} FROM events WHERE id = ?", (event_id,))
    return dict(zip(RECORD_COLUMNS, row.fetchone(), strict=True))


def live_events(db):
    return [r[0] for r in db.execute("SELECT id FROM events WHERE removed_at IS NULL ORDER BY id")]


# -- what is kept ---------------------------------------------------------------


def test_one_source_keeps_each_text_once(pdx):
    upsert_events(pdx, "pdxlinux", [lug()], now=NOW)
    # the event's row is what the source said: the record leaves it all out
    assert leans_entirely(raw(pdx, lug()))
    check(pdx, lug())
    (event_id,) = live_events(pdx)
    assert event_row(pdx, event_id)["description"] == lug().description


def test_two_sources_keep_only_what_differs(pdx):
    upsert_events(pdx, "pdxlinux", [lug()], now=NOW)
    upsert_events(pdx, "calagator", [community()], now=NOW)
    (event_id,) = live_events(pdx)
    row = event_row(pdx, event_id)
    assert row["description"] == community().description  # the longest wins
    # each text is kept once: the row has the calendar's, the LUG's record its own
    # (a long rest is kept whole and compressed, when that is shorter)
    assert "description" in keeps(raw(pdx, lug()))
    assert "description" not in keeps(raw(pdx, community()))
    assert "title" not in keeps(raw(pdx, community()))  # both said the row's title
    check(pdx, lug(), community())
    listed = get_event(pdx.conn, str(event_id)).sources
    assert [(s.name, s.title, s.url) for s in listed] == [
        ("pdxlinux", lug().title, lug().url),
        ("calagator", community().title, community().url),
    ]


def test_every_lean_column_is_written_back_before_the_row_changes_it(pdx):
    upsert_events(pdx, "pdxlinux", [lug()], now=NOW)
    (event_id,) = live_events(pdx)
    before = kept(pdx, lug())
    for column in LEAN_COLUMNS:
        old = event_row(pdx, event_id)[column]
        if column in ("topics", "categories"):
            new = json.dumps([*json.loads(old), "changed"])
        else:
            new = old + 1 if isinstance(old, int) else f"{old or ''}-changed"
        column_sql = '"end"' if column == "end" else column
        with pdx.conn:
            pdx.execute(f"UPDATE events SET {column_sql} = ? WHERE id = ?", (new, event_id))
        assert kept(pdx, lug()) == before, column
    # everything the row said was written back: the record stands on its own
    assert stored_record(raw(pdx, lug())) == before


def test_the_triggers_cover_exactly_the_lean_columns(db):
    (sql,) = db.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'provenance_lean_au'"
    ).fetchone()
    written_back = {c for c in RECORD_COLUMNS if f"'$.{c}'" in sql}
    assert written_back == set(LEAN_COLUMNS)
    assert not {"lat", "lon"} & set(LEAN_COLUMNS)  # floats are never leaned on


# -- the row changes: nothing said is lost ----------------------------------------


def test_a_source_changing_its_entry_keeps_the_other_sources_statement(pdx):
    upsert_events(pdx, "pdxlinux", [lug()], now=NOW)
    upsert_events(pdx, "calagator", [community()], now=NOW)
    changed = community(title="PLUG: Intro to eBPF (moved upstairs)", venue="Upstairs room")
    upsert_events(pdx, "calagator", [changed], now=NOW + timedelta(hours=1))
    check(pdx, lug(), changed)
    # the LUG's site is the organizer's own: its title still wins
    (event_id,) = live_events(pdx)
    assert event_row(pdx, event_id)["title"] == lug().title
    longer = lug(description="Monthly meeting. " + LONG * 4)
    upsert_events(pdx, "pdxlinux", [longer], now=NOW + timedelta(hours=2))
    assert event_row(pdx, event_id)["description"] == longer.description
    check(pdx, longer, changed)


def test_one_source_updating_its_event_keeps_its_new_statement(pdx):
    upsert_events(pdx, "pdxlinux", [lug()], now=NOW)
    changed = lug(title="PLUG: eBPF, part two", description="Part two. " + LONG)
    upsert_events(pdx, "pdxlinux", [changed], now=NOW + timedelta(hours=1))
    assert leans_entirely(raw(pdx, changed))
    check(pdx, changed)


@pytest.mark.parametrize("provenance_first", [False, True])
def test_the_order_of_a_batchs_statements_does_not_matter(pdx, provenance_first):
    upsert_events(pdx, "pdxlinux", [lug()], now=NOW)
    (event_id,) = live_events(pdx)
    (prov_id,) = pdx.execute("SELECT id FROM provenance").fetchone()
    changed = lug(title="PLUG: eBPF, part two", description="Part two. " + LONG)
    row = tuple(said_by(pdx, changed)[c] for c in RECORD_COLUMNS)
    stamp = "2026-11-22T13:00:00+00:00"
    statements = [
        (UPDATE_EVENT, (*row, 0, stamp, 0, stamp, event_id)),
        (UPDATE_PROVENANCE, ("c", "s", stamp, provenance_record(row), prov_id)),
    ]
    with pdx.conn:
        for sql, params in reversed(statements) if provenance_first else statements:
            pdx.execute(sql, params)
    check(pdx, changed)


def test_split_and_merge_keep_every_statement(pdx):
    upsert_events(pdx, "pdxlinux", [lug()], now=NOW)
    upsert_events(pdx, "calagator", [community()], now=NOW)
    (event_id,) = live_events(pdx)
    moved = split_entry(pdx.conn, str(event_id), "calagator", now=NOW)
    assert live_events(pdx) == [event_id, moved.other_id]
    check(pdx, lug(), community())
    # each has an event of its own again, whose row is what it said
    assert leans_entirely(raw(pdx, lug())) and leans_entirely(raw(pdx, community()))
    assert event_row(pdx, event_id)["description"] == lug().description
    merge_events(pdx.conn, str(event_id), str(moved.other_id), now=NOW)
    check(pdx, lug(), community())
    assert event_row(pdx, event_id)["description"] == community().description
    assert "description" not in keeps(raw(pdx, community()))


def test_a_removed_source_leaves_the_others_whole(pdx):
    upsert_events(pdx, "pdxlinux", [lug()], now=NOW)
    upsert_events(pdx, "calagator", [community()], now=NOW)
    remove_source(pdx, "calagator", now=NOW)
    (event_id,) = live_events(pdx)
    assert event_row(pdx, event_id)["description"] == lug().description
    check(pdx, lug())


def test_an_entry_gone_from_its_source_keeps_its_record(pdx):
    upsert_events(pdx, "pdxlinux", [lug()], now=NOW)
    upsert_events(pdx, "calagator", [community()], now=NOW)
    # the calendar drops it: the event takes the LUG's values again
    upsert_events(pdx, "calagator", [], now=NOW + timedelta(hours=1))
    (event_id,) = live_events(pdx)
    assert event_row(pdx, event_id)["description"] == lug().description
    check(pdx, lug(), community())
    listed = get_event(pdx.conn, str(event_id)).sources
    assert [(s.name, s.removed, s.title) for s in listed] == [
        ("pdxlinux", False, lug().title),
        ("calagator", True, community().title),
    ]
    # and back
    upsert_events(pdx, "calagator", [community()], now=NOW + timedelta(hours=2))
    check(pdx, lug(), community())


def test_an_event_revived_by_its_first_source_keeps_the_others_statements(pdx):
    upsert_events(pdx, "pdxlinux", [lug()], now=NOW)
    upsert_events(pdx, "calagator", [community()], now=NOW)
    (event_id,) = live_events(pdx)
    remove_source(pdx, "pdxlinux", now=NOW)
    add_source(pdx, Source(name="pdxlinux", url="https://pdxlinux.org/events/", kind="lug"))
    # its entry comes back under the uid it made: the event's row is written again
    again = lug(title="PLUG: Intro to eBPF (again)", venue="Room 327")
    upsert_events(pdx, "pdxlinux", [again], now=NOW + timedelta(hours=1), match=False)
    assert event_row(pdx, event_id)["title"] == again.title
    check(pdx, again, community())


def test_re_tagging_a_row_keeps_the_records_topics(pdx):
    upsert_events(pdx, "pdxlinux", [lug()], now=NOW)
    (event_id,) = live_events(pdx)
    before = kept(pdx, lug())
    with pdx.conn:
        pdx.execute(
            "UPDATE events SET topics = '[\"retagged\"]', geo_precision = 'city' WHERE id = ?",
            (event_id,),
        )
    assert kept(pdx, lug()) == before
    # only what changed was written back: the texts still lean on the row
    assert set(json.loads(raw(pdx, lug()))) == {"topics", "geo_precision", "lat", "lon"}


def test_a_deleted_row_leaves_its_records_whole(pdx):
    upsert_events(pdx, "pdxlinux", [lug()], now=NOW)
    before = kept(pdx, lug())
    pdx.execute("PRAGMA foreign_keys = OFF")
    with pdx.conn:
        pdx.execute("DELETE FROM events")
    pdx.execute("PRAGMA foreign_keys = ON")
    assert stored_record(raw(pdx, lug())) == before


def test_a_damaged_record_neither_blocks_writes_nor_breaks_reads(pdx):
    upsert_events(pdx, "pdxlinux", [lug()], now=NOW)
    upsert_events(pdx, "calagator", [community()], now=NOW)
    # (a damaged record of a live entry stops remerging, as it always did)
    upsert_events(pdx, "calagator", [], now=NOW)
    with pdx.conn:
        pdx.execute(
            "UPDATE provenance SET record = '{\"title\": broken' WHERE source_uid = ?",
            (community().source_uid,),
        )
    changed = lug(title="PLUG: eBPF, part two")
    upsert_events(pdx, "pdxlinux", [changed], now=NOW + timedelta(hours=1))
    (event_id,) = live_events(pdx)
    listed = get_event(pdx.conn, str(event_id)).sources
    assert [(s.name, s.title) for s in listed] == [
        ("pdxlinux", changed.title),
        ("calagator", None),
    ]
    check(pdx, changed)
    with pytest.raises(ValueError, match="leans on its event's row"):
        stored_record("{}")


def test_lean_values_must_be_the_same_type_as_the_rows():
    # ``+`` strips the column's affinity: text "10" in a TEXT column is not 10
    from techcal.store.event_rows import lean_sql

    conn = sqlite3.connect(":memory:")
    kinds = {"all_day": "INTEGER", "lat": "REAL"}
    conn.execute(
        "CREATE TABLE events ("
        + ", ".join(f'"{c}" {kinds.get(c, "TEXT")}' for c in RECORD_COLUMNS)
        + ")"
    )
    conn.execute("INSERT INTO events (cost, title, all_day, lat) VALUES ('10', 'x', 1, 45.5)")
    sql = "SELECT " + lean_sql("?1") + " FROM events e"
    record = json.dumps({"cost": 10, "title": "x", "all_day": 1, "lat": 45.5})
    assert json.loads(conn.execute(sql, (record,)).fetchone()[0]) == {"cost": 10, "lat": 45.5}
    # anything but a JSON object is kept as it is
    assert conn.execute(sql, (b"\x78\x9c",)).fetchone()[0] == b"\x78\x9c"
    assert conn.execute(sql, ("[1]",)).fetchone()[0] == "[1]"


def test_rows_json_cannot_hold_are_kept_whole():
    row = tuple(float("nan") if c == "lat" else "x" for c in RECORD_COLUMNS)
    kept_whole = provenance_record(row)
    assert isinstance(kept_whole, bytes) or kept_whole.startswith("[")
    assert stored_record(kept_whole)["title"] == "x"


# -- migrating a store of the previous release ------------------------------------


def _as_previous_release_kept(row: tuple[object, ...]) -> str | bytes:
    """Return a record as techcal kept it before m012: a JSON list, compressed when long."""
    import zlib

    text = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= 256 else zlib.compress(text.encode(), 6)


def _as_hex(kept: str) -> str:
    return base64.urlsafe_b64decode(kept + "==").hex()


def test_a_store_of_the_previous_release_migrates_keeping_every_statement(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(connect(path))
    MIGRATIONS.apply(old, stop_before="m012_lean_provenance")
    for name, kind, url in (
        ("pdxlinux", "lug", "https://pdxlinux.org/events/"),
        ("calagator", "other", "https://calagator.org/events.ics"),
    ):
        add_source(old, Source(name=name, url=url, kind=kind, city="Portland, OR"))
    upsert_events(old, "pdxlinux", [lug(), make_event(5, source="pdxlinux")], now=NOW)
    upsert_events(old, "calagator", [community()], now=NOW)
    # the records as that release kept them: whole, in lists, long ones compressed;
    # and its digests, in hex
    with old.conn:
        for record in (lug(), community()):
            values = said_by(old, record)
            old.execute(
                "UPDATE provenance SET record = ? WHERE source_uid = ?",
                (_as_previous_release_kept(tuple(values.values())), record.source_uid),
            )
        for prov_id, content, schedule in old.execute(
            "SELECT id, content_hash, schedule_hash FROM provenance"
        ).fetchall():
            old.execute(
                "UPDATE provenance SET content_hash = ?, schedule_hash = ? WHERE id = ?",
                (_as_hex(content), _as_hex(schedule), prov_id),
            )
        # and one damaged
        old.execute(
            "UPDATE provenance SET record = ? WHERE source_uid = ?",
            (b"\x78\x9c damaged", make_event(5, source="pdxlinux").source_uid),
        )
    kinds = {r[0] for r in old.execute("SELECT typeof(record) FROM provenance")}
    assert kinds == {"blob"}
    before = {e: get_event(old.conn, str(e)) for e in live_events(old)}
    (size_before,) = old.execute("SELECT sum(length(record)) FROM provenance").fetchone()
    old.conn.close()

    db = open_store(path)
    assert "m012_lean_provenance" in {m.name for m in MIGRATIONS.applied(db)}
    check(db, lug(), community())
    assert raw(db, make_event(5, source="pdxlinux")) == b"\x78\x9c damaged"
    (size_after,) = db.execute("SELECT sum(length(record)) FROM provenance").fetchone()
    assert size_after < size_before
    assert "description" not in keeps(raw(db, community()))  # the row has its text
    assert {e: get_event(db.conn, str(e)) for e in live_events(db)} == before
    # the digests are the same bits: nothing reads as changed
    again = upsert_events(db, "calagator", [community()], now=NOW + timedelta(minutes=5))
    assert (again.unchanged, again.updated) == (1, 0)
    # the triggers came with it: a change keeps the other source's statement
    changed = community(title="PLUG: Intro to eBPF (moved upstairs)")
    upsert_events(db, "calagator", [changed], now=NOW + timedelta(hours=1))
    longer = lug(description="Monthly meeting. " + LONG * 4)
    upsert_events(db, "pdxlinux", [longer], now=NOW + timedelta(hours=1))
    check(db, longer, changed)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []


def test_records_of_an_older_release_still_read_whole(pdx):
    upsert_events(pdx, "pdxlinux", [lug()], now=NOW)
    values = kept(pdx, lug())
    old = _as_previous_release_kept(tuple(values[c] for c in RECORD_COLUMNS))
    with pdx.conn:
        pdx.execute("UPDATE provenance SET record = ?", (old,))
    assert kept(pdx, lug()) == values
    assert stored_record(json.dumps([values["title"]]))["geo_precision"] is None
