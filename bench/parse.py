"""Benchmark: reading a generated iCal corpus, beside bare icalendar parsing.

Writes a corpus of Meetup-style .ics files (100 VEVENTs each, a VTIMEZONE,
10% of the VEVENTs monthly series), then, in one run, prints:

- bare ``icalendar.Calendar.from_ical`` over every file, and techcal's
  ``read_ical`` over the same files, with the ratio: once with every VEVENT
  parsed by icalendar, once with the fast path of
  :mod:`techcal.feeds.ical_fast` (plain VEVENTs read with str operations);
- a cold ``techcal import`` of the corpus into a fresh store (reading in
  worker processes), re-importing it unchanged, with 1% of the VEVENTs
  changed (spread over most files), and with 1% of the files changed; peak
  memory.

    python bench/parse.py [--events 10000 100000] [--workers N] [--realistic]

``--realistic`` reads the corpus of bench/corpus.py (the one bench/ingest.py
imports) instead of this file's flattering one, and stops after the unchanged
re-import (bench/ingest.py measures changed re-imports of that corpus).
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar

from techcal.feeds import ical_fast
from techcal.feeds.base import SourceDefaults, Window
from techcal.feeds.ical import read_ical
from techcal.store import open_store
from techcal.store.ingest import import_files

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
PER_FILE = 100
VTIMEZONE = """BEGIN:VTIMEZONE\r
TZID:America/Chicago\r
X-LIC-LOCATION:America/Chicago\r
BEGIN:DAYLIGHT\r
TZOFFSETFROM:-0600\r
TZOFFSETTO:-0500\r
TZNAME:CDT\r
DTSTART:19700308T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
TZOFFSETFROM:-0500\r
TZOFFSETTO:-0600\r
TZNAME:CST\r
DTSTART:19701101T020000\r
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r
END:STANDARD\r
END:VTIMEZONE\r
"""
TOPICS = "Kubernetes operators|Rust async|Python packaging|Linux eBPF|Postgres tuning|OWASP top 10"


def vevent(group: int, n: int, rng: random.Random) -> str:
    start = NOW + timedelta(days=rng.randint(1, 300), hours=rng.randint(0, 10))
    topic = rng.choice(TOPICS.split("|"))
    lines = [
        "BEGIN:VEVENT",
        "DTSTAMP:20261122T120000Z",
        f"DTSTART;TZID=America/Chicago:{start:%Y%m%dT180000}",
        f"DTEND;TZID=America/Chicago:{start:%Y%m%dT200000}",
        "STATUS:CONFIRMED",
        f"SUMMARY:Group {group} meetup {n}: {topic}",
        f"DESCRIPTION:Group {group}\\nTalks and pizza about {topic}. Doors at 5:45.\\n"
        f"\\nhttps://www.meetup.com/group-{group}/events/{300000000 + n}/",
        "CLASS:PUBLIC",
        "CREATED:20261001T120000Z",
        "GEO:41.8781;-87.6298",
        f"LOCATION:Venue {n % 40} (233 S Wacker Dr\\, Chicago\\, IL)",
        f"URL:https://www.meetup.com/group-{group}/events/{300000000 + n}/",
        f"UID:event_{300000000 + n}@meetup.com",
    ]
    if n % 10 == 0:  # 10% are series
        lines.insert(4, "RRULE:FREQ=MONTHLY;COUNT=4")
    lines.append("END:VEVENT")
    return "\r\n".join(lines) + "\r\n"


def write_corpus(folder: Path, events: int, seed: int = 11) -> list[Path]:
    rng = random.Random(seed)
    paths = []
    for group in range(events // PER_FILE):
        body = "".join(vevent(group, group * PER_FILE + i, rng) for i in range(PER_FILE))
        text = (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Meetup//RemoteApi//EN\r\n"
            f"CALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\nX-ORIGINAL-URL:https://www.meetup.com/group-{group}/\r\n"
            f"X-WR-CALNAME:Events - Group {group}\r\n{VTIMEZONE}{body}END:VCALENDAR\r\n"
        )
        path = folder / f"group-{group:05d}.ics"
        path.write_text(text, newline="")
        paths.append(path)
    return paths


def change_one_percent(paths: list[Path], events: int, seed: int = 5) -> int:
    rng = random.Random(seed)
    chosen = rng.sample(range(events), events // 100)
    by_file: dict[int, list[int]] = {}
    for n in chosen:
        by_file.setdefault(n // PER_FILE, []).append(n)
    for index, numbers in by_file.items():
        data = paths[index].read_bytes()
        for n in numbers:
            data = data.replace(
                f" meetup {n}: ".encode(), f" meetup {n} (moved room): ".encode(), 1
            )
        paths[index].write_bytes(data)
    return len(by_file)


def change_one_percent_of_files(paths: list[Path]) -> int:
    """Edit one event in 1% of the files (a few groups updated their feeds)."""
    touched = paths[:: max(1, len(paths) // max(1, len(paths) // 100))][: max(1, len(paths) // 100)]
    for path in touched:
        data = path.read_bytes()
        paths_data = data.replace(b" (moved room): ", b" (room changed again): ", 1)
        if paths_data == data:
            paths_data = data.replace(b"meetup ", b"meetup (updated) ", 1)
        path.write_bytes(paths_data)
    return len(touched)


def peak_mib() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return me, children


def run(events: int, workers: int | None, realistic: bool = False) -> None:
    fast_default = ical_fast.FAST
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if realistic:  # bench/corpus.py: Meetup, Google and WordPress shaped exports
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from corpus import write_corpus as write_realistic

            paths = write_realistic(folder, events)
            shape = "realistic corpus (bench/corpus.py)"
        else:
            paths = write_corpus(folder, events)
            shape = "10% series"
        size = sum(p.stat().st_size for p in paths)
        print(f"\n{events:,} VEVENTs in {len(paths)} files ({size / 2**20:.1f} MiB), {shape}")

        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for path in paths:
                icalendar.Calendar.from_ical(path.read_bytes())
        bare = time.perf_counter() - t0
        print(
            f"  bare icalendar.Calendar.from_ical  {events / bare:>8,.0f} VEVENT/s  ({bare:.1f} s)"
        )

        defaults = SourceDefaults(source="bench", kind="user-group")
        window = Window.around(NOW)
        for on in (False, True):  # icalendar for every VEVENT, then the fast path
            ical_fast.FAST = on
            before = dict(ical_fast.counts)
            t0 = time.perf_counter()
            occurrences = 0
            for path in paths:
                occurrences += len(read_ical(path.read_bytes(), defaults, window=window).events)
            ours = time.perf_counter() - t0
            taken = ical_fast.counts["fast"] - before.get("fast", 0)
            print(
                f"  techcal read_ical, fast path {'on ' if on else 'off'}  {events / ours:>8,.0f}"
                f" VEVENT/s  ({ours:.1f} s, {ours / events * 1000:.3f} ms/VEVENT,"
                f" {occurrences:,} events; {ours / bare - 1:+.0%} over bare parsing;"
                f" {taken / events:.0%} of VEVENTs read fast)"
            )
        ical_fast.FAST = fast_default

        db = open_store(folder / "bench.db")
        t0 = time.perf_counter()
        done = list(import_files(db, paths, now=NOW, workers=workers))
        cold = time.perf_counter() - t0
        stored = db["events"].count
        print(
            f"  import, cold (read + store)        {events / cold:>8,.0f} VEVENT/s  "
            f"({cold:.1f} s, {stored:,} events stored)"
        )

        t0 = time.perf_counter()
        done = list(import_files(db, paths, now=NOW, workers=workers))
        again = time.perf_counter() - t0
        skipped = sum(d.status == "unchanged" for d in done)
        print(
            f"  import again, unchanged            {again:>8.2f} s  "
            f"({skipped} of {len(paths)} files skipped unparsed)"
        )

        if realistic:  # its edits only fit this file's corpus: bench/ingest.py has them
            db.conn.close()
            return
        files = change_one_percent(paths, events)
        t0 = time.perf_counter()
        done = list(import_files(db, paths, now=NOW, workers=workers))
        changed = time.perf_counter() - t0
        updated = sum(d.stored.updated for d in done if d.stored)
        print(
            f"  import again, 1% of VEVENTs changed {changed:>7.2f} s  "
            f"({changed / cold:.1%} of cold; "
            f"{files} files touched, {updated:,} events updated)"
        )
        files = change_one_percent_of_files(paths)
        t0 = time.perf_counter()
        done = list(import_files(db, paths, now=NOW, workers=workers))
        few = time.perf_counter() - t0
        print(
            f"  import again, 1% of files changed   {few:>7.2f} s  ({few / cold:.1%} of cold; "
            f"{files} files touched)"
        )
        db.conn.close()
        me, children = peak_mib()
        print(f"  peak RSS: this process {me:.0f} MiB, largest worker {children:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--workers", type=int, default=None, help="reader processes (default: auto)"
    )
    parser.add_argument(
        "--realistic", action="store_true", help="read bench/corpus.py's corpus instead"
    )
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, icalendar {icalendar.__version__}")
    for events in args.events:
        run(events, args.workers, args.realistic)


if __name__ == "__main__":
    main()
