"""Benchmark: matching subscriptions against new events.

10,000 subscriptions (topics, kinds, places with a radius, some with text)
against 10,000 new events in the same cities, broad enough to make over a
million matches; then the usual case, a crawl bringing 100 new events.
Prints the time of the matching alone (the set index), of the whole
``match()`` (matching plus writing the outbox and deliveries), and peak
memory (tracemalloc, and the process's maximum resident size). Run:

    python bench/notify.py
    python bench/notify.py --subscriptions 10000 --events 10000
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from techcal.event import KINDS, Event
from techcal.normalise.gazetteer import Place
from techcal.notifier.index import Index
from techcal.notifier.match import match
from techcal.notifier.subscriptions import Subscription
from techcal.store import Source, add_sources, open_store, upsert_events
from techcal.store.database import write_transaction
from techcal.store.notified import events_by_id, text_hits
from techcal.store.places import gazetteer
from techcal.store.subscriptions import insert_subscriptions, subscription_rows

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
#: the cities events and subscriptions are in (40 of the largest, from the gazetteer)
CITY_COUNT = 40


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


def run(n_subs: int, n_events: int, small: int) -> None:
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as folder:
        db = open_store(Path(folder) / "notify.db")
        add_sources(db, [Source(name="bench", url="https://example.org/bench.ics")])
        make_subscriptions(db, n_subs, rng)
        upsert_events(db, "bench", make_events(n_events, rng, "a"), now=NOW, match=False)
        conn = db.conn

        # matching alone: the index and the per-event checks
        ids = [r[0] for r in conn.execute("SELECT event_id FROM event_changes")]
        events = events_by_id(conn, ids)
        started = time.perf_counter()
        index = Index(subscription_rows(conn, by_name=False))
        built = time.perf_counter() - started
        hits = text_hits(conn, events, index.texts)
        pairs = sum(len(index.match_ids(event, NOW, hits)) for event in events)
        alone = time.perf_counter() - started
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        conn.commit()  # the temporary text index
        print(
            f"{n_subs:,} subscriptions x {len(events):,} new events: {pairs:,} matches;"
            f" subscriptions read and indexed in {built * 1000:.0f} ms,"
            f" matching alone {alone:.2f} s,"
            f" process max RSS so far {rss:.0f} MiB"
        )

        # the whole run: matching, outbox and deliveries, in one transaction
        started = time.perf_counter()
        with write_transaction(conn):
            report = match(conn, now=NOW)
        whole = time.perf_counter() - started
        print(
            f"match() with writing: {report.total:,} messages in {whole:.2f} s"
            f" ({report.total / whole:,.0f}/s); process max RSS"
            f" {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
        )

        # the usual case: a crawl brings a hundred new events
        upsert_events(
            db, "bench", make_events(small, rng, "b"), now=NOW, match=False, complete=False
        )
        ids = [r[0] for r in conn.execute("SELECT event_id FROM event_changes")]
        started = time.perf_counter()
        index = Index(subscription_rows(conn, by_name=False))
        events = events_by_id(conn, ids)
        hits = text_hits(conn, events, index.texts)
        pairs = sum(len(index.match_ids(event, NOW, hits)) for event in events)
        alone = time.perf_counter() - started
        conn.commit()
        started = time.perf_counter()
        with write_transaction(conn):
            report = match(conn, now=NOW)
        whole = time.perf_counter() - started
        print(
            f"usual case, {small} new events x {n_subs:,} subscriptions: {pairs:,} matches;"
            f" reading, indexing and matching {alone * 1000:.0f} ms; match() with writing"
            f" {report.total:,} messages {whole * 1000:.0f} ms"
        )
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=100)
    args = parser.parse_args()
    run(args.subscriptions, args.events, args.small)


if __name__ == "__main__":
    main()
