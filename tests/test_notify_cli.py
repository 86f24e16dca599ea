"""The notifier's commands, and delivery that survives being killed."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from notify_endpoints import JsonEndpoint

from techcal.cli import cli
from techcal.notifier.messages import RESENT
from techcal.store import open_store, upsert_events

from conftest import make_event

SOON = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)


@pytest.fixture
def endpoint():
    with JsonEndpoint() as server:
        yield server


@pytest.fixture
def stored(db, plug, db_path):
    upsert_events(db, "plug", [make_event(1, start=SOON, end=None)], now=datetime.now(UTC))
    db.conn.close()
    return db_path


def _techcal(db_path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "techcal.cli", "--db", str(db_path), *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=timeout,
    )


def test_subscribe_list_test_notify_remove(stored, runner, endpoint):
    db = ["--db", str(stored)]
    secret_url = f"json://user:hunter2@127.0.0.1:{endpoint.port}/hook"
    added = runner.invoke(
        cli,
        [*db, "subscribe", "add", "pdx", "--topic", "linux", "--near", "45.5152,-122.6784"]
        + ["--within", "30km", "--notify", secret_url, "--remind", "24h", "--remind", "1h"],
    )
    assert added.exit_code == 0, added.output
    assert "1 upcoming event(s) match now" in added.output
    assert "hunter2" not in added.output

    listed = runner.invoke(cli, [*db, "subscribe", "list"])
    assert listed.exit_code == 0
    assert "pdx: linux within 30 km of 45.5152,-122.678" in listed.output
    assert "remind 1d, 1h before" in listed.output
    assert "hunter2" not in listed.output and "json://user:****@127.0.0.1" in listed.output
    data = json.loads(runner.invoke(cli, [*db, "subscribe", "list", "--json"]).output)
    assert data[0]["name"] == "pdx" and data[0]["pending"] == 1
    assert "hunter2" not in json.dumps(data)

    dry = runner.invoke(cli, [*db, "notify", "--dry-run"])
    assert dry.exit_code == 0
    assert "techcal: 'pdx' is on (1 upcoming)" in dry.output
    assert "nothing was changed" in dry.output and "hunter2" not in dry.output
    assert endpoint.received == []
    assert runner.invoke(cli, [*db, "notify", "--dry-run"]).output == dry.output

    sent = runner.invoke(cli, [*db, "notify"])
    assert sent.exit_code == 0, sent.output
    assert sent.output.startswith("1 message(s) delivered")
    assert runner.invoke(cli, [*db, "notify"]).output.startswith("0 message(s) delivered")
    assert endpoint.titles() == ["techcal: 'pdx' is on (1 upcoming)"]

    tested = runner.invoke(cli, [*db, "subscribe", "test", "pdx"])
    assert tested.exit_code == 0 and "delivered" in tested.output
    assert endpoint.titles()[-1] == "techcal: test message for 'pdx'"

    removed = runner.invoke(cli, [*db, "subscribe", "remove", "pdx"])
    assert removed.exit_code == 0
    assert runner.invoke(cli, [*db, "subscribe", "list"]).output.startswith("no subscriptions")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--notify", "nosuchservice://x"], "Apprise cannot use"),
        (["--notify", "json://127.0.0.1:9/x", "--remind", "soon"], "not a duration"),
        (["--notify", "json://127.0.0.1:9/x", "--remind", "90d"], "between 1 minute and 60 days"),
        (["--notify", "tag:family", "--apprise-config", "/nonexistent.yml"], "does not exist"),
        (["--notify", "json://127.0.0.1:9/x", "--near", "Xyzzyville Q"], "unknown place"),
        (["--notify", "json://127.0.0.1:9/x", "--include-cancelled"], "--include-cancelled"),
    ],
)
def test_bad_subscriptions_are_refused_in_one_line(stored, runner, args, message):
    result = runner.invoke(cli, ["--db", str(stored), "subscribe", "add", "x", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_names_are_unique_and_unknown_names_say_so(stored, runner):
    db = ["--db", str(stored)]
    args = [*db, "subscribe", "add", "one", "--notify", "json://127.0.0.1:9/x"]
    assert runner.invoke(cli, args).exit_code == 0
    again = runner.invoke(cli, args)
    assert again.exit_code == 2 and "exists" in again.output
    missing = runner.invoke(cli, [*db, "subscribe", "remove", "two"])
    assert missing.exit_code == 2 and "known: one" in missing.output


def test_a_failing_target_shows_in_the_list_and_notify_exits_1(stored, runner):
    db = ["--db", str(stored)]
    dead = "json://127.0.0.1:9/down"  # the discard port: nothing listens
    assert runner.invoke(cli, [*db, "subscribe", "add", "x", "--notify", dead]).exit_code == 0
    result = runner.invoke(cli, [*db, "notify"])
    assert result.exit_code == 1
    assert "1 failed (retried later)" in result.output
    conn = open_store(stored).conn
    conn.execute("UPDATE deliveries SET attempts = 5")
    conn.commit()
    conn.close()
    listed = runner.invoke(cli, [*db, "subscribe", "list"]).output
    assert "FAILING: json://127.0.0.1:9/down" in listed


def test_killed_during_delivery_nothing_lost_nothing_silently_doubled(stored, endpoint):
    """SIGKILL at random moments while delivering, then run to the end."""
    endpoint.delay = 0.1
    added = _techcal(
        stored, "subscribe", "add", "pdx", "--topic", "linux", "--notify", endpoint.url()
    )
    assert added.returncode == 0, added.stderr
    db = open_store(stored)
    fresh = [
        make_event(100 + i, title=f"PLUG talk {i}", start=SOON + timedelta(hours=i), end=None)
        for i in range(60)
    ]
    upsert_events(db, "plug", [make_event(1, start=SOON, end=None), *fresh], now=datetime.now(UTC))
    db.conn.close()
    expected = {"techcal: 'pdx' is on (1 upcoming)"} | {f"New: PLUG talk {i} (" for i in range(60)}
    rng = random.Random(7)
    kills = 0
    for _ in range(6):
        proc = subprocess.Popen(
            [sys.executable, "-m", "techcal.cli", "--db", str(stored), "notify"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=os.environ.copy(),
        )
        time.sleep(rng.uniform(0.7, 1.8))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    final = _techcal(stored, "notify")
    assert final.returncode == 0, final.stdout + final.stderr
    assert kills >= 3
    counts = Counter(m["title"] for m in endpoint.received)
    received = {t if not t.startswith("New: ") else t.split("(")[0] + "(" for t in counts}
    assert received == expected  # nothing lost
    doubled = sum(n - 1 for n in counts.values())
    assert doubled <= kills  # at most the one in flight per kill...
    marked = sum(1 for m in endpoint.received if m["message"].startswith(RESENT))
    assert marked >= doubled  # ...and each repeat says it may be one
    conn = open_store(stored).conn
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM deliveries WHERE state != 'sent'").fetchone()[0] == 0
    conn.close()


def test_run_loops_and_stops_cleanly_on_sigterm(stored, endpoint):
    added = _techcal(stored, "subscribe", "add", "pdx", "--notify", endpoint.url())
    assert added.returncode == 0, added.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "techcal.cli", "--db", str(stored), "run", "--every", "1m"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert proc.stderr is not None
    seen = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen.append(line)
        if "next round in" in line:
            break
    assert any("1 message(s) delivered" in line for line in seen), seen
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped after 1 round(s)" in err
    assert "Traceback" not in err
    assert endpoint.titles() == ["techcal: 'pdx' is on (1 upcoming)"]
