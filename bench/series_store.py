"""Benchmark: what finding series adds to the crawl's store step, at 100k events.

Builds a store of 100,000 events from 2,500 sources shaped like what groups
publish: a year of history and the next meetings of groups meeting weekly,
every other week, on the Nth or last weekday or on a day of the month
(titles "Group: talk", one-off specials mixed in), community calendars
mixing several groups, and calendars of irregular talks. Then a crawl
round in which every source changed (its next entry posted, one
description edited: the worst case; unchanged sources skip series), stored
on two copies of the store side by side:

- the store step without series: ``upsert_events`` and the crawl state;
- techcal's store step: the same, then ``keep_series`` (find the source's
  series again and keep them);

and, as the bare reference, ``detect`` alone on the same sources'
occurrences. Prints each time, the ratio (goal: at most 1.10) and the
series found. Run:

    python bench/series_store.py [--sources 2500] [--events 40]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

from techcal.event import Event
from techcal.normalise.series import Rule, detect
from techcal.store import Source, add_sources, open_store, upsert_events
from techcal.store.crawl_state import record_success
from techcal.store.ingest import keep_series
from techcal.store.series import refresh_unseen, source_occurrences

NOW = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
ZONES = [ZoneInfo("America/Los_Angeles"), ZoneInfo("Europe/Berlin"), ZoneInfo("America/Toronto")]
CITIES = [("Portland", 45.52, -122.68), ("Berlin", 52.52, 13.40), ("Toronto", 43.65, -79.38)]
TALKS = (
    "Intro to Nix|eBPF tracing|Kubernetes at home|Rust in the kernel|Lightning talks|"
    "Hack night|Postgres internals|WebAssembly outside the browser|Home labs|Open mic"
).split("|")
RULES = [
    Rule("WEEKLY", weekday=1),
    Rule("WEEKLY", weekday=3, interval=2, anchor=date(2026, 1, 8)),
    Rule("MONTHLY", weekday=5, nth=2),
    Rule("MONTHLY", weekday=2, nth=-1),
    Rule("MONTHLY", weekday=3, nth=3),
    Rule("MONTHLY", monthday=15),
]


TECHS = (
    "Rust Python Go Linux Kubernetes Postgres Elixir Ruby Java Kotlin Swift Haskell Scala "
    "Clojure Julia Perl Erlang Zig OCaml Lua Docker Terraform Ansible Django Rails React Vue "
    "Svelte WebAssembly Emacs"
).split()
PLACES = (
    "Portland Berlin Toronto Seattle Hamburg Montreal Salem Leipzig Ottawa Tacoma Munich "
    "Vancouver Eugene Dresden Calgary Bend Cologne Halifax Olympia Bremen"
).split()


def group_name(n: int) -> str:
    """Return a group's name as groups are named ("Rust Hamburg"), unique for n < 600."""
    return f"{TECHS[n % len(TECHS)]} {PLACES[(n // len(TECHS)) % len(PLACES)]}"


def group_events(
    rng: random.Random, source: str, group: str, rule: Rule, count: int, zone: ZoneInfo, city: int
) -> list[Event]:
    """Return ``count`` meetings of one group on ``rule``, the last two upcoming, and then
    the next one (posted at the next crawl), last."""
    today = NOW.astimezone(zone).date()
    upcoming = list(rule.dates(today, today + timedelta(days=200)))[:3]
    past = list(rule.dates(today - timedelta(days=800), today - timedelta(days=1)))
    days = past[-(count - 2) :] + upcoming
    at = clock(rng.choice([18, 18, 19, 19, 10]), rng.choice([0, 30]))
    name, lat, lon = CITIES[city]
    out = []
    for n, day in enumerate(days):
        start = datetime.combine(day, at, zone)
        out.append(
            Event(
                source=source,
                source_uid=f"{group}-{day.isoformat()}@{source}.example.org",
                title=f"{group}: {TALKS[(n + len(group)) % len(TALKS)]}",
                description=f"{group} meets. " + " ".join(rng.choice(TALKS) for _ in range(12)),
                url=f"https://{source}.example.org/{group}/{day.isoformat()}",
                start=start,
                end=start + timedelta(hours=2),
                timezone=zone.key,
                venue=f"{group} venue",
                city=name,
                lat=lat + rng.random() / 100,
                lon=lon + rng.random() / 100,
                kind="user-group",
            )
        )
    return out


def one_offs(rng: random.Random, source: str, count: int, zone: ZoneInfo) -> list[Event]:
    out = []
    for n in range(count):
        start = datetime.combine(
            NOW.date() + timedelta(days=rng.randint(-300, 120)), clock(rng.randint(9, 20)), zone
        )
        out.append(
            Event(
                source=source,
                source_uid=f"special-{n}@{source}.example.org",
                title=f"{rng.choice(TALKS)} special {rng.randint(1, 999)}",
                start=start,
                end=start + timedelta(hours=3),
                timezone=zone.key,
                city="Portland",
                kind="other",
            )
        )
    return out


def corpus(
    n_sources: int, per_source: int, seed: int = 11
) -> tuple[dict[str, list[Event]], dict[str, Event]]:
    """Return each source's events (70% one group, 20% community calendars, 10% irregular
    talks), and the entry each posts next: a group's next meeting, or another talk."""
    rng = random.Random(seed)
    sources: dict[str, list[Event]] = {}
    nexts: dict[str, Event] = {}
    for s in range(n_sources):
        name = f"src{s:05d}"
        zone = ZONES[s % len(ZONES)]
        share = s % 10
        if share < 7:
            events = group_events(
                rng, name, group_name(s), RULES[s % len(RULES)], per_source - 3, zone, s % 3
            )
            posted = events.pop()
            events += one_offs(rng, name, 3, zone)
        elif share < 9:
            events = []
            for g in range(5):
                rule = RULES[(s + g) % len(RULES)]
                found = group_events(
                    rng, name, group_name(s + 97 * g), rule, per_source // 5 - 1, zone, s % 3
                )
                posted = found.pop()
                events += found
            events += one_offs(rng, name, per_source - len(events), zone)
        else:
            events = one_offs(rng, name, per_source, zone)
            posted = one_offs(rng, name + "-later", 1, zone)[0]
        sources[name] = events
        nexts[name] = replace(posted, source=name)
    return sources, nexts


def changed_round(
    sources: dict[str, list[Event]], nexts: dict[str, Event]
) -> dict[str, list[Event]]:
    """Return the next crawl's listings: its next entry posted, a description edited."""
    out = {}
    for name, events in sources.items():
        first = events[0]
        edited = replace(first, description=first.description + " (room changed)")
        out[name] = [edited, *events[1:], nexts[name]]
    return out


def store_round(path: Path, listings: dict[str, list[Event]], *, series: bool) -> float:
    """Store every source's listing as the crawl's store step does; return the seconds."""
    db = open_store(path)
    later = NOW + timedelta(hours=6)  # the next crawl
    started = time.perf_counter()
    for name, events in listings.items():
        result = upsert_events(db, name, events, now=later)
        record_success(
            db, name, status="ok", http_status=200, etag=None, last_modified=None, now=later
        )
        if series:
            keep_series(db.conn, name, result, now=later)
    seconds = time.perf_counter() - started
    db.conn.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, default=2500)
    parser.add_argument("--events", type=int, default=40, help="events per source")
    args = parser.parse_args()
    sources, nexts = corpus(args.sources, args.events)
    total = sum(len(v) for v in sources.values())
    folder = Path(tempfile.mkdtemp(prefix="techcal-series-bench-"))
    try:
        base = folder / "base.db"
        db = open_store(base)
        add_sources(
            db, [Source(name=n, url=f"https://{n}.example.org/events.ics") for n in sources]
        )
        started = time.perf_counter()
        for name, events in sources.items():
            upsert_events(db, name, events, now=NOW)
        print(
            f"store of {total:,} events from {len(sources):,} sources built in"
            f" {time.perf_counter() - started:.1f} s"
        )
        started = time.perf_counter()
        refresh_unseen(db.conn, now=NOW)
        found = db.conn.execute("SELECT count(*), sum(count) FROM series").fetchone()
        print(
            f"series found in it: {found[0]:,} (holding {found[1]:,} events) in"
            f" {time.perf_counter() - started:.1f} s"
        )
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.conn.close()
        plain, with_series = folder / "plain.db", folder / "series.db"
        for copy in (plain, with_series):
            shutil.copy(base, copy)
        listings = changed_round(sources, nexts)

        # the bare reference: detection alone, on what the store holds
        conn = sqlite3.connect(base)
        ids = [row[0] for row in conn.execute("SELECT id FROM sources ORDER BY id")]
        occurrences = [source_occurrences(conn, i) for i in ids]
        conn.close()
        started = time.perf_counter()
        for occ in occurrences:
            detect(occ)
        bare = time.perf_counter() - started

        # alternate the two, twice, and keep each one's best (the machine's noise)
        times: dict[bool, list[float]] = {False: [], True: []}
        for attempt in range(2):
            for series in (False, True):
                path = folder / f"run-{attempt}-{int(series)}.db"
                shutil.copy(with_series if series else plain, path)
                times[series].append(store_round(path, listings, series=series))
                path.unlink()
        without, with_ = min(times[False]), min(times[True])
        n = len(listings)
        print(f"crawl round, every source changed ({n:,} sources):")
        print(f"  detect() alone (reference)      {bare:7.2f} s  {bare / n * 1000:6.2f} ms/source")
        alone = without / n * 1000
        print(f"  store step without series       {without:7.2f} s  {alone:6.2f} ms/source")
        print(
            f"  store step with series (techcal) {with_:6.2f} s  {with_ / n * 1000:6.2f} ms/source"
        )
        ratio = with_ / without
        verdict = "met" if ratio <= 1.10 else "NOT met"
        print(f"  ratio {ratio:.3f} (goal <= 1.10: {verdict})")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
