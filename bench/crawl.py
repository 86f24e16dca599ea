"""Benchmark: `techcal crawl` over 1,000 sources served from one loopback server.

Serves (from 127.0.0.1, in this process) a mix shaped like real sources,
about 20 events each:

- 40% Meetup-style iCal files (20 VEVENTs),
- 30% Atom feeds with schema.org JSON-LD in each entry (20 entries),
- 20% event listings (two pages of 10 links) with one JSON-LD page per event,
- 10% WordPress feeds of plain posts (20) linking to event pages;

registers them in a fresh store, runs `techcal crawl` as a user would (a
subprocess, default politeness settings), then again with nothing changed,
and prints wall time, pages/s, events/s and the crawl process's peak memory
for both.

    python bench/crawl.py [--sources 1000] [--per-host 4]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from loopback import LoopbackServer, Site  # noqa: E402
from sitegen import (  # noqa: E402
    atom_jsonld,
    detail_html,
    listing_html,
    meetup_ics,
    monthly,
    wordpress_rss,
)

EVENTS = 20
NOW = datetime.now(UTC)


def serve(site: Site, count: int) -> tuple[list[tuple[str, str, str]], int]:
    """Serve ``count`` sources; return (name, url, type) of each and the number of pages."""
    sources = []
    pages = 0
    for n in range(count):
        share = n % 10
        prefix = f"/s{n}"
        events = monthly(f"e{n}", f"Source {n} meetup", NOW, EVENTS, first_days=1)
        if share < 4:
            url = site.add(
                f"{prefix}/ical/",
                meetup_ics(f"Group {n}", events, stamp=NOW),
                content_type="text/calendar; charset=utf-8",
            )
            sources.append((f"ics-{n}", url, "ics"))
            pages += 1
        elif share < 7:
            url = site.add(
                f"{prefix}/atom.xml",
                atom_jsonld(f"Dept {n}", events, site.url(prefix), updated=NOW),
                content_type="application/atom+xml",
            )
            sources.append((f"atom-{n}", url, "rss"))
            pages += 1
        elif share < 9:
            half = EVENTS // 2
            for page, chunk in enumerate((events[:half], events[half:])):
                path = f"{prefix}/events/" if page == 0 else f"{prefix}/events/?page=2"
                links = [(ev.title, f"{prefix}/events/{ev.id}/") for ev in chunk]
                following = f"{prefix}/events/?page=2" if page == 0 else None
                site.add(path, listing_html("Events", links, next_page=following))
            for ev in events:
                site.add(
                    f"{prefix}/events/{ev.id}/",
                    detail_html(ev, site.url(f"{prefix}/events/{ev.id}/")),
                )
            sources.append((f"html-{n}", site.url(f"{prefix}/events/"), "html"))
            pages += 2 + EVENTS
        else:
            for ev in events:
                site.add(f"{prefix}/p/{ev.id}/", detail_html(ev, site.url(f"{prefix}/p/{ev.id}/")))
            posts = [(ev.title, site.url(f"{prefix}/p/{ev.id}/")) for ev in events]
            url = site.add(
                f"{prefix}/feed/",
                wordpress_rss(site.url(prefix), posts, built=NOW),
                content_type="application/rss+xml",
            )
            sources.append((f"blog-{n}", url, "rss"))
            pages += 1 + EVENTS
    return sources, pages


def techcal(
    db: Path, *args: str, profile: str | None = None
) -> tuple[subprocess.CompletedProcess[str], float, float, float]:
    """Run techcal; return the process, its wall time, its CPU time and peak memory in MB.

    With ``profile``, cProfile's figures of the main process are written there.
    """
    run = "cli.main(sys.argv[1:], prog_name='techcal')"
    if profile:
        run = f"cProfile.run({run!r}, {profile!r})"
    code = (
        "import cProfile, resource, sys\n"
        "from techcal.cli import cli\n"
        "try:\n"
        f"    {run}\n"
        "finally:\n"
        "    use = resource.getrusage(resource.RUSAGE_SELF)\n"
        "    kids = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "    cpu = use.ru_utime + use.ru_stime + kids.ru_utime + kids.ru_stime\n"
        "    print(f'PEAK_KB {use.ru_maxrss} {cpu} {kids.ru_maxrss}', file=sys.stderr)\n"
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, "--db", str(db), *args], capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    use = [line.split() for line in done.stderr.splitlines() if line.startswith("PEAK_KB")]
    if not use:
        return done, seconds, float("nan"), float("nan"), float("nan")
    return done, seconds, float(use[-1][2]), int(use[-1][1]) / 1024, int(use[-1][3]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--per-host", type=int, default=None, help="crawl --per-host")
    parser.add_argument("--profile", help="write cProfile figures of the first crawl here")
    args = parser.parse_args()
    extra = ["--per-host", str(args.per_host)] if args.per_host else []

    site = Site()
    with LoopbackServer(site), tempfile.TemporaryDirectory() as tmp:
        sources, pages = serve(site, args.sources)
        db = Path(tmp) / "bench.db"
        listed = Path(tmp) / "sources.toml"
        listed.write_text(
            "".join(f'[[source]]\nname = "{n}"\nurl = "{u}"\ntype = "{t}"\n' for n, u, t in sources)
        )
        techcal(db, "sources", "import", str(listed))
        print(
            f"{len(sources)} sources, {pages} pages, about {len(sources) * EVENTS} events,"
            f" one loopback host; crawl {' '.join(extra) or '(default settings)'}"
        )
        for label in ("first crawl", "unchanged re-crawl"):
            hits_before = sum(site.hits.values())
            profile = args.profile if label.startswith("first") else None
            done, seconds, cpu, peak, worker = techcal(
                db, "crawl", "--json", *extra, profile=profile
            )
            if done.returncode != 0:
                sys.exit(f"crawl failed ({done.returncode}):\n{done.stderr[-3000:]}")
            totals = json.loads(done.stdout)["totals"]
            fetched = sum(site.hits.values()) - hits_before
            events = totals["new"] + totals["updated"] + totals["unchanged"]
            print(
                f"{label:>19}: {seconds:6.1f} s wall ({totals['seconds']:.1f} s crawling,"
                f" {cpu:.1f} s CPU in all),"
                f" {fetched} requests, {fetched / seconds:6.0f} pages/s,"
                f" {events / seconds:7.0f} events/s ({totals['new']} new,"
                f" {totals['unchanged']} unchanged), statuses {totals['statuses']},"
                f" peak memory {peak:.0f} MB (+ {worker:.0f} MB per reader worker)"
            )


if __name__ == "__main__":
    main()
