"""The database schema, as named migrations applied once each, in order.

Never edit a migration that has shipped: add a new one. ``open_store``
applies whatever is pending, so an older database is upgraded in place.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

from techcal.store.schema_names import FTS_COLUMNS, INDEX_PLACES_SINCE, INDEX_TOPICS_SINCE

MIGRATIONS = Migrations("techcal")


@MIGRATIONS()
def m001_initial(db: sqlite_utils.Database) -> None:
    """Sources, events, provenance and the FTS index."""
    db.execute(
        """
        CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            url TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL DEFAULT 'other',
            type TEXT NOT NULL DEFAULT 'auto',
            city TEXT,
            topics TEXT NOT NULL DEFAULT '[]',
            enabled INTEGER NOT NULL DEFAULT 1,
            added_at TEXT NOT NULL
        )
        """
    )
    # One row per real event. `uid` is what calendar apps and notifications
    # know it by: assigned once, never changed. `sequence` grows with every
    # change of time, place or status (RFC 5545 SEQUENCE).
    db.execute(
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,
            sequence INTEGER NOT NULL DEFAULT 0,
            title TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            url TEXT,
            start TEXT NOT NULL,
            "end" TEXT,
            start_utc INTEGER NOT NULL,
            end_utc INTEGER,
            timezone TEXT,
            all_day INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'confirmed',
            venue TEXT,
            address TEXT,
            city TEXT,
            region TEXT,
            country TEXT,
            lat REAL,
            lon REAL,
            online INTEGER NOT NULL DEFAULT 0,
            online_url TEXT,
            kind TEXT NOT NULL DEFAULT 'other',
            topics TEXT NOT NULL DEFAULT '[]',
            categories TEXT NOT NULL DEFAULT '[]',
            organizer TEXT,
            cost TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            changed_at TEXT NOT NULL,
            removed_at TEXT
        )
        """
    )
    db.execute("CREATE INDEX events_start_utc ON events(start_utc)")
    # Which source said what about which event: one row per source entry.
    db.execute(
        """
        CREATE TABLE provenance (
            id INTEGER PRIMARY KEY,
            event_id INTEGER NOT NULL REFERENCES events(id),
            source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
            source_uid TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            schedule_hash TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            removed_at TEXT,
            record TEXT NOT NULL,
            UNIQUE (source_id, source_uid)
        )
        """
    )
    db.execute("CREATE INDEX provenance_event_id ON provenance(event_id)")
    db.table("events").enable_fts(
        list(FTS_COLUMNS),
        create_triggers=False,
        tokenize="porter unicode61 remove_diacritics 2",
    )
    # No insert trigger: upsert_events, the only writer of new events, indexes
    # each batch with one INSERT ... SELECT, twice as fast as a per-row
    # trigger (bench/upsert.py). Updates re-index only when an indexed column
    # changes, so sequence/status/removal updates stay cheap.
    columns = ", ".join(f'"{c}"' for c in FTS_COLUMNS)
    old = ", ".join(f'old."{c}"' for c in FTS_COLUMNS)
    new = ", ".join(f'new."{c}"' for c in FTS_COLUMNS)
    db.execute(
        f"""
        CREATE TRIGGER "events_au" AFTER UPDATE OF {columns} ON "events" BEGIN
          INSERT INTO "events_fts" ("events_fts", rowid, {columns})
            VALUES ('delete', old.rowid, {old});
          INSERT INTO "events_fts" (rowid, {columns}) VALUES (new.rowid, {new});
        END
        """
    )
    db.execute(
        f"""
        CREATE TRIGGER "events_ad" AFTER DELETE ON "events" BEGIN
          INSERT INTO "events_fts" ("events_fts", rowid, {columns})
            VALUES ('delete', old.rowid, {old});
        END
        """
    )


@MIGRATIONS()
def m002_source_crawl_state(db: sqlite_utils.Database) -> None:
    """What the crawler remembers per source: conditional GET, errors, back-off."""
    sources = db.table("sources")
    for column, kind in (
        ("last_fetched", str),
        ("last_status", str),  # new / updated / unchanged / error
        ("http_status", int),
        ("last_error", str),
        ("etag", str),
        ("last_modified", str),
        ("body_digest", str),
        ("next_due", str),
    ):
        sources.add_column(column, kind)
    db.execute("ALTER TABLE sources ADD COLUMN failures INTEGER NOT NULL DEFAULT 0")


@MIGRATIONS()
def m003_reader_state(db: sqlite_utils.Database) -> None:
    """What the last read of each source left: to skip unchanged bodies and groups."""
    db.execute(
        """
        CREATE TABLE reader_state (
            source_id INTEGER PRIMARY KEY REFERENCES sources(id) ON DELETE CASCADE,
            digest TEXT NOT NULL,
            window_key TEXT NOT NULL,
            recurring INTEGER NOT NULL DEFAULT 0,
            snapshot BLOB,
            saved_at TEXT NOT NULL
        )
        """
    )


@MIGRATIONS()
def m004_listing_state(db: sqlite_utils.Database) -> None:
    """What a web source's listing pages said, and when its event pages were last all read."""
    db.execute(
        """
        CREATE TABLE listing_state (
            source_id INTEGER PRIMARY KEY REFERENCES sources(id) ON DELETE CASCADE,
            digest TEXT NOT NULL,
            full_read_at TEXT NOT NULL
        )
        """
    )


@MIGRATIONS()
def m005_search(db: sqlite_utils.Database) -> None:
    """Topics and places for search: geo_precision, the topic and R*Tree indexes."""
    db.execute("ALTER TABLE events ADD COLUMN geo_precision TEXT")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    # One row per (topic, event), in start order within a topic: a topic
    # search walks its own slice of this index in time order and stops at
    # --limit, however many events the store holds.
    db.execute(
        """
        CREATE TABLE event_topics (
            topic TEXT NOT NULL,
            start_utc INTEGER NOT NULL,
            event_id INTEGER NOT NULL,
            PRIMARY KEY (topic, start_utc, event_id)
        ) WITHOUT ROWID
        """
    )
    # Start time, latitude and longitude of every event that has a place: a
    # "near X, in these dates" search reads only the candidates in its box
    # (R*Tree keeps 32-bit floats rounded outwards, so the box is a superset
    # and exact times and distances are checked on the candidates).
    db.execute("CREATE VIRTUAL TABLE events_rtree USING rtree(id, t0, t1, lat0, lat1, lon0, lon1)")
    # upsert_events fills both for new events in one statement per batch
    # (like the FTS index); these triggers keep them right on every other
    # write.
    db.execute(
        """
        CREATE TRIGGER events_topics_au AFTER UPDATE OF topics, start_utc ON events BEGIN
          DELETE FROM event_topics WHERE event_id = old.id AND start_utc = old.start_utc
            AND topic IN (SELECT value FROM json_each(old.topics));
          INSERT OR IGNORE INTO event_topics (topic, start_utc, event_id)
            SELECT value, new.start_utc, new.id FROM json_each(new.topics);
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER events_topics_ad AFTER DELETE ON events BEGIN
          DELETE FROM event_topics WHERE event_id = old.id AND start_utc = old.start_utc
            AND topic IN (SELECT value FROM json_each(old.topics));
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER events_rtree_au AFTER UPDATE OF start_utc, lat, lon ON events BEGIN
          DELETE FROM events_rtree WHERE id = old.id;
          INSERT INTO events_rtree (id, t0, t1, lat0, lat1, lon0, lon1)
            SELECT new.id, new.start_utc, new.start_utc, new.lat, new.lat, new.lon, new.lon
            WHERE new.lat IS NOT NULL AND new.lon IS NOT NULL;
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER events_rtree_ad AFTER DELETE ON events BEGIN
          DELETE FROM events_rtree WHERE id = old.id;
        END
        """
    )
    # kind-only searches walk this in start order
    db.execute("CREATE INDEX events_kind_start ON events(kind, start_utc)")
    db.execute("UPDATE events SET geo_precision = 'exact' WHERE lat IS NOT NULL")
    db.execute(INDEX_TOPICS_SINCE, (0,))
    db.execute(INDEX_PLACES_SINCE, (0,))
    # tag and place what older versions stored without (and note which
    # taxonomy the tags come from, also for a new, empty database)
    from techcal.store.normalise import renormalise

    renormalise(db.conn, commit=False)


@MIGRATIONS()
def m006_dedupe(db: sqlite_utils.Database) -> None:
    """What users decided about merges: an entry is (or is not) a given event."""
    db.execute(
        """
        CREATE TABLE dedupe_choices (
            -- by name, not id: a choice outlives removing and adding the source again
            source TEXT NOT NULL,
            source_uid TEXT NOT NULL,
            event_uid TEXT NOT NULL,
            together INTEGER NOT NULL,
            decided_at TEXT NOT NULL,
            PRIMARY KEY (source, source_uid, event_uid)
        )
        """
    )
    # the matcher's look-up of all-day events around a timed one
    db.execute("CREATE INDEX events_all_day_start ON events(start_utc) WHERE all_day = 1")


@MIGRATIONS()
def m007_feeds(db: sqlite_utils.Database) -> None:
    """Each event's VEVENT, rendered once, so feeds are assembled, not rebuilt.

    icalendar builds about 1,800 events a second; joining stored blocks is
    over ten times faster. Triggers drop a block whenever anything it shows
    changes (the event row, which sources list it, a source's name), so a
    stale block can never be served: a missing one is rendered again.
    """
    db.execute(
        """
        CREATE TABLE event_ics (
            event_id INTEGER PRIMARY KEY REFERENCES events(id) ON DELETE CASCADE,
            block TEXT NOT NULL
        )
        """
    )
    # an event merged into another (by hand) is a copy, not a cancellation:
    # feeds leave it out, where an event that lost its sources stays, cancelled
    db.execute("ALTER TABLE events ADD COLUMN merged_into INTEGER")
    forget = "DELETE FROM event_ics WHERE event_id = {};"
    db.execute(
        "CREATE TRIGGER event_ics_events_au AFTER UPDATE ON events BEGIN "
        + forget.format("old.id")
        + " END"
    )
    db.execute(
        "CREATE TRIGGER event_ics_events_ad AFTER DELETE ON events BEGIN "
        + forget.format("old.id")
        + " END"
    )
    db.execute(
        "CREATE TRIGGER event_ics_provenance_ai AFTER INSERT ON provenance BEGIN "
        + forget.format("new.event_id")
        + " END"
    )
    db.execute(
        "CREATE TRIGGER event_ics_provenance_ad AFTER DELETE ON provenance BEGIN "
        + forget.format("old.event_id")
        + " END"
    )
    # a crawl names removed_at in every provenance update; only a real change counts
    db.execute(
        "CREATE TRIGGER event_ics_provenance_au AFTER UPDATE OF event_id, removed_at ON provenance"
        " WHEN old.event_id IS NOT new.event_id OR old.removed_at IS NOT new.removed_at BEGIN "
        + forget.format("old.event_id")
        + " "
        + forget.format("new.event_id")
        + " END"
    )
    db.execute(
        "CREATE TRIGGER event_ics_sources_au AFTER UPDATE OF name ON sources"
        " WHEN old.name IS NOT new.name BEGIN"
        " DELETE FROM event_ics WHERE event_id IN"
        " (SELECT event_id FROM provenance WHERE source_id = new.id); END"
    )


@MIGRATIONS()
def m008_notify(db: sqlite_utils.Database) -> None:
    """Subscriptions, what each was told, and the outbox of messages to deliver."""
    db.execute(
        """
        CREATE TABLE subscriptions (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            -- the filters as resolved when added (the place's coordinates,
            -- kilometres, absolute dates), in columns: matching reads them all
            text TEXT,
            topics TEXT NOT NULL DEFAULT '',
            kinds TEXT NOT NULL DEFAULT '',
            place TEXT,
            lat REAL,
            lon REAL,
            within_km REAL NOT NULL DEFAULT 50,
            start TEXT,
            "end" TEXT,
            days INTEGER,
            online INTEGER,
            -- Apprise URLs, or tag:NAME for targets in an Apprise configuration
            targets TEXT NOT NULL,
            apprise_config TEXT,
            remind TEXT NOT NULL DEFAULT '[]',
            digest TEXT,
            changes INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            digest_at TEXT
        )
        """
    )
    # Every change a subscriber may hear about, in commit order: SQLite has
    # one writer at a time, so a later commit always gets a higher seq and
    # the notifier's cursor never skips a change (a clock could).
    db.execute(
        "CREATE TABLE event_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " event_id INTEGER NOT NULL)"
    )
    db.execute(
        "CREATE TRIGGER event_changes_ai AFTER INSERT ON events"
        " WHEN EXISTS (SELECT 1 FROM subscriptions) BEGIN"
        " INSERT INTO event_changes (event_id) VALUES (new.id); END"
    )
    db.execute(
        "CREATE TRIGGER event_changes_au AFTER UPDATE ON events"
        " WHEN EXISTS (SELECT 1 FROM subscriptions) AND ("
        + " OR ".join(
            f"old.{c} IS NOT new.{c}"
            for c in (
                "sequence",
                "status",
                "removed_at",
                "merged_into",
                "start",
                '"end"',
                "title",
                "description",
                "topics",
                "kind",
                "venue",
                "address",
                "city",
                "lat",
                "lon",
                "online",
            )  # fmt: skip
        )
        + ") BEGIN"
        " INSERT INTO event_changes (event_id) VALUES (new.id); END"
    )
    # what each subscription was last told about each event: changes are
    # measured against it ("moved from Tue 18:00 to Wed 18:30")
    db.execute(
        """
        CREATE TABLE notified (
            subscription_id INTEGER NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
            event_id INTEGER NOT NULL,
            start TEXT NOT NULL,
            "end" TEXT,
            place TEXT NOT NULL,
            status TEXT NOT NULL,
            -- event first: matching writes event by event, so inserts stay in order
            PRIMARY KEY (event_id, subscription_id)
        ) WITHOUT ROWID
        """
    )
    # One row per message: the unique key makes matching idempotent. The
    # text is written when it is sent, from the event as it is then and the
    # row's detail (what changed).
    db.execute(
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            subscription_id INTEGER NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
            event_id INTEGER NOT NULL DEFAULT 0,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            -- 1: waits for its subscription's digest
            held INTEGER NOT NULL DEFAULT 0,
            digest_id INTEGER,
            -- event first, as above
            UNIQUE (event_id, subscription_id, kind, key)
        )
        """
    )
    db.execute("CREATE INDEX outbox_held ON outbox(subscription_id) WHERE held = 1")
    # Delivery is per target: one failing target never holds up the others.
    db.execute(
        """
        CREATE TABLE deliveries (
            outbox_id INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
            target TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_at TEXT NOT NULL,
            last_error TEXT,
            sent_at TEXT,
            -- who is sending it (host:pid) and since when: another notify
            -- leaves it alone; a dead one's claim is taken over
            owner TEXT,
            claimed_at TEXT,
            -- for tag: targets, the URLs (by digest) that already have it
            done TEXT NOT NULL DEFAULT '[]',
            PRIMARY KEY (outbox_id, target)
        ) WITHOUT ROWID
        """
    )
    db.execute("CREATE INDEX deliveries_due ON deliveries(next_at) WHERE state != 'sent'")


@MIGRATIONS()
def m009_drop_stored_blocks(db: sqlite_utils.Database) -> None:
    """Feeds write each VEVENT from its row: the stored blocks of m007 go.

    Written with str operations, a block takes tens of microseconds, so a
    10,000-event feed is rendered in a fraction of a second; the blocks
    were the store's largest table (a third copy of every description).
    The triggers go first: they name ``event_ics`` in their bodies, and
    dropping the table would leave them to fail on the next write.
    ``events.merged_into``, added by m007 too, stays.
    """
    for trigger in (
        "event_ics_events_au",
        "event_ics_events_ad",
        "event_ics_provenance_ai",
        "event_ics_provenance_ad",
        "event_ics_provenance_au",
        "event_ics_sources_au",
    ):
        db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    db.execute("DROP TABLE IF EXISTS event_ics")
    # it named the writer and icalendar version that rendered the blocks
    db.execute("DELETE FROM meta WHERE key = 'ics_render'")


@MIGRATIONS()
def m010_placeless_index(db: sqlite_utils.Database) -> None:
    """The matcher's look-up of events with no coordinates around a time.

    Events with coordinates are found in the R*Tree by time and place;
    these (online, or a place the gazetteer does not know) are judged by
    city wherever they are, and without this index the look-up read every
    event of the hour worldwide.
    """
    db.execute("CREATE INDEX events_placeless_start ON events(start_utc) WHERE lat IS NULL")


# (not INSERT OR IGNORE: an outer statement's conflict clause, such as
# INSERT ... ON CONFLICT DO UPDATE reviving an event, overrides a trigger's)
_LIST_NEW = (
    "INSERT INTO match_stale (event_id) SELECT new.id"
    " WHERE NOT EXISTS (SELECT 1 FROM match_stale WHERE event_id = new.id)"
)
_LIST_OLD = _LIST_NEW.replace("new.id", "old.id")


@MIGRATIONS()
def m011_match_index(db: sqlite_utils.Database) -> None:
    """What the matcher compares of each stored event, worked out once, and found by key.

    ``match_forms`` keeps a stored event's title, link and organizer as
    techcal.normalise.dedupe compares them (``match_form``), and the hour
    and place cell its keys were filed under; ``match_keys`` files each
    event under the words, initials, organizer and link it can be matched
    by, in its place's cell, and its start hour (``clue_keys``), so a new
    entry's candidates are the events around it that share one, not the
    whole busy evening. An event whose title, link, organizer, start or
    place changes (or a new or deleted one) is listed in ``match_stale`` by
    the triggers, and filed again before the next match
    (techcal.store.match_index). The events stored before are filed then
    too, a few thousand per batch: the meta key ``match_forms`` (the
    version their forms were worked out by) is not set yet.
    """
    db.execute(
        "CREATE TABLE match_forms (event_id INTEGER PRIMARY KEY, hour INTEGER NOT NULL,"
        " cell TEXT NOT NULL, form TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE match_keys (key INTEGER NOT NULL, hour INTEGER NOT NULL,"
        " event_id INTEGER NOT NULL, PRIMARY KEY (key, hour, event_id)) WITHOUT ROWID"
    )
    db.execute("CREATE TABLE match_stale (event_id INTEGER PRIMARY KEY)")
    db.execute(f"CREATE TRIGGER match_stale_ai AFTER INSERT ON events BEGIN {_LIST_NEW}; END")
    db.execute(
        "CREATE TRIGGER match_stale_au AFTER UPDATE OF title, url, organizer, start_utc, lat, lon"
        " ON events WHEN old.title IS NOT new.title OR old.url IS NOT new.url"
        " OR old.organizer IS NOT new.organizer OR old.start_utc IS NOT new.start_utc"
        " OR old.lat IS NOT new.lat OR old.lon IS NOT new.lon"
        f" BEGIN {_LIST_NEW}; END"
    )
    # (listed too: its keys are dropped when it is filed)
    db.execute(f"CREATE TRIGGER match_stale_ad AFTER DELETE ON events BEGIN {_LIST_OLD}; END")
    # (the events stored so far are filed by the next matches: see match_index)


#: The record columns a provenance record may lean on when m012 runs (as
#: techcal.store.event_rows.LEAN_COLUMNS then): its triggers cover these.
_M012_LEAN_COLUMNS = (
    "title", "description", "url", "start", "end", "start_utc", "end_utc", "timezone",
    "all_day", "status", "venue", "address", "city", "region", "country", "online",
    "online_url", "kind", "topics", "categories", "organizer", "cost", "geo_precision",
)  # fmt: skip


def _q(column: str) -> str:
    return '"end"' if column == "end" else column


def _lean_record_triggers(columns: tuple[str, ...]) -> list[str]:
    """Return the triggers that keep provenance records leaning on ``columns`` right.

    A record that is a JSON object leaves out the values its event's row has
    too (see techcal.store.event_rows.provenance_record). Before the row
    stops saying them, each is written back into every such record: when a
    value changes (only the values that change), when the row is deleted,
    and when a record moves to another event (``events split``/``merge``).
    """
    # (a damaged record is left as it is: it must not stop the row's writes)
    lean = "typeof(record) = 'text' AND substr(record, 1, 1) = '{' AND json_valid(record)"
    changed = " OR ".join(f"old.{_q(c)} IS NOT new.{_q(c)}" for c in columns)
    keep_changed = ", ".join(
        f"CASE WHEN old.{_q(c)} IS NOT new.{_q(c)} THEN '$.{c}' ELSE '$.\"~\"' END, old.{_q(c)}"
        for c in columns
    )
    keep_all = ", ".join(f"'$.{c}', {{0}}.{_q(c)}" for c in columns)
    return [
        f"""
        CREATE TRIGGER provenance_lean_au AFTER UPDATE OF {", ".join(map(_q, columns))}
        ON events WHEN {changed} BEGIN
          UPDATE provenance SET record = json_remove(json_insert(record, {keep_changed}),
            '$."~"') WHERE event_id = old.id AND {lean};
        END
        """,
        f"""
        CREATE TRIGGER provenance_lean_bd BEFORE DELETE ON events BEGIN
          UPDATE provenance SET record = json_insert(record, {keep_all.format("old")})
            WHERE event_id = old.id AND {lean};
        END
        """,
        f"""
        CREATE TRIGGER provenance_lean_moved AFTER UPDATE OF event_id ON provenance
        WHEN old.event_id IS NOT new.event_id
          AND typeof(new.record) = 'text' AND substr(new.record, 1, 1) = '{{'
          AND json_valid(new.record) BEGIN
          UPDATE provenance SET record = (SELECT json_insert(new.record, {keep_all.format("e")})
            FROM events e WHERE e.id = old.event_id) WHERE id = new.id;
        END
        """,
    ]


@MIGRATIONS()
def m012_lean_provenance(db: sqlite_utils.Database) -> None:
    """Provenance records keep only what differs from their event's row.

    Each record was kept whole (a JSON list, zlib-compressed when long), so
    every description was stored twice: in ``events`` and in its source's
    record. Records become JSON objects without the values the event's row
    has too (``{}`` for most events, which have one source), and the
    triggers of _lean_record_triggers write a value back into every record
    leaning on it before the row changes it. The table is rebuilt with the
    new records, packed (shrinking rows in place would leave its pages
    mostly empty); the freed pages are reused by later writes (``sqlite3
    techcal.db VACUUM`` gives them back to the disk). A record that cannot
    be read is kept as it was. The content and schedule digests, hex before,
    are rewritten as digest gives them now (base64: 22 characters, not 32):
    the same bits, so no entry reads as changed.
    """
    from techcal.store.event_rows import (
        RECORD_COLUMNS,
        hex_digest_as_kept,
        lean_record,
        provenance_record,
        stored_record,
    )

    conn = db.conn
    conn.execute(
        """
        CREATE TABLE provenance_m012 (
            id INTEGER PRIMARY KEY,
            event_id INTEGER NOT NULL REFERENCES events(id),
            source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
            source_uid TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            schedule_hash TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            removed_at TEXT,
            record TEXT NOT NULL,
            UNIQUE (source_id, source_uid)
        )
        """
    )
    insert = (
        "INSERT INTO provenance_m012 (id, event_id, source_id, source_uid, content_hash,"
        " schedule_hash, first_seen, last_seen, removed_at, record)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    cursor = conn.execute(
        "SELECT p.id, p.event_id, p.source_id, p.source_uid, p.content_hash, p.schedule_hash,"
        " p.first_seen, p.last_seen, p.removed_at, p.record, "
        + ", ".join(f"e.{_q(c)}" for c in RECORD_COLUMNS)
        + " FROM provenance p LEFT JOIN events e ON e.id = p.event_id ORDER BY p.id"
    )
    while rows := cursor.fetchmany(1000):
        converted = []
        for row in rows:
            prov_id, event_id, source_id, source_uid, content, schedule, *seen = row[:9]
            content, schedule = hex_digest_as_kept(content), hex_digest_as_kept(schedule)
            columns = (prov_id, event_id, source_id, source_uid, content, schedule, *seen)
            record = row[9]
            # (title is NOT NULL: no title, no event row)
            event = None if row[10] is None else dict(zip(RECORD_COLUMNS, row[10:], strict=True))
            try:
                said = stored_record(record, event)
                if event is None:
                    record = provenance_record(tuple(said[c] for c in RECORD_COLUMNS))
                else:
                    record = lean_record(said, event)
            except (ValueError, TypeError, KeyError, IndexError):
                pass  # unreadable: kept as it was (and read as damaged, as before)
            converted.append((*columns, record))
        conn.executemany(insert, converted)
    conn.execute("DROP TABLE provenance")
    conn.execute("ALTER TABLE provenance_m012 RENAME TO provenance")
    conn.execute("CREATE INDEX provenance_event_id ON provenance(event_id)")
    for trigger in _lean_record_triggers(_M012_LEAN_COLUMNS):
        conn.execute(trigger)


@MIGRATIONS()
def m013_series(db: sqlite_utils.Database) -> None:
    """Each source's series (its rhythm), the events in them, and what health needs.

    ``series`` holds what detection found in one source's events (the rule
    in RRULE form, the usual local time, the title its events share), one
    row per (source, key): the key stays the same as occurrences come and
    go, so a series keeps its id. ``series_events`` links events to them.
    ``sources`` learns when it was last fetched without an error
    (``last_ok``: ``last_fetched`` is also written by failures), when its
    events last changed (``changed_at``: a body can change, a DTSTAMP, with
    nothing in it changing) and whether its series are found yet
    (``series_at``). Health subscriptions (``subscriptions.health``) are
    told about series gone quiet, in the scope of their filters and
    ``sources``, and never about events.
    """
    conn = db.conn
    conn.execute(
        """
        CREATE TABLE series (
            id INTEGER PRIMARY KEY,
            source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            rule TEXT NOT NULL,
            anchor TEXT,
            time TEXT NOT NULL,
            timezone TEXT,
            title TEXT NOT NULL,
            place TEXT NOT NULL DEFAULT '',
            first TEXT NOT NULL,
            last TEXT NOT NULL,
            count INTEGER NOT NULL,
            found_at TEXT NOT NULL,
            UNIQUE (source_id, key)
        )
        """
    )
    conn.execute(
        "CREATE TABLE series_events (series_id INTEGER NOT NULL REFERENCES series(id)"
        " ON DELETE CASCADE, event_id INTEGER NOT NULL, PRIMARY KEY (series_id, event_id))"
        " WITHOUT ROWID"
    )
    conn.execute("CREATE INDEX series_events_event ON series_events(event_id)")
    for column in ("last_ok", "changed_at", "series_at"):
        conn.execute(f"ALTER TABLE sources ADD COLUMN {column} TEXT")
    # what older stores know: a fetch that did not fail, the newest entry
    conn.execute(
        "UPDATE sources SET last_ok = last_fetched WHERE last_status IS NOT NULL"
        " AND last_status != 'error'"
    )
    conn.execute(
        "UPDATE sources SET changed_at = (SELECT max(p.first_seen) FROM provenance p"
        " WHERE p.source_id = sources.id)"
    )
    conn.execute("ALTER TABLE subscriptions ADD COLUMN health INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE subscriptions ADD COLUMN sources TEXT NOT NULL DEFAULT ''")


def known_migrations() -> set[str]:
    """Return the names of every migration this version of techcal knows."""
    return {m.name for m in MIGRATIONS._migrations}
