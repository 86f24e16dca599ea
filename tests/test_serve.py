"""``techcal serve`` for real: a uvicorn process on a free loopback port, asked over HTTP."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import feedparser
import icalendar
import pytest

from techcal.store import Source, add_source, open_store, upsert_events

from conftest import make_event

LA_START = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)


def _events() -> list:
    return [
        make_event(1, start=LA_START, end=LA_START + timedelta(hours=2), topics=("linux",)),
        make_event(
            2,
            title="<script>alert(1)</script> & <b>bold</b> install fest",
            start=LA_START + timedelta(days=2),
            end=None,
        ),
        make_event(
            3,
            title="PDX Python: async web apps",
            description="Talks and pizza.",
            start=LA_START + timedelta(days=1),
            end=None,
            kind="user-group",
            topics=("python",),
        ),
        make_event(
            4,
            title="PLUG social",
            start=LA_START + timedelta(days=4),
            end=None,
            status="cancelled",
        ),
    ]


class Server:
    def __init__(self, db_path: Path, *args: str) -> None:
        self.db_path = db_path
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "techcal.cli", "--db", str(db_path), "serve", "--port", "0"]
            + list(args),
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=os.environ.copy(),
        )
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 30
        self.url = ""
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            match = re.search(r"at (http://127\.0\.0\.1:(\d+)/)", line)
            if match:
                self.url = match.group(1)
                self.port = int(match.group(2))
                break
        assert self.url, "the server did not say where it listens"
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("the server never accepted a connection")

    def request(
        self, path: str, *, method: str = "GET", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, headers=headers or {})
            response = conn.getresponse()
            body = response.read()
            return (
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                body,
            )
        finally:
            conn.close()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db_path = tmp_path_factory.mktemp("serve") / "techcal.db"
    db = open_store(db_path)
    add_source(
        db, Source(name="plug", url="https://pdxlinux.org/events.ics", kind="lug", city="Portland")
    )
    upsert_events(db, "plug", _events(), now=datetime.now(UTC) - timedelta(days=1))
    db.conn.close()
    server = Server(db_path)
    yield server
    server.stop()


def _uids(body: bytes) -> dict[str, icalendar.Event]:
    return {str(e["UID"]): e for e in icalendar.Calendar.from_ical(body).walk("VEVENT")}


def test_calendar_answer_and_headers(served):
    status, headers, body = served.request(
        "/calendar.ics?topic=linux", headers={"Accept-Encoding": "gzip, deflate"}
    )
    assert status == 200
    assert headers["content-type"] == "text/calendar; charset=utf-8"
    assert "content-encoding" not in headers  # Outlook breaks on gzipped feeds
    assert re.fullmatch(r'"[0-9a-f]{32}"', headers["etag"])  # strong
    assert headers["last-modified"].endswith(" GMT")
    assert int(headers["content-length"]) == len(body)
    titles = {str(e["SUMMARY"]) for e in _uids(body).values()}
    assert titles == {
        "PLUG meeting 1: Intro to eBPF",
        "<script>alert(1)</script> & <b>bold</b> install fest",
        "PLUG social",
    }
    assert b"X-WR-CALNAME:techcal: linux\r\n" in body
    assert f"SOURCE;VALUE=URI:{served.url}calendar.ics?topic=linux".encode() in body


def test_conditional_requests_get_304_without_a_body(served):
    _, headers, body = served.request("/calendar.ics?kind=lug")
    etag, modified = headers["etag"], headers["last-modified"]
    status, again, empty = served.request("/calendar.ics?kind=lug", headers={"If-None-Match": etag})
    assert status == 304 and empty == b""
    assert again["etag"] == etag
    status, _, empty = served.request(
        "/calendar.ics?kind=lug", headers={"If-None-Match": f'"nope", {etag}'}
    )
    assert status == 304
    status, _, _ = served.request("/calendar.ics?kind=lug", headers={"If-None-Match": '"nope"'})
    assert status == 200
    status, _, empty = served.request(
        "/calendar.ics?kind=lug", headers={"If-Modified-Since": modified}
    )
    assert status == 304 and empty == b""
    status, _, full = served.request(
        "/calendar.ics?kind=lug",
        headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"},
    )
    assert status == 200 and full == body
    # the same filter written in another order is the same feed
    _, other, _ = served.request("/calendar.ics?kind=lug&t=12345")
    assert other["etag"] == etag


def test_head_and_unknown_paths(served):
    status, headers, body = served.request("/calendar.ics", method="HEAD")
    assert status == 200 and body == b"" and headers["etag"]
    status, _, _ = served.request("/nothing-here")
    assert status == 404
    status, _, _ = served.request("/calendar.ics", method="POST")
    assert status == 405


def test_atom_and_json(served):
    status, headers, body = served.request("/events.atom?topic=python")
    assert status == 200
    assert headers["content-type"] == "application/atom+xml; charset=utf-8"
    parsed = feedparser.parse(body)
    assert not parsed.bozo
    assert [e.title.split(" (")[0] for e in parsed.entries] == ["PDX Python: async web apps"]
    status, headers, body = served.request("/events.json?q=python")
    assert status == 200
    assert headers["content-type"] == "application/json; charset=utf-8"
    data = json.loads(body)
    assert [d["title"] for d in data] == ["PDX Python: async web apps"]
    assert data[0]["sources"][0]["name"] == "plug"
    status, _, empty = served.request("/events.json?q=python", headers={"If-None-Match": "*"})
    assert status == 304 and empty == b""


@pytest.mark.parametrize(
    "query",
    [
        "within=5km",
        "kind=pub",
        "topic=no-such-topic-at-all",
        "near=Xyzzyville%2C%20Nowhere",
        "from=2026-13-45",
        "to=yesterday&from=tomorrow",
        "days=0",
        "days=99999999999999",
        "online=perhaps",
        "near=95,500",
        "within=1e999km&near=Berlin",
        "q=a&q=b",
        "from=" + "9" * 400,
        "near=" + quote("\x00\x01"),
        "days=" + quote("²"),
        "days=" + quote("٣"),
    ],
)
def test_bad_parameters_are_400_with_one_line(served, query):
    for path in ("/calendar.ics", "/events.atom", "/events.json"):
        status, headers, body = served.request(f"{path}?{query}")
        assert status == 400, (path, query, body)
        text = body.decode()
        assert text.startswith("bad request: ") and text.count("\n") == 1
        assert headers["content-type"].startswith("text/plain")
    status, _, body = served.request(f"/?{query}")
    assert status == 400
    assert b'id="error"' in body


def test_hostile_but_valid_text_is_fine(served):
    for query in ('q="unbalanced', "q=NOT", "q=" + quote("*"), "q=" + quote("a" * 3000)):
        status, _, _ = served.request(f"/events.json?{query}")
        assert status in (200, 400), query


def test_the_page_escapes_source_text(served):
    status, headers, body = served.request("/")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src" not in headers["content-security-policy"]  # no scripts at all
    html = body.decode()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert f'href="webcal://127.0.0.1:{served.port}/calendar.ics"' in html


def test_feed_command_and_server_give_the_same_events(served, tmp_path):
    out = tmp_path / "linux.ics"
    done = subprocess.run(
        [sys.executable, "-m", "techcal.cli", "--db", str(served.db_path)]
        + ["feed", "--topic", "linux", "-o", str(out)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    _, _, body = served.request("/calendar.ics?topic=linux")
    from_file = out.read_bytes()
    assert set(_uids(from_file)) == set(_uids(body)) and len(_uids(body)) == 3
    # the same VEVENT bytes: only the calendar's SOURCE line differs
    assert from_file.split(b"BEGIN:VEVENT", 1)[1] == body.split(b"BEGIN:VEVENT", 1)[1]


def test_a_change_while_serving_gives_a_new_etag_and_sequence(served):
    _, headers, body = served.request("/calendar.ics?q=eBPF")
    before = _uids(body)
    (uid,) = before
    db = open_store(served.db_path)
    try:
        moved = _events()
        moved[0] = make_event(
            1,
            start=LA_START + timedelta(hours=1),
            end=LA_START + timedelta(hours=3),
            topics=("linux",),
        )
        upsert_events(db, "plug", moved, now=datetime.now(UTC))
    finally:
        db.conn.close()
    status, after_headers, after = served.request(
        "/calendar.ics?q=eBPF", headers={"If-None-Match": headers["etag"]}
    )
    assert status == 200
    assert after_headers["etag"] != headers["etag"]
    event = _uids(after)[uid]
    assert int(event["SEQUENCE"]) == int(before[uid]["SEQUENCE"]) + 1
    assert event.decoded("DTSTART") == LA_START + timedelta(hours=1)


def test_serve_refuses_a_busy_port_and_a_missing_database(tmp_path, served):
    done = subprocess.run(
        [sys.executable, "-m", "techcal.cli", "--db", str(served.db_path)]
        + ["serve", "--port", str(served.port)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
    )
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{served.port}" in done.stderr
    assert "Traceback" not in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "techcal.cli", "--db", str(tmp_path / "none.db"), "serve"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "none.db" in done.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "techcal.cli", "--db", str(served.db_path)]
        + ["serve", "--base-url", "ftp://x"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
    )
    assert bad.returncode == 2 and "--base-url" in bad.stderr


def test_base_url_is_used_for_links(tmp_path, served):
    server = Server(served.db_path, "--base-url", "https://events.example.org/tc")
    try:
        _, _, page = server.request("/?topic=linux")
        assert b'href="webcal://events.example.org/tc/calendar.ics?topic=linux"' in page
        assert b"https://calendar.google.com/calendar/r?cid=webcal%3A%2F%2Fevents.example.org" in (
            page
        )
        _, _, body = server.request("/calendar.ics?topic=linux")
        assert b"SOURCE;VALUE=URI:https://events.example.org/tc/calendar.ics?topic=linux" in body
        assert urlsplit(server.url).hostname == "127.0.0.1"
    finally:
        server.stop()


def test_if_modified_since_never_hides_a_return_to_earlier_bytes(served):
    """A feed that goes A -> B -> A is newer the second time it is A."""
    path = "/events.json?q=zebracorn"
    _, first, body_a = served.request(path)
    assert json.loads(body_a) == []
    db = open_store(served.db_path)
    try:
        extra = make_event(
            40,
            title="Zebracorn hack night",
            start=LA_START + timedelta(days=6),
            end=None,
            source_uid="zebra@pdxlinux.org",
        )
        upsert_events(db, "plug", [*_events(), extra], now=datetime.now(UTC))
        time.sleep(1.1)
        _, second, body_b = served.request(path)
        assert b"Zebracorn" in body_b
        upsert_events(db, "plug", _events(), now=datetime.now(UTC))  # gone again
    finally:
        db.conn.close()
    time.sleep(1.1)
    status, third, body = served.request(
        path, headers={"If-Modified-Since": second["last-modified"]}
    )
    assert status == 200 and body == body_a
    assert third["etag"] == first["etag"]
    assert third["last-modified"] != second["last-modified"]
    # a date in the future is no validator
    status, _, _ = served.request(
        path, headers={"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}
    )
    assert status == 200
