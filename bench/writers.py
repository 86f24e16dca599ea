"""Benchmark: how long writers hold the database's write lock, and what batches cost.

First, rendering: the VEVENT of each of --render events (300-1,500-character
descriptions with punctuation and dashes, a third with accents, CJK and
emoji), written by icalendar (event_block_reference) and by techcal's own
writer (event_block), in microseconds per event, with the ratio.
``--render-only`` stops there.

Then, the store: a source is stored in batches (techcal.store.events.BATCH_ENTRIES
entries, cut short after BATCH_SECONDS), each its own write transaction, so that
other writers never wait behind a whole big source. Prints:

- per batch size: storing a 20,000-event region calendar the first time,
  again unchanged, and with 1% of its entries changed (seconds, and the
  longest write transaction);
- the second aggregator of the same region stored after the first (every
  new entry matched against the first's events around it): seconds, the
  longest write transaction, and the time spent letting other writers in;
- two `techcal import` processes of those calendars at once, with a third
  process taking the write lock every 20 ms meanwhile: the longest it
  waited, and each import's time.

    python bench/writers.py [--render 2000] [--render-only]
                            [--events 20000] [--cities 6] [--sizes 250 1000 5000 0]

(--sizes 0 is one transaction per source, as before batches.)
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_concurrent_writers import two_calendars  # noqa: E402

import techcal.store.events as events  # noqa: E402
import techcal.store.transactions as transactions  # noqa: E402
from techcal.event import StoredEvent  # noqa: E402
from techcal.store import open_store  # noqa: E402
from techcal.store.ingest import make_job, read_job, source_for_file  # noqa: E402
from techcal.writers.ical import event_block, event_block_reference  # noqa: E402

held: list[float] = []
slept: list[float] = []


_WORDS = (
    "the talk covers Python Rust Linux kernel eBPF tracing, containers; workshop for beginners"
    " and experts: bring a laptop. Pizza and drinks are provided by our sponsor — thanks!"
).split()
_ELSEWHERE = ["Zürich", "café", "東京", "勉強会", "Привет", "naïve", "\U0001f40d", "e\u0301"]
_ZONES = ["America/Los_Angeles", "Europe/Berlin", "Asia/Tokyo", "UTC", None]


def render_events(count: int, seed: int = 5545) -> list[tuple[StoredEvent, list[str]]]:
    """Return ``count`` events as an import stores them, with 300-1,500-character descriptions."""
    rng = random.Random(seed)
    events = []
    for n in range(count):
        words = _WORDS + (_ELSEWHERE if n % 3 == 0 else [])  # a third are not ASCII
        size = rng.randint(300, 1_500)
        text: list[str] = []
        while sum(map(len, text)) + len(text) < size:
            text.append(rng.choice(words) + ("\n\n" if rng.random() < 0.03 else ""))
        start = datetime(2026, 12, 1, 18, tzinfo=UTC) + timedelta(days=n % 90, hours=n % 5)
        all_day = n % 17 == 0
        events.append(
            (
                StoredEvent(
                    id=n,
                    uid=f"event-{n}@example.org",
                    sequence=n % 3,
                    title=f"{rng.choice(words).title()} night #{n}: {' '.join(text[:6])}",
                    description=" ".join(text)[:size],
                    url=f"https://example.org/events/{n}",
                    start=start.isoformat(),
                    end=(start + timedelta(hours=2)).isoformat(),
                    start_utc=int(start.timestamp()),
                    timezone=_ZONES[n % len(_ZONES)],
                    all_day=all_day,
                    venue="Portland State University, Engineering Building",
                    city="Portland",
                    lat=45.5098,
                    lon=-122.6833,
                    geo_precision="exact" if n % 2 else "city",
                    topics=("python", "linux"),
                    organizer="Portland Linux/Unix Group" if n % 4 else None,
                    changed_at="2026-11-20T15:01:12+00:00",
                    created_at="2026-11-01T09:00:00+00:00",
                    status="cancelled" if n % 50 == 0 else "confirmed",
                ),
                ["plug", "calagator"][: 1 + n % 2],
            )
        )
    return events


def render(count: int) -> None:
    events = render_events(count)
    chars = sum(len(e.description) for e, _ in events) / len(events)
    print(f"rendering {len(events):,} VEVENTs ({chars:,.0f}-character descriptions on average):")
    seconds = {}
    for label, write in (("icalendar", event_block_reference), ("techcal", event_block)):
        best = float("inf")
        for _ in range(3):  # the best of three: others share this machine
            start = time.perf_counter()
            blocks = [write(e, names) for e, names in events]
            best = min(best, time.perf_counter() - start)
        seconds[label] = best
        if label == "icalendar":
            reference = blocks
        elif blocks != reference:
            raise SystemExit("event_block differs from icalendar: run tests/test_vevent_writer.py")
        print(f"  {label:>9}: {best / len(events) * 1e6:7.1f} µs an event")
    ratio = seconds["icalendar"] / seconds["techcal"]
    print(f"  techcal's writer is {ratio:.1f}x faster", flush=True)


@contextmanager
def _timed(conn: sqlite3.Connection) -> Iterator[None]:
    with transactions.write_transaction(conn):
        start = time.monotonic()
        yield
    held.append(time.monotonic() - start)


class _Clock:
    """time as the transactions module sees it, counting the pauses that let others in."""

    def __getattr__(self, name: str) -> object:
        return getattr(time, name)

    def sleep(self, seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)


def _read(path: Path, db_path: Path):
    db = open_store(db_path)
    source = source_for_file(db, path, None)
    outcome = read_job(make_job(db, source, path=path))
    db.conn.close()
    return outcome.read.events


def _store(db_path: Path, path: Path, records) -> tuple[float, float, int]:
    db = open_store(db_path)
    source = source_for_file(db, path, None)
    held.clear()
    start = time.monotonic()
    events.upsert_events(db, source.name, records)
    seconds = time.monotonic() - start
    db.conn.close()
    return seconds, max(held), len(held)


def sizes(files: tuple[Path, Path], folder: Path, batch_sizes: list[int]) -> None:
    first = _read(files[0], folder / "read.db")
    changed = [
        dataclasses.replace(e, title=e.title + " (room changed)") if n % 100 == 0 else e
        for n, e in enumerate(first)
    ]
    print(f"\n{len(first):,} entries of one source, by batch size (no pauses):")
    saved = events.BATCH_ENTRIES, events.BATCH_SECONDS, transactions.WRITE_TURN_SECONDS
    events.BATCH_SECONDS = transactions.WRITE_TURN_SECONDS = 1e9
    for size in batch_sizes:
        events.BATCH_ENTRIES = size or 10**9
        db_path = folder / f"size-{size}.db"
        line = []
        for label, records in (("new", first), ("unchanged", first), ("1% changed", changed)):
            seconds, longest, count = _store(db_path, files[0], records)
            line.append(f"{label} {seconds:5.2f} s (longest {longest:.2f} s of {count})")
        print(f"  {size or 'whole':>6}: " + "; ".join(line), flush=True)
    events.BATCH_ENTRIES, events.BATCH_SECONDS, transactions.WRITE_TURN_SECONDS = saved


def second_source(files: tuple[Path, Path], folder: Path) -> None:
    db_path = folder / "second.db"
    first, second = _read(files[0], db_path), _read(files[1], db_path)
    _store(db_path, files[0], first)
    slept.clear()
    seconds, longest, count = _store(db_path, files[1], second)
    print(
        f"\nthe second aggregator after the first ({len(second):,} new entries, matched):"
        f" {seconds:.1f} s in {count} transactions, longest {longest:.2f} s,"
        f" {sum(slept):.2f} s letting others in"
    )


def at_once(files: tuple[Path, Path], folder: Path) -> None:
    db_path = folder / "at-once.db"
    open_store(db_path).conn.close()
    waits: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        conn = sqlite3.connect(db_path, timeout=600, isolation_level=None)
        while not stop.is_set():
            start = time.monotonic()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            waits.append(time.monotonic() - start)
            time.sleep(0.02)
        conn.close()

    thread = threading.Thread(target=probe)
    thread.start()
    start = time.monotonic()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "techcal.cli", "--db", str(db_path), "import", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for path in files
    ]
    ended = []
    for proc in procs:
        _, err = proc.communicate()
        ended.append(f"{time.monotonic() - start:.1f} s (exit {proc.returncode})")
        if proc.returncode:
            print(err.strip().splitlines()[-1])
    stop.set()
    thread.join()
    print(
        f"\ntwo imports at once: {', '.join(ended)}; a third writer waited at most"
        f" {max(waits):.2f} s for the lock ({len(waits)} takes, median"
        f" {sorted(waits)[len(waits) // 2] * 1000:.1f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--cities", type=int, default=6)
    parser.add_argument("--sizes", type=int, nargs="*", default=[250, 1000, 5000, 0])
    parser.add_argument("--render", type=int, default=2_000, help="events to render")
    parser.add_argument("--render-only", action="store_true")
    args = parser.parse_args()
    render(args.render)
    if args.render_only:
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        now = datetime.now(UTC).replace(microsecond=0)
        bodies = two_calendars(args.events, now=now, cities=args.cities)
        files = (folder / "aggregator.ics", folder / "community.ics")
        for path, body in zip(files, bodies, strict=True):
            path.write_bytes(body)
        events.write_transaction = _timed  # type: ignore[assignment]
        transactions.time = _Clock()  # type: ignore[assignment]
        sizes(files, folder, args.sizes)
        second_source(files, folder)
        at_once(files, folder)


if __name__ == "__main__":
    main()
