"""Crawling across machines: a coordinator and workers on a real redis-server.

Everything is real: redis-server (Debian's package) on a loopback port,
the sources on a loopback HTTP server, workers and coordinators as
``techcal`` processes. The stored events are compared, field by field,
with those of a plain local ``techcal crawl`` of the same sources.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from loopback import Answer, LoopbackServer, Site
from sitegen import atom_jsonld, detail_html, listing_html, meetup_ics, monthly, wordpress_rss

from techcal.crawler.items import SourceResult
from techcal.crawler.wire import (
    WIRE_VERSION,
    Limits,
    QueuedJob,
    decode_job,
    decode_result,
    encode_job,
    encode_result,
    job_id,
)
from techcal.errors import WireError
from techcal.event import Event
from techcal.feeds.base import ReadResult, Window
from techcal.store.ingest import ReadJob, ReadOutcome
from techcal.store.reader_state import ReaderState
from techcal.store.sources import Source

NOW = datetime.now(UTC)
#: leases short enough that a killed worker's sources come back within the test
LEASE = "3"


# ---------------------------------------------------------------- servers


class RedisServer:
    """A real redis-server on a free loopback port, without persistence (a restart loses all)."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed: apt-get install redis-server (.ci/run does)"
        self.binary = binary
        self.folder = folder
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture
def redis(tmp_path: Path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


def techcal(*args: str) -> list[str]:
    return [sys.executable, "-m", "techcal.cli", *args]


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "TECHCAL_LEASE_SECONDS": LEASE, **extra}


class Workers:
    """``techcal worker`` processes, started and killed at will."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url = url
        self.folder = folder
        self.procs: list[subprocess.Popen[bytes]] = []
        self.started = 0

    def start(self, count: int = 1, **extra: str) -> None:
        for _ in range(count):
            self.started += 1
            log = (self.folder / f"worker-{self.started}.log").open("wb")
            proc = subprocess.Popen(
                techcal("worker", "--redis", self.url, "--allow-private"),
                env=env(**extra),
                stdout=log,
                stderr=log,
            )
            self.procs.append(proc)
        for n in range(self.started - count + 1, self.started + 1):
            path = self.folder / f"worker-{n}.log"
            deadline = time.monotonic() + 30
            while b"waiting for sources" not in path.read_bytes():
                assert time.monotonic() < deadline, path.read_text()
                time.sleep(0.05)

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.procs if p.poll() is None]

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.folder.glob("worker-*.log")))

    def stop(self) -> None:
        for proc in self.alive():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers(redis: RedisServer, tmp_path: Path):
    folder = tmp_path / "workers"
    folder.mkdir()
    pool = Workers(redis.url, folder)
    yield pool
    pool.stop()


# ---------------------------------------------------------------- sources


def serve_sources(site: Site, count: int, *, delay: float = 0.0, events: int = 6) -> list[str]:
    """Serve ``count`` sources of every type a crawl reads; return their URLs.

    iCal (Meetup-style), Atom with JSON-LD entries, event listings over two
    pages with a page per event, and WordPress feeds of posts that link to
    event pages.
    """
    urls = []
    for n in range(count):
        prefix = f"/s{n}"
        evs = monthly(f"e{n}", f"Source {n} meetup", NOW, events, first_days=1 + n % 5)
        kind = n % 4
        if kind == 0:
            urls.append(site.add(f"{prefix}/ical/", meetup_ics(f"Group {n}", evs, stamp=NOW),
                                 content_type="text/calendar; charset=utf-8", delay=delay,
                                 etag=f'"s{n}"'))  # fmt: skip
        elif kind == 1:
            urls.append(site.add(f"{prefix}/atom.xml",
                                 atom_jsonld(f"Dept {n}", evs, site.url(prefix), updated=NOW),
                                 content_type="application/atom+xml", delay=delay))  # fmt: skip
        elif kind == 2:
            half = len(evs) // 2
            for page, chunk in enumerate((evs[:half], evs[half:])):
                path = f"{prefix}/events/" if page == 0 else f"{prefix}/events/?page=2"
                links = [(ev.title, f"{prefix}/events/{ev.id}/") for ev in chunk]
                following = f"{prefix}/events/?page=2" if page == 0 else None
                site.add(path, listing_html("Events", links, next_page=following), delay=delay)
            for ev in evs:
                url = site.url(f"{prefix}/events/{ev.id}/")
                site.add(f"{prefix}/events/{ev.id}/", detail_html(ev, url), delay=delay)
            urls.append(site.url(f"{prefix}/events/"))
        else:
            for ev in evs:
                url = site.url(f"{prefix}/p/{ev.id}/")
                site.add(f"{prefix}/p/{ev.id}/", detail_html(ev, url), delay=delay)
            posts = [(ev.title, site.url(f"{prefix}/p/{ev.id}/")) for ev in evs]
            urls.append(site.add(f"{prefix}/feed/",
                                 wordpress_rss(site.url(prefix), posts, built=NOW),
                                 content_type="application/rss+xml", delay=delay))  # fmt: skip
    return urls


def make_store(path: Path, urls: list[str]) -> Path:
    toml = path.with_suffix(".toml")
    toml.write_text(
        "".join(
            f'[[source]]\nname = "src-{n:03d}"\nurl = "{url}"\n\n' for n, url in enumerate(urls)
        )
    )
    done = subprocess.run(
        techcal("--db", str(path), "sources", "import", str(toml)), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return path


def copy_store(path: Path, to: Path) -> Path:
    shutil.copy(path, to)
    return to


def crawl(db: Path, *args: str, timeout: float = 600, expect: int = 0) -> dict:
    done = subprocess.run(
        techcal("--db", str(db), "crawl", "--json", *args),
        env=env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == expect, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return json.loads(done.stdout)


EVENT_FIELDS = (
    'uid, sequence, title, description, url, start, "end", start_utc, end_utc, timezone,'
    " all_day, status, venue, address, city, region, country, lat, lon, online, online_url,"
    " kind, topics, categories, organizer, cost, geo_precision, removed_at IS NULL,"
    " (SELECT m.uid FROM events m WHERE m.id = events.merged_into)"
)


def stored(db: Path) -> tuple[list[tuple], list[tuple]]:
    """Return every stored event's fields and every provenance row, without ids or times."""
    with sqlite3.connect(db) as conn:
        events = conn.execute(f"SELECT {EVENT_FIELDS} FROM events ORDER BY uid").fetchall()
        provenance = conn.execute(
            "SELECT s.name, p.source_uid, e.uid FROM provenance p"
            " JOIN sources s ON s.id = p.source_id JOIN events e ON e.id = p.event_id"
            " ORDER BY 1, 2, 3"
        ).fetchall()
    return events, provenance


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def statuses(summary: dict) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in summary["sources"]:
        assert line["source"] not in found, f"{line['source']} reported twice"
        found[line["source"]] = line["status"]
    return found


# ---------------------------------------------------------------- the wire


def _job() -> ReadJob:
    source = Source("plug", "https://pdxlinux.org/cal.ics", kind="lug", city="Portland, OR")
    return ReadJob(
        source,
        Window.around(NOW),
        previous=ReaderState("d1", "w1", True, b"\x00snap\xff"),
        etag='"v1"',
        last_modified="Sat, 05 Dec 2026 10:00:00 GMT",
    )


def test_a_job_and_a_result_cross_the_wire_unchanged() -> None:
    job = _job()
    limits = Limits(30, 2**20, 2, 50, 2, 12)
    back = decode_job(
        json.loads(encode_job(QueuedJob(job_id(job), job, limits)))["meta"]["techcal_job"]
    )
    assert back.job.source.name == "plug" and back.job.source.city == "Portland, OR"
    assert back.job.previous == job.previous and back.job.etag == job.etag
    assert back.job.window == job.window and back.limits == limits
    start = datetime(2027, 1, 9, 19, 0, tzinfo=UTC) + timedelta(hours=-8)
    event = Event(source="plug", source_uid="u1", title="PLUG: eBPF", start=start)
    read = ReadResult(events=[event], warnings=["entry 3: no start"], failed_entries=1)
    item = SourceResult(job.source, "read", ReadOutcome("ics", False, read, job.previous))
    item.page_errors = ["https://x/2: HTTP 500"]
    jid, result = decode_result(encode_result(back.id, item), job.source)
    assert jid == back.id
    assert result.outcome is not None and result.outcome.read.events == [event]
    assert result.outcome.read.warnings == read.warnings and result.outcome.state == job.previous
    assert result.page_errors == item.page_errors


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"\xff\xfe not json", "not JSON"),
        (b'{"v": %d, "id": "x", "source": "other"}' % WIRE_VERSION, "names source 'other'"),
        (b'{"v": 99}', "format 99"),
        (
            b'{"v": %d, "id": "x", "source": "plug", "status": "read", "whole": "yes"}'
            % WIRE_VERSION,
            "whole",
        ),
    ],
)
def test_a_result_that_is_not_ours_is_refused_in_words(data: bytes, problem: str) -> None:
    with pytest.raises(WireError, match=problem):
        decode_result(data, _job().source)


def test_a_job_id_changes_when_the_plan_does() -> None:
    job = _job()
    again = _job()
    assert job_id(job) == job_id(again)  # a coordinator run again takes the same jobs' results
    again.etag = '"v2"'
    assert job_id(job) != job_id(again)  # a late result of the round before is not taken


# ---------------------------------------------------------------- crawls


def test_workers_store_what_a_local_crawl_stores(
    redis: RedisServer, workers: Workers, tmp_path: Path
) -> None:
    site = Site()
    with LoopbackServer(site):
        urls = serve_sources(site, 200)
        template = make_store(tmp_path / "template.db", urls)
        local = copy_store(template, tmp_path / "local.db")
        spread = copy_store(template, tmp_path / "spread.db")
        assert statuses(crawl(local)) == {f"src-{n:03d}": "ok" for n in range(200)}
        workers.start(3)
        summary = crawl(spread, "--redis", redis.url)
    assert statuses(summary) == {f"src-{n:03d}": "ok" for n in range(200)}
    events, provenance = stored(spread)
    assert len(events) == 200 * 6
    assert (events, provenance) == stored(local)
    assert integrity(spread) == "ok"
    assert workers.logs().count("event(s) read") == 200
    # the work was shared
    done_by = [
        (tmp_path / "workers" / f"worker-{n}.log").read_text().count("event(s) read")
        for n in (1, 2, 3)
    ]
    assert all(done_by), done_by


def test_an_unchanged_source_costs_one_304_on_any_worker(
    redis: RedisServer, workers: Workers, tmp_path: Path
) -> None:
    site = Site()
    with LoopbackServer(site):
        urls = serve_sources(site, 8)
        db = make_store(tmp_path / "t.db", urls)
        workers.start(2)
        crawl(db, "--redis", redis.url)
        before = sum(n for path, n in site.hits.items() if path != "/robots.txt")
        first = site.hits["/s0/ical/"]
        summary = crawl(db, "--redis", redis.url)
    assert statuses(summary)["src-000"] == "unchanged"
    assert site.hits["/s0/ical/"] == first + 1
    assert site.requests["/s0/ical/"][-1].get("if-none-match") == '"s0"'
    # as in a local re-crawl: each source's own URL once, and the second page of each
    # of the two listings (s2, s6) to know the listing is the same; their event pages
    # and the feeds' linked pages wait for the revisit time
    # (robots.txt aside: each worker process asks for it once)
    after = sum(n for path, n in site.hits.items() if path != "/robots.txt")
    assert after - before == 8 + 2


def test_killed_workers_lose_nothing_and_store_nothing_twice(
    redis: RedisServer, workers: Workers, tmp_path: Path
) -> None:
    site = Site()
    rng = random.Random(20261205)
    with LoopbackServer(site):
        urls = serve_sources(site, 48, delay=0.15)
        template = make_store(tmp_path / "template.db", urls)
        local = copy_store(template, tmp_path / "local.db")
        spread = copy_store(template, tmp_path / "spread.db")
        crawl(local)
        workers.start(3)
        coordinator = subprocess.Popen(
            techcal("--db", str(spread), "crawl", "--json", "--redis", redis.url),
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        kills = 0
        while coordinator.poll() is None and kills < 12:
            time.sleep(rng.uniform(0.3, 1.2))
            alive = workers.alive()
            if alive:
                rng.choice(alive).send_signal(signal.SIGKILL)
                kills += 1
                workers.start(1)
        out, err = coordinator.communicate(timeout=600)
    assert coordinator.returncode == 0, err
    assert kills >= 10, f"the crawl ended after {kills} kills: make the sources slower"
    assert statuses(json.loads(out)) == {f"src-{n:03d}": "ok" for n in range(48)}
    assert "queued again" in err
    assert stored(spread) == stored(local)
    assert integrity(spread) == "ok"


def test_a_redis_restart_mid_round_loses_no_source(
    redis: RedisServer, workers: Workers, tmp_path: Path
) -> None:
    site = Site()
    with LoopbackServer(site):
        urls = serve_sources(site, 40, delay=0.2)
        template = make_store(tmp_path / "template.db", urls)
        local = copy_store(template, tmp_path / "local.db")
        spread = copy_store(template, tmp_path / "spread.db")
        crawl(local)
        workers.start(2)
        coordinator = subprocess.Popen(
            techcal("--db", str(spread), "crawl", "--json", "--redis", redis.url),
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(2.0)
        assert coordinator.poll() is None, "the round ended before Redis restarted"
        redis.kill()
        time.sleep(1.5)
        redis.start()
        out, err = coordinator.communicate(timeout=600)
    assert coordinator.returncode == 0, err
    assert "is not answering" in err and "Redis is back" in err
    assert statuses(json.loads(out)) == {f"src-{n:03d}": "ok" for n in range(40)}
    assert stored(spread) == stored(local)
    assert integrity(spread) == "ok"
    assert "Redis is not answering" in workers.logs()


def test_a_coordinator_killed_and_run_again_finishes_the_round(
    redis: RedisServer, workers: Workers, tmp_path: Path
) -> None:
    site = Site()
    with LoopbackServer(site):
        urls = serve_sources(site, 30, delay=0.2)
        template = make_store(tmp_path / "template.db", urls)
        local = copy_store(template, tmp_path / "local.db")
        spread = copy_store(template, tmp_path / "spread.db")
        crawl(local)
        workers.start(2)
        first = subprocess.Popen(
            techcal("--db", str(spread), "crawl", "--redis", redis.url),
            env=env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(2.0)
        first.send_signal(signal.SIGKILL)
        first.wait()
        summary = crawl(spread, "--redis", redis.url)
    assert set(statuses(summary).values()) <= {"ok", "unchanged"}
    assert len(statuses(summary)) == 30
    assert stored(spread) == stored(local)
    assert integrity(spread) == "ok"


def test_a_second_coordinator_on_one_database_is_refused_in_words(
    redis: RedisServer, workers: Workers, tmp_path: Path
) -> None:
    site = Site()
    with LoopbackServer(site):
        urls = serve_sources(site, 6)
        first_db = make_store(tmp_path / "first.db", urls)
        other_db = copy_store(first_db, tmp_path / "other.db")
        first = coordinator(first_db, redis.url)
        client = redis_client(redis.url)
        wait_for(lambda: client.get("techcal:coordinator") is not None, first)
        # (no worker yet: the first coordinator waits for its results, holding the lock)
        second = subprocess.run(
            techcal("--db", str(other_db), "crawl", "--redis", redis.url),
            env=env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        workers.start(1)
        out, err = first.communicate(timeout=120)
    assert second.returncode == 1
    assert "another coordinator" in second.stderr and "database number" in second.stderr
    assert "Traceback" not in second.stderr
    assert first.returncode == 0, err.decode()[-3000:]
    assert set(statuses(json.loads(out)).values()) == {"ok"}
    assert client.get("techcal:coordinator") is None  # let go at the end


@pytest.mark.parametrize("hidden", [False, True])
def test_a_job_taken_without_its_lease_is_queued_again(
    redis: RedisServer, workers: Workers, tmp_path: Path, hidden: bool
) -> None:
    """Something that pops a job the way workers do not (an old worker, a hand) loses nothing.

    ``hidden``: another entry put in its place, so the queue's length agrees with
    the leases; the coordinator's reading of the whole queue once a lease finds it.
    """
    site = Site()
    with LoopbackServer(site):
        urls = serve_sources(site, 6)
        db = make_store(tmp_path / "t.db", urls)
        running = coordinator(db, redis.url)
        client = redis_client(redis.url)
        wait_for(lambda: client.llen("techcal:sources") == 6, running)
        taken = json.loads(client.lpop("techcal:sources"))["meta"]["techcal_job"]
        if hidden:
            client.rpush("techcal:sources", b'{"url": "http://127.0.0.1:1/"}')
            # (no worker yet: the coordinator finds it missing and queues it again)
            wait_for(lambda: client.llen("techcal:sources") == 7, running)
        workers.start(1)
        out, err = running.communicate(timeout=120)
    assert running.returncode == 0, err.decode()[-3000:]
    assert statuses(json.loads(out)) == {f"src-{n:03d}": "ok" for n in range(6)}
    again = "queued again (their worker stopped, or Redis lost them)"
    assert f"{again}: {taken['source']['name']}" in err.decode()


def test_reading_the_queue_misses_no_job_while_workers_take_from_it(
    redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from techcal.crawler import coordinator as coordinating

    client = redis_client(redis.url)
    ids = [f"src-{n}@d#r" for n in range(1000)]
    for job in ids:
        meta = {"techcal_job_id": job, "techcal_job": {"id": job}}
        client.rpush("techcal:sources", json.dumps({"url": "http://x.test/", "meta": meta}))
    taken: list[str] = []

    class Racing:
        """The Redis client, with workers taking 7 jobs before each page is read."""

        def lrange(self, *args: object) -> list[bytes]:
            for _ in range(7):
                raw = client.lpop("techcal:sources")
                if raw is not None:
                    taken.append(json.loads(raw)["meta"]["techcal_job_id"])
            return client.lrange(*args)

    monkeypatch.setattr(coordinating, "ENTRIES_AT_ONCE", 50)
    found = coordinating._queued_ids(Racing())
    assert len(taken) > 100
    assert set(ids) - set(taken) <= found  # every job still queued was seen


def test_a_result_taken_by_a_coordinator_killed_while_storing_it_is_stored_by_the_next(
    redis: RedisServer, workers: Workers, tmp_path: Path
) -> None:
    site = Site()
    with LoopbackServer(site):
        urls = serve_sources(site, 6)
        template = make_store(tmp_path / "template.db", urls)
        local = copy_store(template, tmp_path / "local.db")
        spread = copy_store(template, tmp_path / "spread.db")
        crawl(local)
        first = coordinator(spread, redis.url)
        client = redis_client(redis.url)
        wait_for(lambda: client.llen("techcal:sources") == 6, first)
        first.send_signal(signal.SIGSTOP)  # it takes nothing more now
        workers.start(1)
        wait_for(lambda: client.llen("techcal:results") == 6, workers.alive()[0])
        # as the coordinator does when it takes a result to store it; then it dies
        assert client.lmove("techcal:results", "techcal:storing", "LEFT", "RIGHT")
        first.kill()
        first.communicate()
        summary = crawl(spread, "--redis", redis.url)
    assert statuses(summary) == {f"src-{n:03d}": "ok" for n in range(6)}
    assert stored(spread) == stored(local)
    assert client.llen("techcal:storing") == 0


def test_a_job_a_worker_skips_is_let_go_at_once(
    redis: RedisServer, workers: Workers, tmp_path: Path
) -> None:
    client = redis_client(redis.url)
    job = {"techcal_job_id": "src@abc#r1", "techcal_job": {"v": 999, "id": "src@abc#r1"}}
    client.rpush("techcal:sources", json.dumps({"url": "http://127.0.0.1:1/", "meta": job}))
    client.set("techcal:lease:src@abc#r1", "queued")
    workers.start(1)
    deadline = time.monotonic() + 10
    while "skipped a queued entry" not in workers.logs():
        assert time.monotonic() < deadline, workers.logs()
        time.sleep(0.05)
    # the take leased it to the worker; skipping it let go, so the coordinator
    # queues it again within a third of a lease, not after a whole one
    assert client.get("techcal:lease:src@abc#r1") is None
    assert client.llen("techcal:sources") == 0


@pytest.mark.parametrize(("max_age", "fetches"), [(None, 1), ("2", 2)])
def test_a_long_running_worker_reads_robots_txt_again_after_a_while(
    redis: RedisServer, workers: Workers, tmp_path: Path, max_age: str | None, fetches: int
) -> None:
    """A worker runs for weeks: it obeys a robots.txt for a day (here: 2 s), then reads it again."""
    site = Site()
    with LoopbackServer(site):
        urls = serve_sources(site, 2)
        db = make_store(tmp_path / "t.db", urls)
        workers.start(1, **({"TECHCAL_ROBOTS_MAX_AGE": max_age} if max_age else {}))
        crawl(db, "--redis", redis.url)
        assert site.hits["/robots.txt"] == 1
        time.sleep(2.5)
        crawl(db, "--redis", redis.url)
    assert site.hits["/robots.txt"] == fetches


def test_workers_share_one_per_host_limit(
    redis: RedisServer, workers: Workers, tmp_path: Path
) -> None:
    site = Site()
    with LoopbackServer(site):
        urls = [
            site.add(f"/g{n}.ics", meetup_ics(f"Group {n}", monthly(f"g{n}", f"G{n}", NOW, 3),
                                              stamp=NOW),
                     content_type="text/calendar", delay=0.1)
            for n in range(100)
        ]  # fmt: skip
        db = make_store(tmp_path / "t.db", urls)
        workers.start(3)
        summary = crawl(db, "--redis", redis.url, "--per-host", "2")
    assert statuses(summary) == {f"src-{n:03d}": "ok" for n in range(100)}
    # all on one host: three workers, each allowed 16 sources at once, never above 2
    assert site.max_in_flight == 2
    per_worker = [
        (tmp_path / "workers" / f"worker-{n}.log").read_text().count("event(s) read")
        for n in (1, 2, 3)
    ]
    assert sum(per_worker) == 100 and sum(1 for n in per_worker if n) >= 2, per_worker


def test_a_retry_after_pauses_every_worker_for_that_host(
    redis: RedisServer, workers: Workers, tmp_path: Path
) -> None:
    site = Site()
    with LoopbackServer(site):
        urls = []
        for n in range(40):
            body = meetup_ics(f"Group {n}", monthly(f"g{n}", f"G{n}", NOW, 3), stamp=NOW)
            ok = Answer(body, content_type="text/calendar", delay=0.1)
            if n == 6:
                busy = Answer(b"busy", 503, "text/plain", {"Retry-After": "3"})
                urls.append(site.sequence(f"/g{n}.ics", busy, ok))
            else:
                urls.append(site.sequence(f"/g{n}.ics", ok))
        db = make_store(tmp_path / "t.db", urls)
        workers.start(3)
        summary = crawl(db, "--redis", redis.url, "--per-host", "2")
    assert statuses(summary) == {f"src-{n:03d}": "ok" for n in range(40)}
    busy_at = next(t for t, path, status in site.arrivals if status == 503)
    after = [t - busy_at for t, _, _ in site.arrivals if t > busy_at]
    # the one other request under way (--per-host 2) may arrive just after the 503;
    # then nothing, from any worker, until the host's wait is over
    assert len([d for d in after if d < 2.9]) <= 1, after[:10]
    assert any(d >= 2.9 for d in after)


def test_a_worker_skips_what_is_not_a_job_in_words(
    redis: RedisServer, workers: Workers, tmp_path: Path
) -> None:
    import redis as redis_py

    site = Site()
    with LoopbackServer(site):
        urls = serve_sources(site, 4)
        db = make_store(tmp_path / "t.db", urls)
        client = redis_py.Redis.from_url(redis.url)
        client.rpush("techcal:sources", b"\xff\x00 not json", b'{"url": "http://127.0.0.1:1/"}')
        client.rpush("techcal:sources", b'{"url": "http://x/", "meta": {"techcal_job": {"v": 1}}}')
        workers.start(1)
        summary = crawl(db, "--redis", redis.url)
    assert statuses(summary) == {f"src-{n:03d}": "ok" for n in range(4)}
    logs = workers.logs()
    assert logs.count("worker: skipped a queued entry") == 3, logs
    assert "Traceback" not in logs


def coordinator(db: Path, url: str) -> subprocess.Popen[bytes]:
    """Start `techcal crawl --json --redis` on ``db`` in the background."""
    return subprocess.Popen(
        techcal("--db", str(db), "crawl", "--json", "--redis", url),
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)


def redis_client(url: str):
    import redis as redis_py

    return redis_py.Redis.from_url(url)


def test_worker_needs_a_redis_url_it_can_reach(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = subprocess.run(
        techcal("worker", "--redis", f"redis://:secret@127.0.0.1:{port}/0"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "secret" not in done.stderr
    assert f"127.0.0.1:{port}" in done.stderr
    bad = subprocess.run(techcal("worker", "--redis", "http://x/"), capture_output=True, text=True)
    assert bad.returncode != 0 and "redis://" in bad.stderr


def _valid_result() -> dict:
    job = _job()
    start = datetime(2027, 1, 9, 19, 0, tzinfo=UTC)
    event = Event(source="plug", source_uid="u1", title="PLUG: eBPF", start=start)
    read = ReadResult(events=[event])
    item = SourceResult(job.source, "read", ReadOutcome("ics", False, read, None))
    return json.loads(encode_result("plug@x#r", item))


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda d: d.update(pages=float("inf")), "pages"),
        (lambda d: d.update(seconds=float("nan")), "seconds"),
        (lambda d: d["outcome"]["events"][0].update(title=123), "title is not text"),
        (lambda d: d["outcome"]["events"][0].update(source="other"), "source 'other'"),
        (lambda d: d["dropped"].update(x="many"), "x is not a number"),
    ],
)
def test_a_crafted_result_is_refused_not_stored(change, problem) -> None:
    data = _valid_result()
    decode_result(json.dumps(data), _job().source)  # as sent: taken
    change(data)
    with pytest.raises(WireError, match=problem):
        decode_result(json.dumps(data), _job().source)


def test_a_worker_does_not_fetch_private_addresses_unless_allowed(
    redis: RedisServer, tmp_path: Path
) -> None:
    site = Site()
    with LoopbackServer(site):
        urls = serve_sources(site, 2)
        db = make_store(tmp_path / "t.db", urls)
        log = (tmp_path / "worker.log").open("wb")
        proc = subprocess.Popen(
            techcal("worker", "--redis", redis.url), env=env(), stdout=log, stderr=log
        )
        try:
            summary = crawl(db, "--redis", redis.url, expect=1)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    lines = {line["source"]: line for line in summary["sources"]}
    assert lines["src-000"]["status"] == "error"
    assert "loopback address" in lines["src-000"]["error"]
    assert sum(site.hits.values()) == 0


def test_file_sources_stay_with_the_store(
    redis: RedisServer, workers: Workers, tmp_path: Path
) -> None:
    calendar = tmp_path / "plug.ics"
    calendar.write_bytes(meetup_ics("PLUG", monthly("p", "PLUG", NOW, 2), stamp=NOW))
    site = Site()
    with LoopbackServer(site):
        urls = serve_sources(site, 2)
        db = make_store(tmp_path / "t.db", [*urls, calendar.as_uri()])
        workers.start(1)
        summary = crawl(db, "--redis", redis.url)
        import redis as redis_py

        client = redis_py.Redis.from_url(redis.url)
        # the round is over: nothing of it is left queued, and the next is a new one
        assert client.llen("techcal:sources") == 0 and client.get("techcal:round") is None
    lines = {line["source"]: line for line in summary["sources"]}
    assert lines["src-000"]["status"] == "ok" and lines["src-001"]["status"] == "ok"
    assert lines["src-002"]["status"] == "not done"
    assert "techcal crawl --source src-002" in lines["src-002"]["error"]
