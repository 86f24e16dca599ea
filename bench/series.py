"""Benchmark: how well and how fast techcal finds groups' series (issue 20).

Prints precision and recall of series detection on the labelled set
(tests/series_eval.py: single groups' calendars, Meetup feeds of a few
upcoming meetings, expanded RRULE feeds, aggregators mixing many groups with
specials and conferences, and calendars with no series at all), per
category, with the wrongly found and the missed series; then how long
detection takes for sources of 20 to 20,000 events. Run:

    python bench/series.py [--sizes 20,1000,20000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from series_eval import detect_pure, histories, score  # noqa: E402

from techcal.normalise.series import Occurrence, detect  # noqa: E402


def quality() -> None:
    """Print precision, recall, the counts per category and the wrong and missed series."""
    started = time.perf_counter()
    made = histories()
    found = detect_pure(made)
    elapsed = time.perf_counter() - started
    result = score(found, made)
    events = sum(len(h.events) for h in made)
    print(
        f"labelled set: {len(made)} histories, {events:,} events, {result.labelled} series;"
        f" made and detected in {elapsed:.2f} s"
    )
    print(
        f"  precision {result.precision:.4f}  recall {result.recall:.4f}"
        f"  ({result.detected} found, {result.matched} right,"
        f" {len(result.wrong)} wrong, {len(result.missed)} missed)"
    )
    # labelled series found / all labelled; detected series that are right / all detected
    print(f"  {'category':<16} {'labelled':>8} {'found':>6} {'detected':>8} {'right':>6}")
    for category, (labelled, matched, detected, right) in sorted(result.by_category.items()):
        print(f"  {category:<16} {labelled:>8} {matched:>6} {detected:>8} {right:>6}")
    for title, lines in (("wrong", result.wrong), ("missed", result.missed)):
        for line in lines:
            print(f"  {title}: {line}")


def synthetic(n: int, seed: int = 7) -> list[Occurrence]:
    """Return ``n`` events of a big community calendar: many groups' series and one-offs."""
    rng = random.Random(seed)
    zone = ZoneInfo("America/Los_Angeles")
    start = datetime(2024, 1, 1, tzinfo=zone)
    made = []
    groups = max(1, n // 40)
    for k in range(n):
        if rng.random() < 0.8:
            group = rng.randrange(groups)
            weekday, week = group % 7, group // 7 % 4
            month = rng.randrange(24)
            day = start + timedelta(days=month * 30.4)
            day += timedelta(days=(weekday - day.weekday()) % 7 + 7 * week)
            title = f"Group {group} meetup: talk {k}"
            hour = 17 + group % 4
        else:
            day = start + timedelta(days=rng.randrange(730))
            title, hour = f"One-off event {k}", rng.randrange(8, 21)
        made.append(Occurrence(k, day.replace(hour=hour), title, f"Venue {k % 50}"))
    return made


def speed(sizes: list[int]) -> None:
    """Print how long detect takes for sources of each size."""
    for size in sizes:
        occurrences = synthetic(size)
        runs = max(1, min(50, 20_000 // size))
        started = time.perf_counter()
        for _ in range(runs):
            found = detect(occurrences)
        each = (time.perf_counter() - started) / runs
        print(
            f"  {size:>6,} events: {each * 1000:8.2f} ms"
            f" ({each * 1e6 / size:6.1f} µs each; {len(found)} series)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,200,1000,5000,20000")
    args = parser.parse_args()
    quality()
    print("detection time:")
    speed([int(s) for s in args.sizes.split(",")])


if __name__ == "__main__":
    main()
