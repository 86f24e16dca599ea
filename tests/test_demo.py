"""`techcal demo`: the whole flow offline on the bundled snapshots (README's first command)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar

from techcal.demo.site import demo_root, render


def test_the_demo_runs_the_whole_flow_without_touching_the_users_database(tmp_path: Path) -> None:
    env = os.environ.copy()
    env["XDG_DATA_HOME"] = str(tmp_path / "data")  # where the demo database goes (Linux)
    env["TECHCAL_DB"] = str(tmp_path / "mine.db")  # the user's own: must stay untouched
    done = subprocess.run(
        [sys.executable, "-m", "techcal.cli", "demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert not (tmp_path / "mine.db").exists()
    demo_db = tmp_path / "data" / "techcal" / "demo" / "demo.db"
    assert f"database {demo_db}" in out
    # the crawl: every bundled source, all ok, some copies merged
    summary = re.search(r"total \((\d+)\)\s+(\d+) ok\s+(\d+)\s+(\d+)", out)
    assert summary, out
    sources, ok, new, merged = (int(x) for x in summary.groups())
    assert sources == ok == 8 and new >= 30 and merged >= 3
    # two searches with results
    assert "$ techcal search --topic python" in out and "Python Project Night" in out
    assert "$ techcal search --near 'Seattle, WA'" in out and "Seattle pop-up" in out
    # a filtered feed that calendar apps can read
    ics = demo_db.parent / "portland-linux.ics"
    calendar = icalendar.Calendar.from_ical(ics.read_bytes())
    titles = {str(e["SUMMARY"]) for e in calendar.walk("VEVENT")}
    assert any("eBPF" in t for t in titles) and not any("Rust" in t for t in titles)
    # notifications delivered to the local endpoint, and shown
    received = re.search(r"received (\d+) message\(s\)", out)
    assert received and int(received.group(1)) >= 4, out
    assert "* New: PLUG General Meeting: Tracing the Linux kernel with eBPF" in out
    assert "Try next" in out
    # and the store it leaves is whole and searchable
    again = subprocess.run(
        [sys.executable, "-m", "techcal.cli", "--db", str(demo_db), "search", "rust"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert again.returncode == 0 and "Rust" in again.stdout


def test_the_snapshots_are_dated_from_today_and_never_go_stale() -> None:
    for today in (datetime.now(UTC).date(), datetime(2031, 2, 27, tzinfo=UTC).date()):
        for path in demo_root().rglob("*"):
            if path.is_file() and path.suffix in (".ics", ".html", ".rss", ".xml"):
                text = render(path.read_bytes().decode("utf-8"), today)
                assert "{{" not in text, path
        series = render((demo_root() / "pdx-python" / "events.ics").read_text(), today)
        events = icalendar.Calendar.from_ical(series).walk("VEVENT")
        starts = [e.decoded("DTSTART") for e in events]
        assert all(
            today - timedelta(days=1) <= (s.date() if hasattr(s, "date") else s) for s in starts
        )


def test_the_demo_refuses_a_database_that_is_not_a_demo_one_and_runs_twice(tmp_path: Path) -> None:
    env = os.environ.copy()
    mine = tmp_path / "mine.db"
    made = subprocess.run(
        [sys.executable, "-m", "techcal.cli", "--db", str(mine), "sources", "add",
         "https://example.org/x.ics", "--name", "x"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0
    refused = subprocess.run(
        [sys.executable, "-m", "techcal.cli", "--db", str(mine), "demo"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert refused.returncode != 0 and "not a demo database" in refused.stderr
    assert "Traceback" not in refused.stderr
    demo_db = tmp_path / "d" / "demo.db"
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "techcal.cli", "--db", str(demo_db), "demo"],
            capture_output=True, text=True, env=env, timeout=180,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr


def test_demo_serve_serves_the_demo_and_stops_whole_on_sigterm(tmp_path: Path) -> None:
    import signal
    import urllib.request

    proc = subprocess.Popen(
        [sys.executable, "-m", "techcal.cli", "--db", str(tmp_path / "demo.db"), "demo",
         "--serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )  # fmt: skip
    assert proc.stderr is not None
    url = None
    for line in proc.stderr:
        match = re.search(r"serving .* at (http://127\.0\.0\.1:\d+/)", line)
        if match:
            url = match.group(1)
            break
    assert url, "the demo's server did not say where it listens"
    with urllib.request.urlopen(url + "calendar.ics?topic=linux", timeout=30) as answer:
        assert answer.status == 200 and b"BEGIN:VEVENT" in answer.read()
    children = subprocess.run(
        ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
    ).stdout.split()
    assert children
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    proc.stdout.close()  # type: ignore[union-attr]
    proc.stderr.close()
    time.sleep(0.5)
    for child in children:
        assert not Path(f"/proc/{child}").exists(), "techcal serve outlived the demo"
