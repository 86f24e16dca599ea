"""Benchmark: upsert 100k synthetic event records into a fresh store.

Prints records/s for techcal's upsert_events (new, unchanged, 10% changed),
beside plain sqlite3 executemany of the same rows into the same schema in
the same run, and peak memory. Run:

    python bench/upsert.py [--records 100000] [--sources 100] [--description-words 60]
"""

from __future__ import annotations

import argparse
import random
import resource
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from techcal.event import Event
from techcal.store import Source, add_sources, open_store, upsert_events
from techcal.store.event_rows import (
    INDEX_NEW_EVENTS,
    INSERT_EVENT,
    INSERT_PROVENANCE,
    RECORD_COLUMNS,
    RECORD_COLUMNS_SQL,
    event_uid,
    normalised_values,
    provenance_record,
    record_values,
)
from techcal.store.normalise import Normaliser
from techcal.store.schema_names import INDEX_PLACES_SINCE, INDEX_TOPICS_SINCE

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
WORDS = (
    "linux python rust kubernetes security meetup workshop talk hackathon intro "
    "advanced night lightning data cloud web open source community beginners"
).split()
CITIES = [
    ("Portland", "OR", 45.52, -122.68),
    ("Berlin", None, 52.52, 13.40),
    ("Toronto", "ON", 43.65, -79.38),
]


def synthetic(
    n_records: int, n_sources: int, words: int = 60, seed: int = 7
) -> dict[str, list[Event]]:
    rng = random.Random(seed)
    per_source: dict[str, list[Event]] = {f"src{i:03d}": [] for i in range(n_sources)}
    names = list(per_source)
    for n in range(n_records):
        source = names[n % n_sources]
        city, region, lat, lon = CITIES[n % len(CITIES)]
        start = NOW + timedelta(days=rng.randint(1, 365), hours=rng.randint(8, 20))
        title = " ".join(rng.choice(WORDS) for _ in range(5)).title()
        per_source[source].append(
            Event(
                source=source,
                source_uid=f"{n}@{source}.example.org",
                title=title,
                description=" ".join(rng.choice(WORDS) for _ in range(words)),
                url=f"https://{source}.example.org/events/{n}",
                start=start,
                end=start + timedelta(hours=2),
                timezone="America/Los_Angeles",
                venue=f"Room {n % 50}",
                address=f"{n % 900} Main St",
                city=city,
                region=region,
                lat=lat,
                lon=lon,
                kind="user-group",
                topics=(rng.choice(WORDS),),
            )
        )
    return per_source


def fresh_store(directory: Path, name: str, sources: list[str]):
    db = open_store(directory / f"{name}.db")
    add_sources(db, [Source(name=s, url=f"https://{s}.example.org/events.ics") for s in sources])
    return db


def run_techcal(db, batches: dict[str, list[Event]]) -> tuple[float, dict[str, int]]:
    totals: dict[str, int] = {}
    t0 = time.perf_counter()
    for source, records in batches.items():
        for key, value in upsert_events(db, source, records, now=NOW).counts().items():
            totals[key] = totals.get(key, 0) + value
    return time.perf_counter() - t0, totals


def run_plain_executemany(db, batches: dict[str, list[Event]]) -> float:
    """The same writes as upsert_events (event rows, FTS, provenance rows) with
    every value prepared beforehand: what SQLite alone costs."""
    stamp = NOW.isoformat()
    normaliser = Normaliser()
    prepared = {}
    for source, records in batches.items():
        (source_id,) = db.conn.execute(
            "SELECT id FROM sources WHERE name = ?", (source,)
        ).fetchone()
        events, provenance = [], []
        for r in records:
            uid = event_uid(source, r.source_uid)
            row = normalised_values(record_values(r), r, normaliser, None, ())
            events.append((uid, *row, stamp, stamp, stamp))
            provenance.append(
                (
                    uid,
                    source_id,
                    r.source_uid,
                    "c" * 32,
                    "s" * 32,
                    stamp,
                    stamp,
                    provenance_record(row),
                )
            )
        prepared[source] = (events, provenance)
    conn: sqlite3.Connection = db.conn
    t0 = time.perf_counter()
    for events, provenance in prepared.values():
        conn.execute("BEGIN IMMEDIATE")
        (last_id,) = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()
        conn.executemany(INSERT_EVENT, events)
        conn.execute(INDEX_NEW_EVENTS, (last_id,))
        conn.execute(INDEX_TOPICS_SINCE, (last_id,))
        conn.execute(INDEX_PLACES_SINCE, (last_id,))
        conn.executemany(INSERT_PROVENANCE, provenance)
        conn.execute("COMMIT")
    return time.perf_counter() - t0


def run_bare_executemany(path: Path, batches: dict[str, list[Event]]) -> float:
    """The event rows alone into a table with no index, FTS or provenance."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"CREATE TABLE events (uid TEXT, {RECORD_COLUMNS_SQL}, a, b, c)")
    sql = f"INSERT INTO events VALUES ({', '.join('?' for _ in range(len(RECORD_COLUMNS) + 4))})"
    normaliser = Normaliser()
    rows = [
        [
            (
                event_uid(s, r.source_uid),
                *normalised_values(record_values(r), r, normaliser, None, ()),
                1,
                2,
                3,
            )
            for r in records
        ]
        for s, records in batches.items()
    ]
    t0 = time.perf_counter()
    for batch in rows:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, batch)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--sources", type=int, default=100)
    parser.add_argument(
        "--description-words",
        type=int,
        default=60,
        help="words per description (FTS indexing cost grows with it)",
    )
    args = parser.parse_args()
    n = args.records
    batches = synthetic(n, args.sources, args.description_words)
    names = list(batches)
    print(
        f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}; "
        f"{n:,} records in {args.sources} sources, one transaction per source, "
        f"{args.description_words}-word descriptions"
    )

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        db = fresh_store(directory, "techcal", names)
        new_elapsed, counts = run_techcal(db, batches)
        assert counts["new"] == n, counts
        print(
            f"techcal upsert_events, all new     {n / new_elapsed:>9,.0f} records/s  "
            f"({new_elapsed:.2f} s)"
        )

        elapsed, counts = run_techcal(db, batches)
        assert counts["unchanged"] == n, counts
        print(
            f"techcal upsert_events, unchanged   {n / elapsed:>9,.0f} records/s  ({elapsed:.2f} s)"
        )

        rng = random.Random(3)
        for records in batches.values():
            for record in rng.sample(records, len(records) // 10):
                record.description += " (updated)"
                if rng.random() < 0.5:
                    record.start += timedelta(hours=1)
        elapsed, counts = run_techcal(db, batches)
        print(
            f"techcal upsert_events, 10% changed {n / elapsed:>9,.0f} records/s  ({elapsed:.2f} s, "
            f"{counts['updated']:,} updated)"
        )
        db.conn.close()

        plain = fresh_store(directory, "plain", names)
        plain_elapsed = run_plain_executemany(plain, batches)
        print(
            f"plain sqlite3 executemany, same writes {n / plain_elapsed:>9,.0f} rows/s  "
            f"({plain_elapsed:.2f} s; techcal all-new takes {new_elapsed / plain_elapsed:.2f}x)"
        )
        plain.conn.close()
        elapsed = run_bare_executemany(directory / "bare.db", batches)
        print(
            f"plain sqlite3 executemany, bare table  {n / elapsed:>9,.0f} rows/s  "
            f"({elapsed:.2f} s; no index, FTS or provenance)"
        )

        # Python heap peak of one full insert, measured separately because
        # tracemalloc slows the interpreter down
        db = fresh_store(directory, "mem", names)
        tracemalloc.start()
        run_techcal(db, batches)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        db.conn.close()
        size = sum(p.stat().st_size for p in directory.glob("techcal.db*"))
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"peak Python heap during the upsert of {n:,} records: {peak / 2**20:.1f} MiB "
        f"(beyond the records themselves); process max RSS {maxrss_mb:.0f} MiB; "
        f"database {size / 2**20:.0f} MiB"
    )


if __name__ == "__main__":
    main()
