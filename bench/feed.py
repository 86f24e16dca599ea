"""Benchmark: calendar feed rendering (1k and 10k events) and the server's answers.

Fills a store with upcoming events in five zones through the real ingest
path, then prints:

- a feed of 1k and of 10k events rendered from the rows (each VEVENT written
  by `writers.ical.event_block`; goal: <= 0.1 s, <= 0.4 s), beside icalendar
  building the same feed (the reference, checked to give the same bytes);
- `techcal serve` on loopback: requests/s and latency for a cached 10k-event feed
  (200 with the body) and for 304 answers (goal: <= 5 ms), from a Python
  client with keep-alive connections in threads.

Run:

    python bench/feed.py                 # 10k events
    python bench/feed.py --events 20000 --requests 4000 --clients 8
    python bench/feed.py --description 900    # descriptions of 900 characters
"""

from __future__ import annotations

import argparse
import functools
import http.client
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from techcal.event import Event
from techcal.publish.feeds import Rendered, calendar_window, ics_feed, in_start_order
from techcal.store import Source, add_sources, open_store, upsert_events
from techcal.store.query import Query
from techcal.store.search import search
from techcal.store.stored import source_names
from techcal.writers.ical import calendar, calendar_description, feed_name

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
ZONES = [
    ("America/Los_Angeles", "Portland", 45.52, -122.68),
    ("America/New_York", "Boston", 42.36, -71.06),
    ("Europe/Berlin", "Berlin", 52.52, 13.40),
    ("Europe/London", "London", 51.51, -0.13),
    ("Australia/Sydney", "Sydney", -33.87, 151.21),
]
TOPICS = ["linux", "python", "rust", "kubernetes", "javascript", "security", "data", "cloud"]


def generate(path: Path, n_events: int, seed: int = 7, description: int | None = None) -> float:
    rng = random.Random(seed)
    db = open_store(path)
    per_source = 500
    names = [f"group-{i}" for i in range((n_events + per_source - 1) // per_source)]
    add_sources(db, [Source(name=n, url=f"https://example.org/{n}.ics") for n in names])
    started = time.perf_counter()
    made = 0
    for name in names:
        zone, city, lat, lon = ZONES[rng.randrange(len(ZONES))]
        records = []
        for i in range(min(per_source, n_events - made)):
            start = (NOW + timedelta(hours=rng.randrange(1, 24 * 120))).astimezone(ZoneInfo(zone))
            topic = TOPICS[rng.randrange(len(TOPICS))]
            text = f"Talks about {topic}, pizza, and a lot of text " * 3
            if description is not None:
                text = (text * (description // len(text) + 1))[:description]
            records.append(
                Event(
                    source=name,
                    source_uid=f"{name}-{i}@example.org",
                    title=f"{city} {topic} meetup {i}",
                    description=text,
                    url=f"https://example.org/{name}/{i}",
                    start=start,
                    end=start + timedelta(hours=2),
                    timezone=zone,
                    venue=f"Hall {i % 17}",
                    city=city,
                    lat=lat + rng.uniform(-0.1, 0.1),
                    lon=lon + rng.uniform(-0.1, 0.1),
                    kind="user-group",
                    topics=(topic,),
                    organizer=f"{city} {topic} group",
                )
            )
        made += len(records)
        upsert_events(db, name, records, now=NOW, match=False)
    seconds = time.perf_counter() - started
    db.conn.close()
    return seconds


def best_of(runs: int, func: Callable[[], Rendered]) -> tuple[float, Rendered]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def time_rendering(path: Path) -> None:
    db = open_store(path)
    conn = db.conn
    for label, query in (
        ("1k", Query(limit=None, topics=("linux",), end=NOW + timedelta(days=120))),
        ("10k", Query(limit=None)),
    ):
        seconds, feed = best_of(5, functools.partial(ics_feed, conn, query, now=NOW))
        print(
            f"feed of {feed.count:,} events ({label}) rendered from rows:"
            f" median {seconds * 1000:.0f} ms of 5, {len(feed.body) / 1e6:.1f} MB"
        )
        # the same feed built wholly by icalendar: the reference, in time and in bytes
        hits = in_start_order(
            search(conn, calendar_window(query, NOW), now=NOW, with_sources=False)
        )
        names = source_names(conn, [h.id for h in hits])
        started = time.perf_counter()
        reference = calendar(
            ((h, names.get(h.id, [])) for h in hits),
            name=feed_name(query),
            description=calendar_description(query),
        )
        seconds = time.perf_counter() - started
        same = "the same bytes" if reference == feed.body else "DIFFERENT BYTES"
        print(
            f"  the same feed built by icalendar: {seconds * 1000:.0f} ms"
            f" ({len(hits) / seconds:,.0f} events/s), {same}"
        )
    conn.close()


def load(port: int, path: str, headers: dict[str, str], total: int, clients: int) -> None:
    latencies: list[float] = []
    errors = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    each = total // clients

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        seen: dict[int, int] = {}
        for _ in range(each):
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                seen[response.status] = seen.get(response.status, 0) + 1
            except (OSError, http.client.HTTPException) as exc:
                errors.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                continue
            mine.append(time.perf_counter() - started)
        conn.close()
        with lock:
            latencies.extend(mine)
            for status, count in seen.items():
                statuses[status] = statuses.get(status, 0) + count

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p95 = latencies[int(len(latencies) * 0.95)] * 1000
    print(
        f"  {path} {headers or ''}: {len(latencies)} requests in {seconds:.2f} s,"
        f" {len(latencies) / seconds:,.0f} req/s, p50 {p50:.1f} ms, p95 {p95:.1f} ms,"
        f" statuses {statuses}, errors {len(errors)}"
    )


def time_server(path: Path, requests: int, clients: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "techcal.cli", "--db", str(path), "serve", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert proc.stderr is not None
        port = 0
        while not port:
            line = proc.stderr.readline()
            if not line:
                raise SystemExit("the server did not start")
            match = re.search(r"127\.0\.0\.1:(\d+)/", line)
            if match:
                port = int(match.group(1))
        time.sleep(0.5)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        started = time.perf_counter()
        conn.request("GET", "/calendar.ics")
        response = conn.getresponse()
        body = response.read()
        first = time.perf_counter() - started
        etag = response.getheader("ETag") or ""
        conn.close()
        print(
            f"server: first /calendar.ics ({len(body) / 1e6:.1f} MB) {first * 1000:.0f} ms"
            f" (rendered from rows)"
        )
        load(port, "/calendar.ics", {}, max(requests // 10, clients), clients)
        load(port, "/calendar.ics", {"If-None-Match": etag}, requests, clients)
        load(port, "/calendar.ics?topic=linux", {}, requests, clients)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--description", type=int, metavar="CHARS", help="each description's length"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "feed.db"
        seconds = generate(path, args.events, description=args.description)
        print(f"store of {args.events:,} upcoming events filled in {seconds:.1f} s")
        time_rendering(path)
        time_server(path, args.requests, args.clients)


if __name__ == "__main__":
    main()
