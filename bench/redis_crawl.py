"""Benchmark: `techcal crawl --redis` with 1, 2 and 4 workers, against a plain `techcal crawl`.

Serves (from 127.0.0.1, in this process) 2,000 sources of about 20 events
each, every answer (robots.txt and 404s included) sent 200 ms after the
request arrives, as a distant server would: 4 in 7 Meetup-style iCal files
(20 VEVENTs) and 3 in 7 Atom feeds with schema.org JSON-LD in each entry,
one request per source, each group meeting weekly on its own weekday and
hour at one of 60 venues.

Each source has a host of its own (``g0000.bench.test`` ...), mapped to a
path of the loopback server with ``TECHCAL_HOST_MAP``, so each keeps its
own politeness slot (per-host limit) as distinct real hosts would.

A real redis-server runs on a free loopback port. For each configuration
the store is a fresh copy of one with the sources registered, and Redis is
emptied; then:

- ``local``: `techcal crawl` (one Scrapy process, 32 requests at once);
- ``N worker(s)``: N `techcal worker --sources-at-once C` processes are
  started and left waiting, then `techcal crawl --redis` is timed until it
  has stored every source, and the workers are stopped.

It prints each run's wall time, what it stored (sources and events, read
from the store, so a lost source shows), the coordinator's storing rate
(sources stored per second of its run) and the CPU each part used; then
the scaling ratio (4 workers / 1 worker; goal <= 0.35) and the
coordinator's overhead over a local crawl with the same concurrency
(1 worker holding 32 sources against the local crawl's 32 requests; goal
<= 10%), and the CPU a source costs the coordinator and the workers.

The workers are timed twice: holding 2 sources at once each, and 16 (the
default). The scaling goal is about latency-bound work, and every process
here shares one machine's cores: with 2 sources each, one worker spends
most of its time waiting on the network, as the goal supposes; with 16,
on a small machine, one worker and the coordinator already keep the cores
busy, and more worker processes on the same cores cannot make that
faster (on separate machines they would, up to the coordinator's storing
rate, which the last line gives).

    python bench/redis_crawl.py [--sources 2000] [--events 20] [--latency 0.2]
                                [--workers 1,2,4] [--sources-at-once 2,16]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from loopback import Answer, LoopbackServer, Route, Site  # noqa: E402
from sitegen import atom_jsonld, meetup_ics, monthly  # noqa: E402

NOW = datetime.now(UTC)
#: the local crawl's CONCURRENT_REQUESTS (crawler/settings.py): a worker holding this many
#: one-request sources has as many requests in flight
LOCAL_CONCURRENCY = 32
ROBOTS = "User-agent: *\nAllow: /\n"


class DistantSite(Site):
    """A :class:`Site` whose every answer, a 404 included, leaves ``latency`` seconds late."""

    def __init__(self, latency: float) -> None:
        super().__init__()
        self.latency = latency

    def answer_for(self, path: str, headers: dict[str, str]) -> tuple[Answer, Route | None]:
        answer, route = super().answer_for(path, headers)
        return replace(answer, delay=self.latency), route


def serve(site: Site, count: int, events: int) -> tuple[list[tuple[str, str, str]], dict]:
    """Serve ``count`` sources, each on a host of its own; return (name, url, type) of each,
    and the host map that sends each host to its path here."""
    sources = []
    hosts = {}
    width = max(4, len(str(count - 1)))
    site.add("/robots.txt", ROBOTS, content_type="text/plain")
    for n in range(count):
        host = f"g{n:0{width}d}.bench.test"
        prefix = f"/g{n:0{width}d}"
        hosts[host] = site.url(prefix)
        site.add(f"{prefix}/robots.txt", ROBOTS, content_type="text/plain")
        # as groups of one region are: each on its weekday and hour, at one of 60 venues
        # (a crowd of groups at one time and place makes dedupe do far more work
        # than real calendars ask of it)
        group = [
            replace(
                ev,
                start=ev.start + timedelta(days=n % 7, hours=(n // 7) % 5 - 2),
                venue=f"Venue {n % 60}",
                street=f"{100 + n % 60} Main St",
            )
            for ev in monthly(f"e{n}", f"Source {n} meetup", NOW, events, first_days=1)
        ]
        if n % 7 < 4:
            site.add(
                f"{prefix}/ical/",
                meetup_ics(f"Group {n}", group, stamp=NOW),
                content_type="text/calendar; charset=utf-8",
            )
            sources.append((f"ics-{n}", f"https://{host}/ical/", "ics"))
        else:
            site.add(
                f"{prefix}/atom.xml",
                atom_jsonld(f"Dept {n}", group, f"https://{host}", updated=NOW),
                content_type="application/atom+xml",
            )
            sources.append((f"atom-{n}", f"https://{host}/atom.xml", "rss"))
    return sources, hosts


class RedisServer:
    """A redis-server on a free loopback port, without persistence."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if not binary:
            sys.exit("redis-server is needed: apt-get install redis-server")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(folder)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while self.command(b"PING") != b"+PONG":
            if time.monotonic() > deadline:
                sys.exit("redis-server did not start")
            time.sleep(0.05)

    def command(self, name: bytes) -> bytes:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as conn:
                conn.sendall(name + b"\r\n")
                return conn.recv(64).strip()
        except OSError:
            return b""

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def cpu_seconds(pid: int) -> float:
    """Return the CPU time a live process used so far (user + system, from /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def robots_hits(site: Site) -> int:
    with site.lock:
        return sum(n for path, n in site.hits.items() if path.endswith("/robots.txt"))


def children_cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def own_cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def techcal(*args: str) -> list[str]:
    return [sys.executable, "-m", "techcal.cli", *args]


@dataclass
class Run:
    label: str
    seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    sources: int = 0
    events: int = 0
    distinct: int = 0
    coordinator_cpu: float = 0.0
    worker_cpu: list[float] = field(default_factory=list)
    worker_done: list[str] = field(default_factory=list)
    server_cpu: float = 0.0
    redis_cpu: float = 0.0
    requests: int = 0
    robots: int = 0
    requeued: int = 0
    repeated: int = 0
    most_at_once: int = 0


def stored(db: Path) -> tuple[int, int, int]:
    """Return (sources with events, events they list, distinct events) in the store."""
    with sqlite3.connect(db) as conn:
        sources, listed = conn.execute(
            "SELECT COUNT(DISTINCT source_id), COUNT(*) FROM provenance WHERE removed_at IS NULL"
        ).fetchone()
        (distinct,) = conn.execute("SELECT COUNT(*) FROM events").fetchone()
    return sources, listed, distinct


def fresh_store(template: Path, folder: Path, label: str) -> Path:
    db = folder / f"{label.replace(' ', '-')}.db"
    with sqlite3.connect(template) as source, sqlite3.connect(db) as copy:
        source.backup(copy)
    return db


def worker_options(env: dict[str, str]) -> list[str]:
    """Return the options a worker needs to fetch from loopback (when it refuses it by default)."""
    done = subprocess.run(techcal("worker", "--help"), env=env, capture_output=True, text=True)
    return ["--allow-private"] if "--allow-private" in done.stdout else []


def start_workers(
    count: int,
    redis: RedisServer,
    options: list[str],
    env: dict[str, str],
    folder: Path,
    label: str,
) -> tuple[list[subprocess.Popen[bytes]], list[Path]]:
    procs, logs = [], []
    for n in range(count):
        log = folder / f"{label.replace(' ', '-')}-worker-{n + 1}.log"
        with log.open("wb") as out:
            procs.append(
                subprocess.Popen(
                    techcal("worker", "--redis", redis.url, *options),
                    env=env,
                    stdout=out,
                    stderr=out,
                )
            )
        logs.append(log)
    deadline = time.monotonic() + 60
    for proc, log in zip(procs, logs, strict=True):
        while b"waiting for sources" not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_workers(procs)
                sys.exit(f"a worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
    return procs, logs


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def crawl(
    label: str,
    template: Path,
    folder: Path,
    site: DistantSite,
    redis: RedisServer,
    env: dict[str, str],
    workers: int = 0,
    options: list[str] | None = None,
) -> Run:
    """Crawl every source into a fresh store, locally (``workers`` 0) or through Redis."""
    run = Run(label)
    db = fresh_store(template, folder, label)
    if redis.command(b"FLUSHALL") != b"+OK":
        sys.exit("could not empty Redis")
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    extra: list[str] = []
    if workers:
        procs, logs = start_workers(workers, redis, options or [], env, folder, label)
        extra = ["--redis", redis.url]
    hits_before = sum(site.hits.values())
    robots_before = robots_hits(site)
    site.max_in_flight = 0  # (tests/loopback.py counts requests being answered at once)
    redis_before = cpu_seconds(redis.proc.pid)
    workers_before = [cpu_seconds(p.pid) for p in procs]
    children_before, own_before = children_cpu(), own_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        techcal("--db", str(db), "crawl", "--json", *extra),
        env=env,
        capture_output=True,
        text=True,
    )
    run.seconds = time.perf_counter() - started
    run.coordinator_cpu = children_cpu() - children_before
    run.server_cpu = own_cpu() - own_before
    run.redis_cpu = cpu_seconds(redis.proc.pid) - redis_before
    run.worker_cpu = [cpu_seconds(p.pid) - b for p, b in zip(procs, workers_before, strict=True)]
    run.requests = sum(site.hits.values()) - hits_before
    run.robots = robots_hits(site) - robots_before
    run.most_at_once = getattr(site, "max_in_flight", 0)
    stop_workers(procs)
    for log in logs:
        ends = [line for line in log.read_text().splitlines() if "worker stopped after" in line]
        run.worker_done.append(ends[-1].split("after ")[1].split()[0] if ends else "?")
    if done.returncode != 0:
        print(f"  {label}: crawl exited {done.returncode}:\n{done.stderr[-3000:]}")
    try:
        run.statuses = json.loads(done.stdout)["totals"]["statuses"]
    except (ValueError, KeyError):
        run.statuses = {"(no JSON summary)": 0}
    run.sources, run.events, run.distinct = stored(db)
    for line in done.stderr.splitlines():
        # the coordinator's "queued again (...): a, b, c, d, e and 12 more"
        if line.startswith("queued again"):
            names = line.partition("): ")[2]
            head, _, more = names.partition(" and ")
            run.requeued += len(head.split(", ")) + (int(more.split()[0]) if more else 0)
        elif line.startswith("ignored ") and "late or repeated" in line:
            run.repeated += int(line.split()[1])
    return run


def show(run: Run, expected_sources: int, expected_events: int) -> None:
    complete = run.sources == expected_sources and run.events == expected_events
    verdict = "all stored" if complete else "INCOMPLETE"
    statuses = ", ".join(f"{n} {s}" for s, n in run.statuses.items())
    workers = coordinator = ""
    if run.worker_cpu:
        cpu = " + ".join(f"{c:.1f}" for c in run.worker_cpu)
        workers = f", workers {cpu} s (sources each: {', '.join(run.worker_done)})"
        coordinator = (
            f"{'':>24}coordinator: queued again {run.requeued} time(s),"
            f" ignored {run.repeated} late or repeated result(s)\n"
        )
    role = "coordinator" if run.worker_cpu else "crawl"
    fetches = (run.requests - run.robots) / expected_sources
    print(
        f"{run.label:>22}: {run.seconds:6.1f} s wall, stored {run.sources} sources /"
        f" {run.events} events ({run.distinct} distinct) [{verdict}; {statuses}],"
        f" {run.sources / run.seconds:5.1f} sources stored/s, {run.requests} requests"
        f" ({run.robots} for robots.txt; {fetches:.2f} fetches a source;"
        f" at most {run.most_at_once} at once)\n"
        f"{coordinator}"
        f"{'':>24}CPU: {role} {run.coordinator_cpu:.1f} s"
        f" ({1000 * run.coordinator_cpu / max(run.sources, 1):.1f} ms a source){workers},"
        f" loopback server {run.server_cpu:.1f} s, redis {run.redis_cpu:.1f} s;"
        f" {(run.coordinator_cpu + sum(run.worker_cpu) + run.server_cpu + run.redis_cpu):.1f} s"
        f" of the {os.cpu_count()} cores' {os.cpu_count() * run.seconds:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", type=int, default=2000)
    parser.add_argument("--events", type=int, default=20, help="events per source")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds before each answer")
    parser.add_argument("--workers", default="1,2,4", help="worker counts to time")
    parser.add_argument(
        "--sources-at-once",
        default="2,16",
        help="each worker's --sources-at-once, one series of runs per value (16: the default)",
    )
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",") if n.strip()]
    capacities = [int(c) for c in args.sources_at_once.split(",") if c.strip()]

    site = DistantSite(args.latency)
    with LoopbackServer(site), tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sources, hosts = serve(site, args.sources, args.events)
        env = {**os.environ, "TECHCAL_HOST_MAP": json.dumps(hosts)}
        template = folder / "template.db"
        listed = folder / "sources.toml"
        listed.write_text(
            "".join(f'[[source]]\nname = "{n}"\nurl = "{u}"\ntype = "{t}"\n' for n, u, t in sources)
        )
        done = subprocess.run(
            techcal("--db", str(template), "sources", "import", str(listed)),
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            sys.exit(f"sources import failed:\n{done.stderr[-3000:]}")
        expected = len(sources) * args.events
        print(
            f"{len(sources)} sources x {args.events} events ({expected} events), one request"
            f" each, every answer after {1000 * args.latency:.0f} ms, each source its own host"
            f" on 127.0.0.1; {os.cpu_count()} cores"
        )
        options = worker_options(env)
        redis = RedisServer(folder)
        runs: dict[str, Run] = {}
        try:
            plan = [("local", 0, 0)]
            plan += [
                (f"{n} worker{'s' if n > 1 else ''}, C={capacity}", n, capacity)
                for capacity in capacities
                for n in counts
            ]
            if LOCAL_CONCURRENCY not in capacities and 1 in counts:
                plan.append((f"1 worker, C={LOCAL_CONCURRENCY}", 1, LOCAL_CONCURRENCY))
            for label, workers, at_once in plan:
                taking = [*options, "--sources-at-once", str(at_once)]
                run = crawl(label, template, folder, site, redis, env, workers, taking)
                runs[label] = run
                show(run, len(sources), expected)
        finally:
            redis.stop()

    print()
    for capacity in capacities:
        one = runs.get(f"1 worker, C={capacity}")
        four = runs.get(f"4 workers, C={capacity}")
        if one and four:
            ratio = four.seconds / one.seconds
            busy = one.coordinator_cpu + sum(one.worker_cpu) + one.server_cpu + one.redis_cpu
            use = busy / ((os.cpu_count() or 1) * one.seconds)
            print(
                f"scaling: 4 workers / 1 worker (C={capacity}) = {four.seconds:.1f} /"
                f" {one.seconds:.1f} s = {ratio:.2f} (goal <= 0.35:"
                f" {'met' if ratio <= 0.35 else 'NOT met'}); with 1 worker the cores were"
                f" {use:.0%} busy ({'latency-bound' if use < 0.5 else 'CPU-bound'})"
            )
    like = runs.get(f"1 worker, C={LOCAL_CONCURRENCY}")
    local = runs["local"]
    if like:
        overhead = like.seconds / local.seconds - 1
        print(
            f"overhead: 1 worker (C={LOCAL_CONCURRENCY}) / local crawl"
            f" ({LOCAL_CONCURRENCY} requests at once) - 1"
            f" = {like.seconds:.1f} / {local.seconds:.1f} s - 1 = {overhead:+.0%}"
            f" (goal <= 10%: {'met' if overhead <= 0.10 else 'NOT met'})"
        )
    rates = ", ".join(
        f"{r.label} {r.sources / r.seconds:.1f}/s" for r in runs.values() if r.worker_cpu
    )
    print(f"coordinator storing rate (sources stored / wall time of its run): {rates}")
    cost = [
        (r.coordinator_cpu / max(r.sources, 1), sum(r.worker_cpu) / max(r.sources, 1))
        for r in runs.values()
        if r.worker_cpu
    ]
    if cost:
        store_ms = 1000 * min(c for c, _ in cost)
        read_ms = 1000 * min(w for _, w in cost)
        print(
            f"CPU per source: coordinator {store_ms:.1f} ms (storing), workers {read_ms:.1f} ms"
            f" (fetching and reading): one coordinator stores at most about"
            f" {1000 / store_ms:.0f} sources/s, however many workers feed it"
        )
    lost = [r.label for r in runs.values() if r.sources != len(sources) or r.events != expected]
    if lost:
        print(f"INCOMPLETE runs (sources or events missing): {', '.join(lost)}")


if __name__ == "__main__":
    main()
