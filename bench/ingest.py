"""Benchmark: a cold `techcal import` of a realistic corpus, beside bare icalendar parsing.

The corpus (bench/corpus.py has its shape) is written once per size; then,
in one run, each in a process of its own so that memory is measured per
process:

- the reference: ``icalendar.Calendar.from_ical`` over every file, in one
  process (parsing only: no expansion, no storing);
- techcal: ``import_files`` into a fresh store, and the search-index tidy,
  as ``techcal import`` does (reader worker processes, storing in the main
  process), then the same
  files again unchanged, then with 1% of the VEVENTs changed.

It prints, per size: wall time and cost per VEVENT of each, their ratio,
peak RSS of the main process and of the largest worker, events stored and
bytes per stored event (the whole file, and per table); and at the end how
the cost per VEVENT grows from the smallest size to the largest.

    python bench/ingest.py [--events 10000 100000] [--workers N] [--store 1000000]

With ``--store N`` it also imports the smallest corpus into a store that
already holds N events (synthesised as bench/search.py does, in 300 cities
over 18 months, without matching, then filed for matching), and prints
its cost per VEVENT against the empty store's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent


def child_bare(folder: Path) -> dict[str, float]:
    import icalendar

    paths = sorted(folder.glob("*.ics"))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in paths:
            icalendar.Calendar.from_ical(path.read_bytes())
    return {"wall": time.perf_counter() - t0, "rss": _rss(resource.RUSAGE_SELF)}


def child_fill(folder: Path, events: int) -> dict[str, object]:
    """Synthesise a store of ``events`` events as bench/search.py does; file them for matching."""
    sys.path.insert(0, str(HERE))
    from search import generate

    from techcal.store import open_store
    from techcal.store.database import write_transaction
    from techcal.store.match_index import file_stale

    path = folder / "base.db"
    made = generate(path, events, match=False)
    db = open_store(path)
    t0 = time.perf_counter()
    filed = 0
    while True:  # a few thousand per transaction, as the matcher files them
        with write_transaction(db.conn):
            done = file_stale(db.conn)
        if not done:
            break
        filed += done
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {"made": made, "filed": filed, "filing": time.perf_counter() - t0}


def child_import(folder: Path, workers: int | None, base: str = "") -> dict[str, object]:
    sys.path.insert(0, str(HERE))
    from corpus import NOW

    from techcal.store import open_store
    from techcal.store.events import tidy_search_index
    from techcal.store.ingest import import_files

    paths = sorted(folder.glob("*.ics"))
    db_path = folder / "bench.db"
    before = 0
    if base:
        # into a copy of a store that holds events already
        shutil.copyfile(base, db_path)
        with sqlite3.connect(db_path) as conn:
            (before,) = conn.execute("SELECT count(*) FROM events").fetchone()
    db = open_store(db_path)
    workers_peak = WorkerPeak()
    t0 = time.perf_counter()
    # counted as they come, not kept: `techcal import` prints each and lets it go
    warned = 0
    for done in import_files(db, paths, now=NOW, workers=workers):
        warned += len(done.read.warnings)
    # what `techcal import` does after storing (feeds render from the rows:
    # no feed blocks are made here)
    tidy_search_index(db.conn)
    cold = time.perf_counter() - t0
    workers_peak.stop()
    stored = db["events"].count - before
    if base:
        db.conn.close()
        return {"wall": cold, "rss": _rss(resource.RUSAGE_SELF), "stored": stored}
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db_path.stat().st_size
    tables = _table_bytes(db.conn)
    t0 = time.perf_counter()
    for _ in import_files(db, paths, now=NOW, workers=workers):
        pass
    again = time.perf_counter() - t0
    touched = _change_one_percent(paths)
    t0 = time.perf_counter()
    updated = sum(
        d.stored.updated for d in import_files(db, paths, now=NOW, workers=workers) if d.stored
    )
    changed = time.perf_counter() - t0
    db.conn.close()
    return {
        "wall": cold,
        "rss": _rss(resource.RUSAGE_SELF),
        "worker_rss": workers_peak.mib,
        "stored": stored,
        "warnings": warned,
        "bytes": size,
        "tables": tables,
        "again": again,
        "changed": changed,
        "changed_files": touched,
        "updated": updated,
    }


class WorkerPeak:
    """The largest peak RSS of this process's children, sampled from /proc.

    (getrusage's figure for children counts each one's size at fork, that is
    this process's: a worker's own peak is its VmHWM after exec.)
    """

    def __init__(self) -> None:
        self.mib = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        me = str(os.getpid())
        while not self._done.wait(0.2):
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                    if fields[1] != me:
                        continue
                    for line in (stat.parent / "status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            self.mib = max(self.mib, int(line.split()[1]) / 1024)
                except (OSError, IndexError, ValueError):
                    continue

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _rss(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _table_bytes(conn: sqlite3.Connection) -> dict[str, int]:
    """Return bytes per table, its indexes included (SQLite's dbstat, where compiled in)."""
    try:
        rows = conn.execute(
            "SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d"
            " LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
    except sqlite3.Error:
        return {}
    return {name: size for name, size in rows}


def _change_one_percent(paths: list[Path], seed: int = 5) -> int:
    """Retitle 1% of the VEVENTs (spread over the files); return how many files changed."""
    rng = random.Random(seed)
    total = sum(p.read_bytes().count(b"\nSUMMARY:") for p in paths)
    chosen = set(rng.sample(range(total), max(1, total // 100)))
    seen, touched = 0, 0
    for path in paths:
        parts = path.read_bytes().split(b"\nSUMMARY:")
        hit = False
        for i in range(1, len(parts)):
            if seen in chosen:
                parts[i] = b"(moved room) " + parts[i]
                hit = True
            seen += 1
        if hit:
            path.write_bytes(b"\nSUMMARY:".join(parts))
            touched += 1
    return touched


def _run_child(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", *args],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        sys.exit(f"bench child {args[0]} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(events: int, workers: int | None) -> float:
    sys.path.insert(0, str(HERE))
    from corpus import write_corpus

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = write_corpus(folder, events)
        vevents = sum(p.read_bytes().count(b"BEGIN:VEVENT") for p in paths)
        size = sum(p.stat().st_size for p in paths)
        print(f"\n{vevents:,} VEVENTs in {len(paths):,} files ({size / 2**20:.1f} MiB)")
        bare = _run_child("bare", tmp)
        ours = _run_child("import", tmp, str(workers or 0))
    per_bare = bare["wall"] / vevents * 1000
    per_ours = ours["wall"] / vevents * 1000
    print(
        f"  bare icalendar.Calendar.from_ical, 1 process  {bare['wall']:7.1f} s"
        f"  {per_bare:.2f} ms/VEVENT  peak RSS {bare['rss']:.0f} MiB"
    )
    print(
        f"  techcal import, cold                          {ours['wall']:7.1f} s"
        f"  {per_ours:.2f} ms/VEVENT  peak RSS main {ours['rss']:.0f} MiB"
        + (
            f", largest worker {ours['worker_rss']:.0f} MiB"
            if ours["worker_rss"]
            else " (no workers: read in this process)"
        )
    )
    print(f"  ratio techcal / bare: {ours['wall'] / bare['wall']:.2f}x  (goal <= 1.0x)")
    stored = ours["stored"]
    print(
        f"  stored {stored:,} events ({ours['warnings']:,} warnings);"
        f" store {ours['bytes'] / 2**20:.1f} MiB, {ours['bytes'] / stored:,.0f} bytes/event"
    )
    tables = ours["tables"]
    if tables:
        top = ", ".join(f"{name} {b / stored:,.0f}" for name, b in list(tables.items())[:6])
        print(f"    bytes/event by table: {top}")
    print(
        f"  import again, unchanged {ours['again']:.2f} s;"
        f" 1% of VEVENTs changed ({ours['changed_files']} files, {ours['updated']:,} updated)"
        f" {ours['changed']:.2f} s = {ours['changed'] / ours['wall']:.1%} of cold"
    )
    return per_ours


def into_full_store(events: int, store: int, workers: int | None) -> float:
    """Import the ``events`` corpus into a store of ``store`` events; return ms per VEVENT."""
    sys.path.insert(0, str(HERE))
    from corpus import write_corpus

    with tempfile.TemporaryDirectory() as tmp:
        paths = write_corpus(Path(tmp), events)
        vevents = sum(p.read_bytes().count(b"BEGIN:VEVENT") for p in paths)
        fill = _run_child("fill", tmp, str(store))
        print(
            f"\n{store:,} events synthesised as bench/search.py does in {fill['made']:.0f} s,"
            f" filed for matching in {fill['filing']:.1f} s"
        )
        ours = _run_child("import", tmp, str(workers or 0), str(Path(tmp) / "base.db"))
    per = ours["wall"] / vevents * 1000
    print(
        f"  techcal import of {vevents:,} VEVENTs into it, cold   {ours['wall']:7.1f} s"
        f"  {per:.2f} ms/VEVENT  peak RSS main {ours['rss']:.0f} MiB;"
        f" {ours['stored']:,} events stored"
    )
    return per


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        what, folder = sys.argv[2], Path(sys.argv[3])
        if what == "bare":
            result: dict = child_bare(folder)
        elif what == "fill":
            result = child_fill(folder, int(sys.argv[4]))
        else:
            result = child_import(folder, int(sys.argv[4]) or None, *sys.argv[5:])
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--workers", type=int, default=None, help="reader processes (default: auto)"
    )
    parser.add_argument(
        "--store",
        type=int,
        default=0,
        help="also import the smallest corpus into a store of this many events"
        " (synthesised as bench/search.py does), e.g. 1000000",
    )
    args = parser.parse_args()
    import icalendar

    print(f"python {sys.version.split()[0]}, icalendar {icalendar.__version__}")
    costs = [(n, run(n, args.workers)) for n in args.events]
    if len(costs) > 1:
        (small, first), (big, last) = costs[0], costs[-1]
        print(f"\ncost per VEVENT at {big:,} / at {small:,}: {last / first:.2f}x  (goal <= 1.2x)")
    if args.store:
        small, first = costs[0]
        full = into_full_store(small, args.store, args.workers)
        print(
            f"cost per VEVENT into a store of {args.store:,} / into an empty one:"
            f" {full / first:.2f}x  (goal <= 1.5x)"
        )


if __name__ == "__main__":
    main()
