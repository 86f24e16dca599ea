"""Benchmark: how well and how fast techcal merges copies of one event.

Prints precision, recall and F1 of pairwise merges on the labelled
evaluation set (tests/fixtures/dedupe/eval_set.json, with the density
cases of issue 18: several groups' "Hack Night" in one room, which must
stay apart), and the wrongly merged and missed pairs, then the ingest cost
of matching: a new source of 5,000 entries (half of them copies of stored
events, with other titles and times) stored into a store of 100,000 events,
with matching and without. Run:

    python bench/dedupe.py [--stored 100000] [--new 5000]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedupe_eval import evaluate  # noqa: E402
from search import NOW, generate  # noqa: E402

from techcal.event import Event  # noqa: E402
from techcal.store import Source, add_source, open_store, upsert_events  # noqa: E402


def copies(path: Path, n_new: int, seed: int = 3) -> list[Event]:
    """Return ``n_new`` entries of a new source: half copies of stored events, half new."""
    rng = random.Random(seed)
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT title, start, lat, lon, city, venue FROM events ORDER BY id"
    ).fetchall()
    conn.close()
    # seeded, so two runs (before and after a change) link the same copies
    rows = rng.sample(rows, min(n_new, len(rows)))
    made = []
    for n, (title, start, lat, lon, city, venue) in enumerate(rows):
        begin = datetime.fromisoformat(start)
        if n % 2:
            # a copy: the community calendar's spelling and doors-open time
            title = f"Community: {title} (repost)"
            begin += timedelta(minutes=rng.choice((0, 15, 30)))
        else:
            title = f"Brand new gathering {n}"
            begin += timedelta(days=rng.randint(1, 20))
        made.append(
            Event(source="community", source_uid=f"c{n}", title=title, start=begin,
                  end=begin + timedelta(hours=2), lat=lat, lon=lon, city=city, venue=venue,
                  online=lat is None and city is None, kind="other")
        )  # fmt: skip
    return made


def ingest(path: Path, records: list[Event], *, match: bool) -> tuple[float, int]:
    db = open_store(path)
    add_source(db, Source(name="community", url="https://community.example/events.ics"))
    started = time.perf_counter()
    result = upsert_events(db, "community", records, now=NOW, match=match)
    elapsed = time.perf_counter() - started
    db.conn.close()
    return elapsed, result.merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        score = evaluate(folder / "eval.db")
        print(
            f"evaluation set: {score.entries} entries, {score.groups} real events,"
            f" {score.true_pairs} same-event pairs; {time.perf_counter() - started:.1f} s"
        )
        print(
            f"  precision {score.precision:.4f}  recall {score.recall:.4f}  F1 {score.f1:.4f}"
            f"  ({score.merged_pairs} pairs merged, {len(score.wrong)} wrongly,"
            f" {len(score.missed)} missed)"
        )
        for label, pairs in (("wrongly merged", score.wrong), ("missed", score.missed)):
            if pairs:
                print(f"  {label}: " + ", ".join(f"{a}+{b}" for a, b in pairs))
        base = folder / "base.db"
        seconds = generate(base, args.stored)
        print(f"{args.stored:,} stored events made in {seconds:.0f} s")
        records = copies(base, args.new)
        for match in (False, True):
            path = folder / f"match-{match}.db"
            shutil.copy(base, path)
            elapsed, merged = ingest(path, records, match=match)
            label = "with matching   " if match else "without matching"
            print(
                f"  {label} {len(records) / elapsed:>8,.0f} new entries/s"
                f"  ({elapsed:.2f} s for {len(records):,}; {merged:,} linked to stored events)"
            )


if __name__ == "__main__":
    main()
