"""Faults, for real: processes killed at random moments, everything at once, hostile sources,
fuzzed readers, and the server under a burst. Each test prints its figures (run pytest with
``-s`` to see them).
"""

from __future__ import annotations

import http.client
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loopback import LoopbackServer, Site
from notify_endpoints import JsonEndpoint
from sitegen import Ev, meetup_ics

from techcal.feeds.base import SourceDefaults
from techcal.feeds.html import read_page
from techcal.notifier.messages import RESENT
from techcal.store import open_store, upsert_events

from conftest import make_event

NOW = datetime.now(UTC).replace(microsecond=0)
ICS = "text/calendar; charset=utf-8"
KILL_POINTS = 20


def techcal(db: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "techcal.cli", "--db", str(db), *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=timeout,
    )


def start(db: Path, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "techcal.cli", "--db", str(db), *args],
        text=True,
        env=os.environ.copy(),
        **kwargs,
    )


def served_port(server: subprocess.Popen[str]) -> int:
    """Return the port ``techcal serve --port 0`` says it listens on (its first such line)."""
    assert server.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = server.stderr.readline()
        if not line:
            break
        match = re.search(r"at http://127\.0\.0\.1:(\d+)/", line)
        if match:
            threading.Thread(target=server.stderr.read, daemon=True).start()  # keep it drained
            return int(match.group(1))
    server.kill()
    raise AssertionError("techcal serve did not say where it listens")


@pytest.fixture
def site():
    site = Site()
    with LoopbackServer(site):
        yield site


def groups(site: Site, count: int, *, per_group: int = 4, delay: float = 0.05) -> list[str]:
    """Serve ``count`` Meetup-style calendars of distinct groups; return their names."""
    names = []
    for g in range(count):
        events = [
            Ev(
                f"g{g}-{n}",
                f"Group {g} meetup {n}: topic {g * 7 + n}",
                (NOW + timedelta(days=2 + g % 20 + 7 * n, hours=g % 5)).replace(minute=0),
                venue=f"Hall {g}",
                street=f"{100 + g} Main St",
            )
            for n in range(per_group)
        ]
        site.add(f"/g{g}.ics", meetup_ics(f"Group {g}", events, stamp=NOW), content_type=ICS,
                 delay=delay)  # fmt: skip
        names.append(f"g{g}")
    return names


def register(db: Path, site: Site, names: list[str]) -> None:
    conn = open_store(db).conn
    conn.close()
    for name in names:
        done = techcal(db, "sources", "add", site.url(f"/{name}.ics"), "--name", name)
        assert done.returncode == 0, done.stderr


def stored(db: Path) -> dict[tuple[str, str], tuple[Any, ...]]:
    """Return what the store holds, by source entry (comparable across databases)."""
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT s.name, p.source_uid, e.title, e.start, e.end, e.status, e.removed_at IS NULL,"
        " e.venue, e.topics FROM provenance p JOIN sources s ON s.id = p.source_id"
        " JOIN events e ON e.id = p.event_id"
    ).fetchall()
    conn.close()
    return {(r[0], r[1]): r[2:] for r in rows}


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


# -- crash safety --------------------------------------------------------------


def test_a_crawl_killed_at_random_moments_then_finished_stores_what_an_unbroken_one_does(
    site: Site, tmp_path: Path
) -> None:
    names = groups(site, 30)
    db = tmp_path / "killed.db"
    register(db, site, names)
    every = [arg for name in names for arg in ("--source", name)]
    rng = random.Random(11)
    kills = 0
    partial = []
    for attempt in range(3 * KILL_POINTS):  # bounded: a run that ends before its kill is no kill
        if kills >= KILL_POINTS:
            break
        # every group announces one more meeting before each run: each run has writing to do
        per_group = 4 + attempt
        groups(site, 30, per_group=per_group)
        # killed mid-crawl: after the k-th source's progress line, plus a little
        proc = start(db, "crawl", *every, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        after = rng.randint(1, len(names) - 1)
        finished = 0
        for line in proc.stderr:
            if re.match(r"\[\d+/\d+\]", line):
                finished += 1
                if finished >= after:
                    break
        time.sleep(rng.uniform(0, 0.3))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        proc.stderr.close()
        assert integrity(db) == "ok"
        partial.append(len(stored(db)))
    assert kills >= KILL_POINTS
    # the same sources crawled once, unbroken, as they are now
    reference = tmp_path / "reference.db"
    register(reference, site, names)
    done = techcal(reference, "crawl")
    assert done.returncode == 0, done.stderr
    expected = stored(reference)
    assert len(expected) == 30 * per_group
    # the kills landed mid-crawl: partial states that are not whole runs
    assert any(n % 30 for n in partial), partial
    done = techcal(db, "crawl", *every)
    assert done.returncode == 0, done.stderr
    assert integrity(db) == "ok"
    assert stored(db) == expected
    print(
        f"\ncrawl: {kills} SIGKILLs at random moments; entries stored after each:"
        f" {partial}; then complete: {len(expected)} entries equal to the unbroken crawl's"
    )


def test_notify_killed_at_random_moments_loses_nothing(tmp_path: Path, db, plug, db_path) -> None:
    soon = NOW + timedelta(days=2)
    upsert_events(db, "plug", [make_event(1, start=soon, end=None)], now=NOW)
    db.conn.close()
    with JsonEndpoint() as endpoint:
        # 300 messages at 0.1 s: 30 s of sending, more than 20 kills cut short
        endpoint.delay = 0.1
        added = techcal(db_path, "subscribe", "add", "pdx", "--topic", "linux", "--notify",
                        endpoint.url())  # fmt: skip
        assert added.returncode == 0, added.stderr
        store = open_store(db_path)
        talks = [
            make_event(100 + i, title=f"PLUG talk {i}", start=soon + timedelta(hours=i), end=None)
            for i in range(300)
        ]
        upsert_events(store, "plug", [make_event(1, start=soon, end=None), *talks], now=NOW)
        store.conn.close()
        rng = random.Random(5)
        kills = 0
        for _ in range(3 * KILL_POINTS):
            if kills >= KILL_POINTS:
                break
            # killed mid-delivery: once it has sent k more messages
            before = len(endpoint.received)
            after = rng.randint(1, 8)
            proc = start(db_path, "notify", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                if len(endpoint.received) >= before + after:
                    time.sleep(rng.uniform(0, 0.1))
                    break
                time.sleep(0.005)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
        assert kills >= KILL_POINTS
        before_final = len(endpoint.received)
        final = techcal(db_path, "notify")
        assert final.returncode == 0, final.stdout + final.stderr
        assert len(endpoint.received) > before_final  # the kills left work to finish
        counts = Counter(m["title"].split(" (")[0] for m in endpoint.received)
        expected = {"techcal: 'pdx' is on"} | {f"New: PLUG talk {i}" for i in range(300)}
        assert set(counts) == expected  # nothing lost
        doubled = sum(n - 1 for n in counts.values())
        marked = sum(1 for m in endpoint.received if m["message"].startswith(RESENT))
        assert doubled <= kills and marked >= doubled
        assert integrity(db_path) == "ok"
        print(
            f"\nnotify: {kills} SIGKILLs; {len(expected)} messages expected,"
            f" {len(endpoint.received)} received, {doubled} repeated (each marked), 0 lost"
        )


# -- everything at once ------------------------------------------------------------


def test_crawl_notify_and_serve_at_once_on_one_database(site: Site, tmp_path: Path) -> None:
    names = groups(site, 30, delay=0.1)
    db = tmp_path / "busy.db"
    register(db, site, names)
    with JsonEndpoint() as endpoint:
        added = techcal(db, "subscribe", "add", "all", "--notify", endpoint.url())
        assert added.returncode == 0
        server = start(db, "serve", "--port", "0", stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)  # fmt: skip
        port = served_port(server)
        statuses: Counter[int] = Counter()
        stop = threading.Event()

        failures: list[str] = []

        def hammer() -> None:
            while not stop.is_set():
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    for path in ("/calendar.ics", "/events.json?q=meetup", "/"):
                        conn.request("GET", path)
                        response = conn.getresponse()
                        response.read()
                        statuses[response.status] += 1
                    conn.close()
                except (OSError, http.client.HTTPException) as exc:
                    failures.append(repr(exc))

        client = threading.Thread(target=hammer)
        time.sleep(1.0)
        client.start()
        crawl = start(db, "crawl", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        notifies = []
        while crawl.poll() is None:
            notifies.append(techcal(db, "notify"))
        crawl_out, crawl_err = crawl.communicate()
        notifies.append(techcal(db, "notify"))
        stop.set()
        client.join()
        server.terminate()
        _, server_err = server.communicate(timeout=30)
        outputs = [crawl_out, crawl_err, server_err] + [n.stdout + n.stderr for n in notifies]
        assert not [o for o in outputs if "locked" in o or "Traceback" in o]
        assert failures == []
        assert len(notifies) >= 3  # notify really ran while the crawl did
        assert crawl.returncode == 0
        assert all(n.returncode == 0 for n in notifies)
        assert set(statuses) <= {200} and sum(statuses.values()) > 10
        titles = Counter(m["title"] for m in endpoint.received)
        assert len(titles) == 121 and max(titles.values()) == 1  # the summary and 120 new
        print(
            f"\nat once: crawl of 30 sources, {len(notifies)} notify runs, "
            f"{sum(statuses.values())} web requests ({dict(statuses)}), "
            f"{len(endpoint.received)} messages, no lock errors"
        )


# -- hostile sources ---------------------------------------------------------------


class _Endless(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self.send_response(200)
        self.send_header("Content-Type", ICS)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"X-JUNK:" + b"x" * 65000 + b"\r\n"
        try:
            self.wfile.write(b"%x\r\nBEGIN:VCALENDAR\r\n\r\n" % len(b"BEGIN:VCALENDAR\r\n"))
            while True:  # never ends: the crawler must stop reading
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def _many_events(count: int) -> bytes:
    events = [
        Ev(
            f"many-{n}",
            f"Study group {n}",
            (NOW + timedelta(hours=3 + n * 0.5)).replace(minute=0),
            venue=f"Room {n}",
        )  # fmt: skip
        for n in range(count)
    ]
    return meetup_ics("Many", events, stamp=NOW)


def test_hostile_sources_fail_alone_with_bounded_memory(site: Site, tmp_path: Path) -> None:
    endless = ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    endless.daemon_threads = True
    threading.Thread(target=endless.serve_forever, daemon=True).start()
    try:
        long_line = (
            b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:long@x\r\n"
            b"DTSTART:" + (NOW + timedelta(days=3)).strftime("%Y%m%dT%H%M%SZ").encode() + b"\r\n"
            b"SUMMARY:Long line\r\nDESCRIPTION:" + b"a" * (10 * 2**20) + b"\r\n"
            b"END:VEVENT\r\nEND:VCALENDAR\r\n"
        )
        nested = b"<html><body>" + b"<div>" * 200_000 + b"deep" + b"</div>" * 200_000 + b"</body>"
        urls = {
            "endless": f"http://127.0.0.1:{endless.server_address[1]}/endless.ics",
            "many": site.add("/many.ics", _many_events(10_000), content_type=ICS),
            "longline": site.add("/long.ics", long_line, content_type=ICS),
            "nested": site.add("/events/deep/", nested),
            "good": site.add("/good.ics", _many_events(3), content_type=ICS),
        }
        db = tmp_path / "hostile.db"
        open_store(db).conn.close()
        for name, url in urls.items():
            assert techcal(db, "sources", "add", url, "--name", name).returncode == 0
        before = time.monotonic()
        proc = start(db, "crawl", "--json", "--timeout", "20", stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE)  # fmt: skip
        try:
            out, err = _communicate_with_rusage(proc, timeout=600)
        finally:
            if proc.poll() is None:
                proc.kill()
        seconds = time.monotonic() - before
        peak = proc.peak_mib  # type: ignore[attr-defined]
    finally:
        endless.shutdown()
        endless.server_close()
    import json

    report = json.loads(out)
    lines = {line["source"]: line for line in report["sources"]}
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert lines["good"]["status"] == "ok"
    assert lines["endless"]["status"] == "error"
    assert "size limit" in lines["endless"]["error"]
    assert lines["many"]["status"] == "ok" and lines["many"]["new"] == 10_000
    for name in ("longline", "nested"):
        line = lines[name]
        assert line["status"] == "ok" or line["error"], line  # read, or said why not
    assert integrity(db) == "ok"
    # bounded memory: a safety bound, far above what it takes (printed below)
    assert peak < 1024
    print(
        f"\nhostile: crawl of endless / 10,000 events / 10 MB line / 200,000-deep HTML / good in"
        f" {seconds:.1f} s, peak RSS of the crawl {peak:.0f} MiB;"
        + "".join(f" {n}: {v['status']}" for n, v in lines.items())
    )


def _communicate_with_rusage(proc: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    """Like communicate(), and note the process's own peak RSS (os.wait4) as ``peak_mib``."""
    outs: dict[str, str] = {}

    def drain(name: str, stream: Any) -> None:
        outs[name] = stream.read()

    readers = [
        threading.Thread(target=drain, args=(name, stream), daemon=True)
        for name, stream in (("out", proc.stdout), ("err", proc.stderr))
    ]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            proc.peak_mib = usage.ru_maxrss / 1024  # type: ignore[attr-defined]
            break
        if time.monotonic() > deadline:
            raise TimeoutError("the crawl did not finish")
        time.sleep(0.05)
    for reader in readers:
        reader.join()
    return outs["out"], outs["err"]


# -- fuzzing the HTML extractor (the readers' fuzz targets are in test_properties) -----

FUZZ = settings(
    max_examples=max(60, int(os.environ.get("TECHCAL_FUZZ_EXAMPLES", "0"))),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_HTML_PIECES = st.sampled_from(
    [
        "<html>",
        "<body>",
        "</body>",
        "<div>",
        "</div>",
        "<a href='/events/x/'>x</a>",
        '<script type="application/ld+json">',
        "</script>",
        '{"@context":"https://schema.org","@type":"Event","name":"N",',
        '"startDate":"2026-12-05T18:00:00-08:00"',
        '"location":{"@type":"Place","name":"P"}',
        "}",
        "]",
        "[",
        ",",
        '<div itemscope itemtype="https://schema.org/Event">',
        '<span itemprop="name">',
        '<time itemprop="startDate" datetime="2026-12-05">',
        '<div class="h-event"><span class="p-name">',
        '<time class="dt-start">',
        "&amp;",
        "&#x0;",
        "\x00",
        "\ufeff",
        "é",
        "<!--",
        "-->",
        "<![CDATA[",
    ]  # fmt: skip
)


@FUZZ
@given(st.lists(_HTML_PIECES | st.text(max_size=20), max_size=60))
def test_the_html_extractor_never_raises_on_damaged_pages(pieces: list[str]) -> None:
    body = "".join(pieces).encode("utf-8", "surrogatepass")
    page = read_page(body, "https://example.org/events/", SourceDefaults(source="fuzz"))
    for event in page.events:
        assert not event.problems(), event
    assert all(isinstance(w, str) and "\n" not in w for w in page.warnings)


@FUZZ
@given(st.binary(max_size=4096))
def test_the_html_extractor_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    page = read_page(data, "https://example.org/", SourceDefaults(source="fuzz"))
    assert all(not event.problems() for event in page.events)


# -- the server under a burst -----------------------------------------------------


def test_serve_answers_a_burst_of_5000_requests_at_50_at_once(tmp_path: Path, db, plug) -> None:
    events = [make_event(i, start=NOW + timedelta(days=1 + i % 30, hours=i % 7), end=None,
                         title=f"PLUG event {i}") for i in range(300)]  # fmt: skip
    upsert_events(db, "plug", events, now=NOW)
    db_path = Path(db.conn.execute("PRAGMA database_list").fetchone()[2])
    db.conn.close()
    server = start(db_path, "serve", "--port", "0", stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)  # fmt: skip
    port = served_port(server)
    time.sleep(0.5)
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    lock = threading.Lock()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/calendar.ics")
    etag = conn.getresponse().getheader("ETag") or ""
    conn.close()
    paths = [
        ("/calendar.ics", {}),
        ("/calendar.ics", {"If-None-Match": etag}),
        ("/events.json?topic=linux", {}),
        ("/events.atom", {}),
        ("/?q=PLUG", {}),
        ("/calendar.ics?within=5km", {}),
    ]

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        seen: Counter[int] = Counter()
        for i in range(100):
            path, headers = paths[(n + i) % len(paths)]
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                seen[response.status] += 1
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    errors.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.close()
        with lock:
            statuses.update(seen)

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    server.terminate()
    _, err = server.communicate(timeout=30)
    assert errors == []
    assert sum(statuses.values()) == 5000
    assert set(statuses) <= {200, 304, 400}
    assert statuses[200] and statuses[304] and statuses[400]
    assert "Traceback" not in err
    print(
        f"\nserve: 5,000 requests from 50 clients at once in {seconds:.1f} s"
        f" ({5000 / seconds:,.0f}/s): {dict(statuses)}, 0 errors"
    )
