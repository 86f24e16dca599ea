"""`techcal demo`: the whole flow offline on the bundled snapshots (README's first command)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import icalendar
import pytest

from techcal.demo.site import day_of, demo_root, render


def test_the_demo_runs_the_whole_flow_without_touching_the_users_database(tmp_path: Path) -> None:
    env = os.environ.copy()
    env["XDG_DATA_HOME"] = str(tmp_path / "data")  # where the demo database goes (Linux)
    env["TECHCAL_DB"] = str(tmp_path / "mine.db")  # the user's own: must stay untouched
    started = datetime.now(UTC).date()  # the demo's "today" (or the next, past midnight)
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
    # one series per group, on its rhythm; one group has gone quiet
    _assert_series_shown(out, {datetime.now(UTC).date(), started})
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
    # the series as scripts see them: the quiet one, and the others active
    listed = subprocess.run(
        [sys.executable, "-m", "techcal.cli", "--db", str(demo_db), "series", "--json"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stdout + listed.stderr
    states = {s["title"]: s["state"] for s in json.loads(listed.stdout)}
    assert len(states) == len(GROUP_SERIES), states
    assert [t for t, state in states.items() if state == "quiet"] == ["Rust Hack and Learn"]
    assert all(state == "active" for t, state in states.items() if t != "Rust Hack and Learn")


#: each group's series as `techcal series` shows it: (title, rule, the day (from today) one of
#: its meetings is on, or None for a monthly rule, state, sources)
GROUP_SERIES = [
    (r"PLUG General Meeting", "every 3rd Thursday, 19:00", None, "active", r"plug"),
    (r"Python Project Night", "every {day}, 18:30", 2, "active", r"pdx-python"),
    (r"CS Colloquium", "every {day}, 11:30", 6, "active", r"psu-cs(?:, psu-maseeh)?"),
    (r"Volunteer Build Night", "every 1st Wednesday, 17:30", None, "active", r"freegeek"),
    (r"Linux-Stammtisch", "every other {day}, 19:00", 9, "active", r"linux-treff-berlin"),
    (r"Rust Hack and Learn", "every {day}, 19:00", -10, "quiet", r"rust-berlin"),
]


def _assert_series_shown(out: str, todays: set[date]) -> None:
    """Check what `techcal series` and `techcal sources health` printed in the demo."""
    series = re.search(
        r"^\$ techcal series\n(.*?)\n\n\$ techcal sources health\n(.*?)\n\n", out, re.S | re.M
    )
    assert series, out
    lines, health = series.group(1).splitlines(), series.group(2).splitlines()
    assert len(lines) == len(GROUP_SERIES), lines
    for title, rule, offset, state, sources in GROUP_SERIES:
        rules = {
            re.escape(rule.format(day=(today + timedelta(days=offset or 0)).strftime("%A")))
            for today in todays
        }
        shown = rf"^{title}: (?:{'|'.join(rules)}), since .*\[{state}\b.*\]\s+\({sources}\)$"
        assert len([line for line in lines if re.match(shown, line)]) == 1, (shown, lines)
    # the quiet group is the one source that needs attention, with what to do
    quiet = [line for line in health if re.match(r"^rust-berlin\s+QUIET\s", line)]
    assert len(quiet) == 1, health
    assert "Rust Hack and Learn" in quiet[0] and "quiet" in quiet[0]
    assert "try `techcal sources discover http://127.0.0.1:" in quiet[0]
    assert health[-1] == "1 of 8 source(s) need attention", health


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


# -- the dates the snapshots are written for ---------------------------------------------


@pytest.mark.parametrize(
    ("today", "token", "expected"),
    [
        # the forms every snapshot used before keep working
        (date(2026, 12, 31), "{{date +1}}", "2027-01-01"),
        (date(2026, 12, 31), "{{ics -3 18:30}}", "20261228T183000"),
        (date(2027, 3, 14), "{{iso +0 19:00 ber}}", "2027-03-14T19:00:00+01:00"),
        (date(2027, 3, 14), "{{icsutc +0 19:00}}", "20270315T020000Z"),  # PDT from today
        (date(2026, 12, 5), "{{text 0}}", "Saturday, December 5, 2026"),
        # the Nth weekday of a month counted from today's
        (date(2026, 12, 31), "{{date 3TH+1}}", "2027-01-21"),  # year end: next month is January
        (date(2026, 12, 31), "{{ics 3TH+1 19:00}}", "20270121T190000"),
        (date(2026, 12, 31), "{{iso 3TH+1 19:00}}", "2027-01-21T19:00:00-08:00"),
        (date(2027, 1, 1), "{{date 3TH-1}}", "2026-12-17"),  # and back across it
        (date(2027, 1, 15), "{{date 1MO-13}}", "2025-12-01"),  # a year and a month back
        (date(2027, 3, 14), "{{iso -1WE-2 18:30 ber}}", "2027-01-27T18:30:00+01:00"),
        (date(2028, 2, 29), "{{date -1TU+0}}", "2028-02-29"),  # the last Tuesday is the leap day
        (date(2028, 3, 1), "{{date -1TU-1}}", "2028-02-29"),
        (date(2027, 2, 10), "{{date -1TU+0}}", "2027-02-23"),  # Feb 2027 has 28 days
        (date(2026, 12, 5), "{{date -1TU+0}}", "2026-12-29"),  # five Tuesdays: the last is the 5th
        (date(2026, 12, 5), "{{date 4TU+0}}", "2026-12-22"),  # ... and the 4th is not the last
        (date(2026, 12, 5), "{{date 1TU+0}}", "2026-12-01"),  # the month starts on one
        (date(2026, 12, 5), "{{text 2SU+0}}", "Sunday, December 13, 2026"),
        (date(2026, 10, 20), "{{iso 1SU+0 10:00}}", "2026-10-04T10:00:00-07:00"),
        (date(2026, 10, 20), "{{iso 1SU+1 10:00}}", "2026-11-01T10:00:00-08:00"),  # DST ends
    ],
)
def test_date_tokens(today: date, token: str, expected: str) -> None:
    assert render(f"<{token}>", today) == f"<{expected}>"


def test_an_nth_weekday_token_is_always_that_weekday_of_that_month() -> None:
    today = date(2026, 1, 1)
    while today < date(2029, 1, 1):
        for nth in (1, 2, 3, 4, -1):
            for months in (-13, -1, 0, 1, 2):
                day = day_of(f"{nth}TH{months:+d}", today)
                assert day.weekday() == 3
                assert (day.year * 12 + day.month) - (today.year * 12 + today.month) == months
                if nth == -1:
                    assert (day + timedelta(days=7)).month != day.month
                else:
                    assert (day.day - 1) // 7 + 1 == nth
        today += timedelta(days=3)
    # a DAY that is neither form is not a token: left as it is (and the sweep above sees it)
    assert render("{{date 5TH+1}} {{date 3XX+1}}", today) == "{{date 5TH+1}} {{date 3XX+1}}"


# -- the series the snapshots hold, whatever day the demo runs ----------------------------

#: each demo source: its snapshots, and the one series they hold (the start of its rule,
#: its state), or none
SNAPSHOT_SERIES = {
    "plug": ("plug/events/*/index.html", "FREQ=MONTHLY;BYDAY=3TH", "active"),
    "pdx-python": ("pdx-python/events.ics", "FREQ=WEEKLY;BYDAY=", "active"),
    "psu-cs": ("psu-cs/events.rss", "FREQ=WEEKLY;BYDAY=", "active"),
    "freegeek": ("freegeek/events/index.html", "FREQ=MONTHLY;BYDAY=1WE", "active"),
    "linux-treff-berlin": ("berlin-linux/events.ics", "FREQ=WEEKLY;INTERVAL=2;BYDAY=", "active"),
    "rust-berlin": ("berlin-rust/events.ics", "FREQ=WEEKLY;BYDAY=", "quiet"),
    "calagator": ("calagator/events.ics", None, None),
    "psu-maseeh": ("psu-cs/events.ics", None, None),
}


def _snapshot_occurrences(pattern: str, today: date) -> list:
    """Read the snapshots matching ``pattern``, rendered for ``today``, as a crawl reads them."""
    from techcal.event import zone_named
    from techcal.feeds.base import SourceDefaults, Window
    from techcal.feeds.html import read_page
    from techcal.feeds.ical import read_ical
    from techcal.feeds.rss import read_feed
    from techcal.normalise.series import Occurrence

    now = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=12)
    defaults = SourceDefaults(source="demo")
    events = []
    for path in sorted(demo_root().glob(pattern)):
        body = render(path.read_bytes().decode("utf-8"), today).encode("utf-8")
        if path.suffix == ".ics":
            events += read_ical(body, defaults, window=Window.around(now)).events
        elif path.suffix == ".rss":
            events += read_feed(body, defaults, window=Window.around(now)).events
        else:
            url = "http://127.0.0.1:8000/" + path.parent.relative_to(demo_root()).as_posix() + "/"
            events += read_page(body, url, defaults).events
    out = []
    for key, event in enumerate(events):
        if event.all_day:
            continue
        zone = zone_named(event.timezone)  # else the offset it was written with
        start = event.start.astimezone(zone) if zone else event.start
        uid, mark, _ = event.source_uid.partition("#")
        out.append(Occurrence(key, start, event.title, "", event.status, uid if mark else ""))
    return out


def _days_to_try() -> list[date]:
    """Days of every kind: each weekday a month can start on, early, mid and late in it."""
    days = {date(2026, 12, 31), date(2027, 1, 1), date(2028, 2, 29), date(2027, 3, 14),
            date(2027, 10, 31), date(2027, 7, 15), date(2028, 12, 31)}  # fmt: skip
    day = date(2026, 11, 1)
    while day < date(2028, 1, 1):
        days.add(day)
        day += timedelta(days=5)
    return sorted(days)


@pytest.mark.parametrize("source", sorted(SNAPSHOT_SERIES))
def test_each_group_has_one_series_in_the_same_state_whatever_today_is(source: str) -> None:
    from techcal.normalise.health import series_health
    from techcal.normalise.series import detect

    pattern, rule, state = SNAPSHOT_SERIES[source]
    # the demo's today is a UTC date; the group's own today may be a day off it
    local = (0, 1) if source in ("rust-berlin", "linux-treff-berlin") else (-1, 0)
    for today in _days_to_try():
        occurrences = _snapshot_occurrences(pattern, today)
        found = detect(occurrences)
        if rule is None:
            assert found == [], (source, today, found)
            continue
        assert len(found) == 1, (source, today, found)
        series = found[0]
        assert series.rule.rrule().startswith(rule), (source, today, series.rule)
        by_key = {o.key: o for o in occurrences}
        listed = {by_key[k].start.date(): by_key[k].status for k in series.members}
        for shift in local:
            health = series_health(series.rule, listed, today + timedelta(days=shift))
            assert health.state == state, (source, today, shift, health)
