"""Benchmark: matching subscriptions against new events, and writing the messages.

10,000 subscriptions (topics, kinds, places with a radius, some with text)
against 10,000 new events in the same cities, broad enough to make over a
million matches ("the flood"); then the usual case, a crawl bringing 100
new events. Each is measured twice, side by side:

- matching: techcal's (read the subscriptions and index them, read the
  events, match) against the bare index (the subscriptions already
  indexed and the events in memory: the set work alone);
- writing: ``match()`` in its write transaction, commit included
  (matching, the outbox, the deliveries and what each subscriber was
  told), against plain sqlite3 writing the same rows (``executemany`` of
  prebuilt tuples, one transaction, same schema and pragmas) into a copy
  of the store taken just before.

It ends with the goals of issue 18 and whether each is met: the usual case
<= 50 ms matching and <= 100 ms with its messages written; the flood
written in <= 5 s with the process's peak RSS <= 300 MB. The flood runs
first, so the RSS is that of matching and writing it (the reference runs
after, and its own peak is not counted). Run:

    python bench/notify.py
    python bench/notify.py --subscriptions 10000 --events 10000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from techcal.event import KINDS, Event, StoredEvent
from techcal.normalise.gazetteer import Place
from techcal.notifier.index import Index
from techcal.notifier.match import match
from techcal.notifier.subscriptions import Subscription
from techcal.notifier.told import place_text
from techcal.store import Source, add_sources, open_store, upsert_events
from techcal.store.database import connect, write_transaction
from techcal.store.notified import events_by_id, text_hits
from techcal.store.places import gazetteer
from techcal.store.subscriptions import insert_subscriptions, subscription_rows

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
#: the cities events and subscriptions are in (40 of the largest, from the gazetteer)
CITY_COUNT = 40
#: the goals of issue 18
USUAL_MATCHING_MS = 50
USUAL_WRITTEN_MS = 100
FLOOD_WRITTEN_S = 5.0
FLOOD_RSS_MB = 300


def cities() -> list[tuple[str, float, float]]:
    rows = gazetteer().conn.execute(
        "SELECT name, lat, lon FROM places ORDER BY population DESC LIMIT ?", (CITY_COUNT,)
    )
    return [(name, lat, lon) for name, lat, lon in rows]


TOPICS = ["linux", "python", "rust", "kubernetes", "javascript", "security", "data", "cloud"]
WORDS = ["meetup", "workshop", "hack", "night", "talks", "beginners", "sprint", "social"]


def make_subscriptions(db, count: int, rng: random.Random) -> None:
    places = cities()
    rows = []
    for i in range(count):
        name, lat, lon = places[rng.randrange(len(places))]
        roll = rng.random()
        sub = Subscription(
            name=f"sub-{i}",
            targets=[f"json://127.0.0.1:9/{i}"],
            topics=tuple(rng.sample(TOPICS, 3)) if roll < 0.8 else (),
            kinds=(rng.choice(KINDS),) if roll > 0.9 else (),
            near=Place(name=name, lat=lat, lon=lon) if roll < 0.95 else None,
            within_km=rng.choice([25, 50, 100]),
            text=rng.choice(WORDS) if rng.random() < 0.1 else None,
            created_at=NOW,
        )
        rows.append(sub.row())
    insert_subscriptions(db.conn, rows)
    db.conn.commit()


def make_events(count: int, rng: random.Random, tag: str) -> list[Event]:
    places = cities()
    events = []
    for i in range(count):
        name, lat, lon = places[rng.randrange(len(places))]
        start = NOW + timedelta(hours=rng.randrange(2, 24 * 60))
        topic = rng.choice(TOPICS)
        events.append(
            Event(
                source="bench",
                source_uid=f"{tag}-{i}@example.org",
                title=f"{name} {topic} {rng.choice(WORDS)} {i}",
                description="",
                start=start,
                end=start + timedelta(hours=2),
                timezone="UTC",
                city=name,
                lat=lat + rng.uniform(-0.2, 0.2),
                lon=lon + rng.uniform(-0.2, 0.2),
                kind="user-group",
                topics=(topic,),
            )
        )
    return events


def rss_mib() -> float:
    """Return the process's peak resident size so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Case(NamedTuple):
    """One case measured: techcal and its reference."""

    name: str
    pairs: int
    matching: float
    matching_cpu: float
    bare_index: float
    messages: int
    written: float
    cpu: float
    plain_sqlite: float
    rss: float


# -- matching ------------------------------------------------------------------


def changed_ids(conn: sqlite3.Connection) -> list[int]:
    return [r[0] for r in conn.execute("SELECT event_id FROM event_changes")]


def techcal_matching(conn: sqlite3.Connection, ids: list[int]) -> tuple[float, float, int]:
    """Return the wall and CPU time of matching as match() does it (read, index, match)."""
    cpu = time.process_time()
    started = time.perf_counter()
    index = Index.read(conn)
    events = events_by_id(conn, ids)
    hits = text_hits(conn, events, index.texts)
    pairs = sum(len(index.match_ids(event, NOW, hits)) for event in events)
    took = time.perf_counter() - started
    cpu = time.process_time() - cpu
    conn.commit()  # the temporary text index
    return took, cpu, pairs


def bare_matching(
    conn: sqlite3.Connection, ids: list[int]
) -> tuple[float, list[tuple[StoredEvent, list[int]]]]:
    """Return the time of the set work alone, and what each event matched (sorted)."""
    index = Index(subscription_rows(conn, by_name=False))
    events = events_by_id(conn, ids)
    hits = text_hits(conn, events, index.texts)
    conn.commit()
    started = time.perf_counter()
    sum(len(index.match_ids(event, NOW, hits)) for event in events)
    took = time.perf_counter() - started
    index = Index(subscription_rows(conn, by_name=False))  # its caches empty again
    return took, [(event, sorted(index.match_ids(event, NOW, hits))) for event in events]


# -- writing -------------------------------------------------------------------


def techcal_writing(conn: sqlite3.Connection) -> tuple[float, float, int]:
    """Return the wall and CPU time of match() in its transaction, and its messages."""
    cpu = os.times()
    started = time.perf_counter()
    with write_transaction(conn):
        report = match(conn, now=NOW)
    took = time.perf_counter() - started
    after = os.times()
    return took, (after.user - cpu.user) + (after.system - cpu.system), report.total


def snapshot(conn: sqlite3.Connection, path: Path) -> None:
    """Copy the store as it is now (for the reference to write into)."""
    path.unlink(missing_ok=True)
    copy = sqlite3.connect(path)
    conn.backup(copy)
    copy.close()


def plain_writing(path: Path, matched: list[tuple[StoredEvent, list[int]]]) -> float:
    """Return the time plain sqlite3 takes to write the same rows into the copy at ``path``."""
    conn = connect(path)  # the same pragmas: WAL, synchronous NORMAL, foreign keys, cache
    stamp = NOW.isoformat()
    targets = {
        sid: json.loads(raw) for sid, raw in conn.execute("SELECT id, targets FROM subscriptions")
    }
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    first = conn.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()[0]
    conn.executemany(
        "INSERT OR IGNORE INTO outbox (subscription_id, event_id, kind, key, detail,"
        " created_at, held) VALUES (?, ?, 'new', ?, '{}', ?, 0)",
        ((sid, e.id, str(e.sequence), stamp) for e, sids in matched for sid in sids),
    )
    conn.executemany(
        "INSERT OR IGNORE INTO deliveries (outbox_id, target, next_at) VALUES (?, ?, ?)",
        _deliveries(matched, targets, first, stamp),
    )
    conn.executemany(
        'INSERT OR REPLACE INTO notified (subscription_id, event_id, start, "end", place,'
        " status) VALUES (?, ?, ?, ?, ?, 'on')",
        (
            (sid, e.id, e.start, e.end, place)
            for e, sids in matched
            for place in (place_text(e),)
            for sid in sids
        ),
    )
    conn.execute("COMMIT")
    took = time.perf_counter() - started
    conn.close()
    return took


def _deliveries(
    matched: list[tuple[StoredEvent, list[int]]],
    targets: dict[int, list[str]],
    first: int,
    stamp: str,
) -> Iterator[tuple[Any, ...]]:
    """Yield the deliveries of the outbox rows just written (ids follow on from ``first``)."""
    outbox_id = first
    for _, sids in matched:
        for sid in sids:
            outbox_id += 1
            for target in targets[sid]:
                yield outbox_id, target, stamp


# -- the run -------------------------------------------------------------------


def measure(name: str, conn: sqlite3.Connection, copy: Path) -> tuple[Case, list[Any]]:
    """Measure techcal on ``conn``; return the case without its reference write, and the pairs."""
    snapshot(conn, copy)
    ids = changed_ids(conn)
    matching, matching_cpu, pairs = techcal_matching(conn, ids)
    written, cpu, messages = techcal_writing(conn)
    rss = rss_mib()
    # after techcal's run, so that its peak RSS is its own
    bare, matched = bare_matching(conn, ids)
    case = Case(name, pairs, matching, matching_cpu, bare, messages, written, cpu, 0.0, rss)
    return case, matched


def run(n_subs: int, n_events: int, small: int) -> None:
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as folder:
        db = open_store(Path(folder) / "notify.db")
        add_sources(db, [Source(name="bench", url="https://example.org/bench.ics")])
        make_subscriptions(db, n_subs, rng)
        upsert_events(db, "bench", make_events(n_events, rng, "a"), now=NOW, match=False)
        conn = db.conn
        print(
            f"{n_subs:,} subscriptions; setup done, process max RSS {rss_mib():.0f} MiB;"
            f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )

        flood, flood_pairs = measure(f"flood, {n_events:,} new events", conn, Path(folder) / "a.db")
        upsert_events(
            db, "bench", make_events(small, rng, "b"), now=NOW, match=False, complete=False
        )
        usual, usual_pairs = measure(f"usual, {small} new events", conn, Path(folder) / "b.db")
        conn.close()
        # the references last: their lists do not count in techcal's peak RSS
        flood = flood._replace(plain_sqlite=plain_writing(Path(folder) / "a.db", flood_pairs))
        del flood_pairs
        usual = usual._replace(plain_sqlite=plain_writing(Path(folder) / "b.db", usual_pairs))
    report(flood, usual)


def report(flood: Case, usual: Case) -> None:
    for case in (flood, usual):
        print(f"\n{case.name}: {case.pairs:,} matches, {case.messages:,} messages")
        print(
            f"  matching     techcal {case.matching * 1000:8.1f} ms"
            f"   bare index {case.bare_index * 1000:8.1f} ms"
            f"   ratio {case.matching / case.bare_index:5.2f}x"
            f"   (CPU {case.matching_cpu * 1000:.0f} ms)"
        )
        print(
            f"  written      techcal {case.written * 1000:8.1f} ms"
            f"   plain sqlite3 {case.plain_sqlite * 1000:8.1f} ms"
            f"   ratio {case.written / case.plain_sqlite:5.2f}x"
            f"   (CPU {case.cpu * 1000:.0f} ms; {case.messages / case.written:,.0f} messages/s)"
        )
    rss_mb = flood.rss * 1024 * 1024 / 1e6
    print(f"\ngoals (issue 18), wall time; load average now {os.getloadavg()[0]:.1f}:")
    goals = [
        (f"usual matching <= {USUAL_MATCHING_MS} ms", usual.matching * 1000, "ms",
         usual.matching * 1000 <= USUAL_MATCHING_MS),
        (f"usual with messages written <= {USUAL_WRITTEN_MS} ms", usual.written * 1000, "ms",
         usual.written * 1000 <= USUAL_WRITTEN_MS),
        (f"flood of {flood.messages:,} written <= {FLOOD_WRITTEN_S:.0f} s", flood.written, "s",
         flood.written <= FLOOD_WRITTEN_S),
        (f"flood peak RSS <= {FLOOD_RSS_MB} MB", rss_mb, "MB", rss_mb <= FLOOD_RSS_MB),
    ]  # fmt: skip
    for label, value, unit, met in goals:
        print(f"  {label:<44} {value:9.1f} {unit:<3} {'met' if met else 'NOT MET'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=100)
    args = parser.parse_args()
    run(args.subscriptions, args.events, args.small)


if __name__ == "__main__":
    main()
