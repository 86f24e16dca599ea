"""Benchmark: search latency at 100k and 1M events, in-process and as a whole command.

Fills a store through the real ingest path (upsert_events, one transaction
per source, as a crawl does: each source is a group in one of 300 cities),
then times 100 mixed queries in-process and prints p50/p95 per kind of
query, and times `techcal search` as a process (start-up, imports, query,
printing). Run:

    python bench/search.py                       # 100k, then 1M events
    python bench/search.py --events 100000 --keep /tmp/techcal-bench

With --keep, generated stores are kept in that folder and reused.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from techcal.event import KINDS, Event
from techcal.store import Source, add_sources, open_store, upsert_events
from techcal.store.places import gazetteer
from techcal.store.query import build_query
from techcal.store.search import search

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
PER_SOURCE = 500
TOPIC_WORDS = (
    "Linux Python Rust Kubernetes Go JavaScript Java .NET AWS Azure DevOps Security "
    "OWASP PyData PyLadies Django React Postgres Docker Terraform Arduino Hackathon "
    "WordPress Android iOS Unity3D"
).split()
WORDS = (
    "meetup workshop talk intro advanced night lightning community beginners monthly "
    "social hack study group panel demo deep dive office hours lab clinic sprint "
    "release party roundtable coffee"
).split()
RARE = [f"zork{i}" for i in range(2000)]


def cities(count: int = 300) -> list[tuple[str, float, float]]:
    rows = gazetteer().conn.execute(
        "SELECT name, lat, lon FROM places ORDER BY population DESC LIMIT ?", (count,)
    )
    return [(name, lat, lon) for name, lat, lon in rows]


def generate(path: Path, n_events: int, seed: int = 11, *, match: bool = True) -> float:
    """Fill a new store at ``path``; return the seconds it took.

    (``match``: whether the new entries are matched with stored events, as
    an import does; bench/ingest.py fills a big store without, in minutes.)
    """
    rng = random.Random(seed)
    places = cities()
    n_sources = max(1, n_events // PER_SOURCE)
    db = open_store(path)
    sources = []
    for i in range(n_sources):
        city = places[i % len(places)]
        sources.append(
            Source(
                name=f"src{i:05d}",
                url=f"https://src{i:05d}.example.org/events.ics",
                kind=KINDS[i % len(KINDS)],
                city=city[0],
            )
        )
    add_sources(db, sources)
    started = time.perf_counter()
    made = 0
    for i, source in enumerate(sources):
        name, lat, lon = places[i % len(places)]
        records = []
        for j in range(min(PER_SOURCE, n_events - made)):
            start = NOW + timedelta(hours=rng.randint(-180 * 24, 365 * 24))
            topic = rng.choice(TOPIC_WORDS)
            title = f"{topic} {rng.choice(WORDS)} {rng.choice(WORDS)} {rng.choice(RARE)}"
            description = " ".join(
                [rng.choice(WORDS) for _ in range(20)] + [rng.choice(TOPIC_WORDS)]
            )
            where = rng.random()
            place: dict[str, object] = {}
            if where < 0.7:
                place = dict(lat=lat + rng.uniform(-0.15, 0.15), lon=lon + rng.uniform(-0.15, 0.15))
            elif where < 0.9:
                place = dict(city=name)
            else:
                place = dict(online=True, city=None)
            records.append(
                Event(
                    source=source.name,
                    source_uid=f"{j}@{source.name}",
                    title=title,
                    description=description,
                    url=f"https://{source.name}.example.org/e/{j}",
                    start=start,
                    end=start + timedelta(hours=2),
                    timezone="UTC",
                    kind=source.kind,
                    venue=None if where >= 0.9 else f"Hall {j % 7}",
                    **place,  # type: ignore[arg-type]
                )
            )
        made += len(records)
        upsert_events(db, source.name, records, now=NOW, match=match)
    elapsed = time.perf_counter() - started
    db.conn.close()
    return elapsed


def queries(n: int, seed: int = 5) -> list[tuple[str, dict[str, object]]]:
    """Return ``n`` (group, options) pairs: half text + place + date, half anything else."""
    rng = random.Random(seed)
    places = cities()
    made: list[tuple[str, dict[str, object]]] = []
    for i in range(n):
        name, lat, lon = rng.choice(places)
        near = f"{lat:.4f},{lon:.4f}"
        if i % 2 == 0:
            text = rng.choice(TOPIC_WORDS + WORDS + RARE[:50])
            made.append(
                (
                    "text+place+date",
                    dict(
                        text=text,
                        near=near,
                        within=f"{rng.choice((10, 25, 50))}km",
                        days=rng.choice((7, 30, 90)),
                    ),
                )
            )
            continue
        kind = rng.randrange(9)
        topics = ["python", "linux", "security", "kubernetes", "web", "hackathon"]
        options: dict[str, object]
        if kind == 0:
            options = dict(topics=[rng.choice(topics)])
        elif kind == 1:
            options = dict(kinds=[rng.choice(KINDS)])
        elif kind == 2:
            options = dict(text=rng.choice(TOPIC_WORDS + WORDS))  # a common word alone
        elif kind == 3:
            options = dict(text=rng.choice(RARE))  # a rare word alone
        elif kind == 4:
            options = dict(near=near)  # every upcoming event near a place
        elif kind == 5:
            options = dict(topics=[rng.choice(topics)], near=near, within="25km")
        elif kind == 6:
            options = dict(text=rng.choice(WORDS), topics=[rng.choice(topics)], days=30)
        elif kind == 7:
            options = dict(near=near, within="1000km", days=14)  # beyond the R*Tree plan
        else:
            options = dict(online=True, days=rng.choice((7, 30)))
        made.append(("other", options))
    return made


def time_queries(path: Path, mixed: list[tuple[str, dict[str, object]]]) -> None:
    db = open_store(path)
    by_group: dict[str, list[float]] = defaultdict(list)
    worst: tuple[float, dict[str, object]] = (0.0, {})
    results = 0
    for _round in range(2):  # the first round warms the page cache
        by_group.clear()
        for group, options in mixed:
            query = build_query(now=NOW, **options)  # type: ignore[arg-type]
            started = time.perf_counter()
            hits = search(db.conn, query, now=NOW)
            elapsed = (time.perf_counter() - started) * 1000
            by_group[group].append(elapsed)
            by_group["all"].append(elapsed)
            results += len(hits)
            if elapsed > worst[0]:
                worst = (elapsed, options)
    for group in ("text+place+date", "other", "all"):
        times = sorted(by_group[group])
        p50 = statistics.median(times)
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(f"  {group:<16} {len(times):>3} queries  p50 {p50:6.2f} ms  p95 {p95:6.2f} ms"
              f"  max {times[-1]:6.2f} ms")  # fmt: skip
    print(f"  slowest: {worst[0]:.1f} ms for {worst[1]}")
    db.conn.close()


def time_command(path: Path, runs: int = 10) -> None:
    script = Path(sys.executable).with_name("techcal")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "techcal search python --near Berlin --days 30": [
            str(script), "--db", str(path), "search", "python", "--near", "Berlin",
            "--days", "30",
        ],
        "techcal search --topic linux --format json": [
            str(script), "--db", str(path), "search", "--topic", "linux", "--format", "json",
        ],
    }  # fmt: skip
    for label, command in commands.items():
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times.append(time.perf_counter() - started)
        print(f"  {label:<46} median {statistics.median(times) * 1000:5.0f} ms"
              f"  min {min(times) * 1000:5.0f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="100000,1000000", help="store sizes, comma-separated")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--keep", type=Path, help="keep (and reuse) generated stores here")
    args = parser.parse_args()
    sizes = [int(s) for s in args.events.split(",")]
    mixed = queries(args.queries)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for size in sizes:
            path = folder / f"search-{size}.db"
            if not path.exists():
                partial = path.with_suffix(".partial")
                for leftover in folder.glob(partial.name + "*"):
                    leftover.unlink()
                seconds = generate(partial, size)
                partial.rename(path)
                print(f"{size:,} events stored through upsert_events in {seconds:.0f} s "
                      f"({size / seconds:,.0f}/s)")  # fmt: skip
            print(f"{size:,} events, {args.queries} mixed queries (after a warm-up round), "
                  f"database {path.stat().st_size / 2**20:,.0f} MiB:")  # fmt: skip
            time_queries(path, mixed)
            conn = open_store(path).conn
            conn.execute("INSERT INTO events_fts (events_fts) VALUES ('optimize')")
            conn.commit()
            conn.close()
            print("  after an FTS optimize:")
            time_queries(path, mixed)
            print("  whole command, as a process (10 runs each):")
            time_command(path)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
