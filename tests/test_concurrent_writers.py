"""Writers do not fail each other: two big imports and a notifier on one database at once.

Each big source is stored in short write transactions (see
techcal.store.events.upsert_events), so a writer waiting for the lock waits
at most one batch, never the whole of another process's source.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from notify_endpoints import JsonEndpoint

#: events per file: the size of the issue's report
EVENTS = int(os.environ.get("TECHCAL_CONCURRENT_EVENTS", "20000"))
#: how many cities both files' groups meet in: fewer is more candidates to
#: match each new entry against (a longer write), and a longer test
CITIES_SHARED = 6


#: the zone every generated event is in, and its VTIMEZONE as exports carry it
ZONE = "America/Chicago"
_VTIMEZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:America/Chicago\r\nX-LIC-LOCATION:America/Chicago\r\n"
    "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:-0600\r\nTZOFFSETTO:-0500\r\nTZNAME:CDT\r\n"
    "DTSTART:19700308T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\nEND:DAYLIGHT\r\n"
    "BEGIN:STANDARD\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0600\r\nTZNAME:CST\r\n"
    "DTSTART:19701101T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\nEND:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
)
#: cities of that zone, more than 30 km apart (events in two of them are never one event)
CITIES = (
    ("Chicago", "IL"), ("Milwaukee", "WI"), ("Madison", "WI"), ("Minneapolis", "MN"),
    ("St. Louis", "MO"), ("Kansas City", "MO"), ("Omaha", "NE"), ("Des Moines", "IA"),
)  # fmt: skip

#: community areas: the first calendar's groups meet in the first half, the second's in the rest
_HOODS = (
    "Loop", "River North", "West Loop", "Lincoln Park", "Wicker Park", "Logan Square",
    "Hyde Park", "Pilsen", "Uptown", "Evanston", "Oak Park", "Andersonville", "Bridgeport",
    "Rogers Park", "Lakeview", "Bucktown", "Streeterville", "South Loop", "Ravenswood",
    "Bronzeville", "Edgewater", "Humboldt Park", "Ukrainian Village", "Old Town", "Chinatown",
    "Albany Park", "Avondale", "Beverly", "Bridgeview", "Brighton Park", "Chatham",
    "Douglas", "Dunning", "Forest Glen", "Garfield Ridge", "Irving Park", "Jefferson Park",
    "Kenwood", "Little Village", "McKinley Park", "Morgan Park", "North Center", "Norwood Park",
    "Portage Park", "Roscoe Village", "Sauganash", "Skokie", "Wrigleyville", "Woodlawn",
    "Printers Row",
)  # fmt: skip
_TECHS = (
    "Linux", "Python", "Rust", "Kubernetes", "Postgres", "JavaScript", "Go", "Elixir",
    "Data Science", "Machine Learning", "DevOps", "Security", "Civic Tech", "Open Source",
    "Embedded", "Accessibility",
)  # fmt: skip
_STREETS = (
    "N Clark St", "W Madison St", "S State St", "N Milwaukee Ave", "W Fullerton Ave",
    "N Broadway", "S Halsted St", "W Division St", "N Lincoln Ave", "E 53rd St",
)  # fmt: skip
_PLACES = (
    "Public Library", "Coworking", "Community Center", "Tech Hub", "Brewing Co.",
    "University Hall", "Makerspace", "Cafe",
)  # fmt: skip
_TALKS = (
    "eBPF in production",
    "async without tears",
    "packaging in 2027",
    "operators from scratch",
    "tuning autovacuum",
    "the OWASP top 10, hands on",
    "reproducible builds with Nix",
    "WebAssembly outside the browser",
    "accessibility audits for web apps",
    "a first contribution to the kernel",
    "observability with OpenTelemetry",
    "home labs on a budget",
    "type checking a legacy codebase",
    "data pipelines with DuckDB",
    "lightning talks",
    "a hack night for local nonprofits",
)
_FIRST = (
    "Ada", "Grace", "Linus", "Guido", "Barbara", "Ken", "Margaret", "Dennis", "Frances",
    "Alan", "Radia", "Bjarne", "Sophie", "Yukihiro", "Hedy", "Edsger", "Katherine", "Tim",
    "Anita", "Donald", "Jean", "Leslie", "Karen", "John", "Mary", "Niklaus", "Shafi", "Vint",
    "Joan", "Carl",
)  # fmt: skip
_LAST = (
    "Okafor", "Nakamura", "Schmidt", "Kowalski", "Haddad", "Fernandes", "Novak", "Lindqvist",
    "Moreau", "Rossi", "Chen", "Ivanova", "Murphy", "Oyelaran", "Tanaka", "Garcia", "Kaur",
    "Jensen", "Dubois", "Petrov", "Silva", "Nguyen", "Cohen", "Yilmaz", "Andersen", "Mbeki",
    "Costa", "Horvat", "Sato", "Walsh",
)  # fmt: skip
_SENTENCES = (
    "Doors open thirty minutes before the first talk; pizza and drinks are provided by our hosts.",
    "Bring a laptop if you want to follow along, but it is not required.",
    "Newcomers are very welcome: the first half hour is for introductions and questions.",
    "The venue is step-free; please tell the organisers if you need anything else.",
    "Talks are recorded and published on the group's channel a week later.",
    "We follow the community code of conduct, linked from the group's page.",
    "After the talks we usually continue at a pub around the corner.",
    "Want to speak at a future meeting? Send a short abstract to the organisers.",
    "Parking is limited; the venue is a short walk from public transport.",
)


@dataclass(frozen=True)
class Meeting:
    """One generated event: a group's meeting at its venue, in local time."""

    uid: str
    group: str
    title: str
    start: datetime
    minutes: int
    venue: str
    street: str
    city: str
    region: str
    description: str
    url: str


def region_meetings(
    prefix: str, count: int, *, now: datetime, seed: int, half: int, cities: int
) -> list[Meeting]:
    """Return ``count`` meetings of a region's groups over the coming year.

    Groups are named after a neighbourhood (from one ``half`` of the list:
    two aggregators, two sets of groups) and a technology, and spread over
    the first ``cities`` CITIES; each meets weekly on its own weekday and
    hour at its own venue, with a talk of the day in the title and a
    description of a few hundred characters.
    """
    rng = random.Random(seed)
    today = now.astimezone(ZoneInfo(ZONE)).replace(hour=0, minute=0, second=0, microsecond=0)
    hoods = _HOODS[: len(_HOODS) // 2] if half == 0 else _HOODS[len(_HOODS) // 2 :]
    groups = [(hood, tech) for hood in hoods for tech in _TECHS]
    rng.shuffle(groups)
    groups = groups[: max(1, count // 50)]
    meetings: list[Meeting] = []
    for g, (hood, tech) in enumerate(groups):
        name = f"{hood} {tech} Meetup"
        city, region = CITIES[g % cities]
        weekday = rng.randrange(7)
        if weekday >= 5:
            hour, minute = rng.choice((10, 13)), 0
        else:
            hour, minute = rng.choice((17, 18, 19)), rng.choice((0, 30))
        venue = f"{hood} {rng.choice(_PLACES)}"
        street = f"{100 + rng.randrange(4000)} {rng.choice(_STREETS)}"
        first = today + timedelta(days=(weekday - today.weekday()) % 7 or 7)
        for week in range(count // len(groups) + (g < count % len(groups))):
            start = (first + timedelta(weeks=week)).replace(hour=hour, minute=minute)
            talk = f"{rng.choice(_TALKS)}, with {rng.choice(_FIRST)} {rng.choice(_LAST)}"
            n = len(meetings)
            url = f"https://www.meetup.com/{prefix}-{g}/events/{3_000_000 + n}/"
            text = " ".join(rng.sample(_SENTENCES, 3))
            meetings.append(
                Meeting(
                    uid=f"event_{prefix}_{n}@meetup.com",
                    group=name,
                    title=f"{name}: {talk}",
                    start=start,
                    minutes=rng.choice((90, 120, 150)),
                    venue=venue,
                    street=street,
                    city=city,
                    region=region,
                    description=f"{name}\\n{talk.capitalize()}. {text}\\n\\n{url}",
                    url=url,
                )
            )
    return meetings[:count]


def _fold(line: str) -> str:
    """Return ``line`` folded at 75 octets, as RFC 5545 exports do."""
    data = line.encode()
    if len(data) <= 75:
        return line + "\r\n"
    parts, chunk = [], 75
    while data:
        cut = chunk
        while cut < len(data) and (data[cut] & 0xC0) == 0x80:
            cut -= 1  # never split a UTF-8 character
        parts.append(data[:cut].decode())
        data = data[cut:]
        chunk = 74  # continuation lines start with a space
    return "\r\n ".join(parts) + "\r\n"


def calendar(meetings: list[Meeting], *, now: datetime) -> bytes:
    """Return ``meetings`` as a Meetup-style export: VTIMEZONE, TZID times, folded lines."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    head = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Meetup//RemoteApi//EN\r\n"
        "CALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\n"
        "X-WR-CALNAME:Tech events in the Midwest\r\n"
    )
    body = [head, _VTIMEZONE]
    for m in meetings:
        end = m.start + timedelta(minutes=m.minutes)
        body += [
            "BEGIN:VEVENT\r\n",
            f"DTSTAMP:{stamp}\r\n",
            f"DTSTART;TZID={ZONE}:{m.start:%Y%m%dT%H%M%S}\r\n",
            f"DTEND;TZID={ZONE}:{end:%Y%m%dT%H%M%S}\r\n",
            "STATUS:CONFIRMED\r\n",
            _fold(f"SUMMARY:{m.title}"),
            _fold(f"DESCRIPTION:{m.description}"),
            "CLASS:PUBLIC\r\n",
            _fold(f"LOCATION:{m.venue} ({m.street}\\, {m.city}\\, {m.region})"),
            _fold(f"URL:{m.url}"),
            _fold(f"UID:{m.uid}"),
            "END:VEVENT\r\n",
        ]
    body.append("END:VCALENDAR\r\n")
    return "".join(body).encode()


def two_calendars(count: int, *, now: datetime, cities: int = 2) -> tuple[bytes, bytes]:
    """Return two aggregators' exports of ``count`` events each, in the same cities.

    The second lists groups of its own and re-lists 5% of the first's
    meetings under its own UIDs and URLs (one real event, two sources), so
    storing either one matches its new entries against the other's events.
    """
    first = region_meetings("agg", count, now=now, seed=1, half=0, cities=cities)
    copies = random.Random(3).sample(first, count // 20)
    second = region_meetings("cal", count - len(copies), now=now, seed=2, half=1, cities=cities)
    for n, m in enumerate(copies):
        url = f"https://calendar.example.org/midwest/{n}"
        second.append(
            Meeting(f"cal-copy-{n}@calendar.example.org", m.group, m.title, m.start,
                    m.minutes, m.venue, m.street, m.city, m.region, m.description, url)
        )  # fmt: skip
    random.Random(4).shuffle(second)
    return calendar(first, now=now), calendar(second, now=now)


def _techcal(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "techcal.cli", "--db", str(db), *args]


def _run(db: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _techcal(db, *args), capture_output=True, text=True, env=os.environ.copy(), timeout=timeout
    )


def test_two_big_imports_and_a_notify_loop_at_once_all_finish(tmp_path: Path) -> None:
    """Two aggregators of one region imported at once, `notify` run again and again meanwhile.

    Storing the second source's entries means matching each against the
    first one's events around it: a long write when it was one transaction
    (35 s for 20,000 entries here, and whoever waited behind it for more
    than the 30 s busy timeout failed with "database is locked").
    """
    now = datetime.now(UTC).replace(microsecond=0)
    first, second = two_calendars(EVENTS, now=now, cities=CITIES_SHARED)
    files = [tmp_path / "aggregator.ics", tmp_path / "community.ics"]
    files[0].write_bytes(first)
    files[1].write_bytes(second)
    db = tmp_path / "busy.db"
    with JsonEndpoint() as endpoint:
        # a real subscription: each notify matches the new events and delivers
        added = _run(
            db, "subscribe", "add", "rust-chicago", "--topic", "rust", "--near", "Chicago",
            "--days", "7", "--notify", endpoint.url(),
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        before = time.monotonic()
        imports = [
            subprocess.Popen(
                _techcal(db, "import", str(path)),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=os.environ.copy(),
            )
            for path in files
        ]
        notifies: list[subprocess.CompletedProcess[str]] = []
        while any(p.poll() is None for p in imports):
            notifies.append(_run(db, "notify"))
        outputs = [p.communicate(timeout=600) for p in imports]
        seconds = time.monotonic() - before
        notifies.append(_run(db, "notify"))
    errors = [err for _, err in outputs] + [n.stderr for n in notifies]
    assert not [e for e in errors if "locked" in e or "Traceback" in e], errors
    assert [p.returncode for p in imports] == [0, 0], errors
    assert all(n.returncode == 0 for n in notifies), [n.stdout + n.stderr for n in notifies]
    merged = sum(int(m) for out, _ in outputs for m in re.findall(r"(\d+) merged", out))
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        (live,) = conn.execute("SELECT count(*) FROM provenance WHERE removed_at IS NULL")
        (events,) = conn.execute("SELECT count(*) FROM events WHERE removed_at IS NULL")
        (saved,) = conn.execute("SELECT count(*) FROM reader_state")
    finally:
        conn.close()
    assert live[0] == 2 * EVENTS  # every entry of both files is stored
    # one real event, one entry: the re-listed copies were linked whichever came first
    assert merged >= EVENTS // 20 and events[0] == 2 * EVENTS - merged
    assert saved[0] == 2  # each import finished its source, its reader state included
    assert len(notifies) >= 3  # notify really ran while the imports did
    assert endpoint.received, "the subscription's messages were delivered"
    print(
        f"\nat once: two imports of {EVENTS:,} events each in {seconds:.1f} s ({merged} merged),"
        f" {len(notifies)} notify runs, {len(endpoint.received)} messages, no lock errors"
    )


def test_an_import_killed_between_batches_marks_nothing_removed_and_the_next_run_finishes(
    tmp_path: Path,
) -> None:
    """A big source is stored in several transactions; killed between two, the
    store keeps what was written, marks nothing removed, and forgets the last
    body it stored, so that whatever the source sends next is read in full."""
    now = datetime.now(UTC).replace(microsecond=0)
    meetings = region_meetings("agg", 5000, now=now, seed=5, half=0, cities=8)
    feed = tmp_path / "aggregator.ics"
    db = tmp_path / "killed.db"
    feed.write_bytes(calendar(meetings[:1500], now=now))
    first = _run(db, "import", str(feed))
    assert first.returncode == 0, first.stderr
    # the aggregator drops 300 upcoming meetings and announces 3,500 more:
    # several batches of writing, then 300 removal marks
    feed.write_bytes(calendar(meetings[300:], now=now))
    proc = subprocess.Popen(
        _techcal(db, "import", str(feed)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=os.environ.copy(),
    )  # fmt: skip
    reader = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        # kill it once a batch of the new meetings is committed
        while proc.poll() is None:
            (stored,) = reader.execute("SELECT count(*) FROM provenance").fetchone()
            if stored > 1500 + 200:
                proc.kill()
                break
            time.sleep(0.005)
        proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL, "killed before it finished"
        (stored,) = reader.execute("SELECT count(*) FROM provenance").fetchone()
        (marked,) = reader.execute(
            "SELECT count(*) FROM provenance WHERE removed_at IS NOT NULL"
        ).fetchone()
        assert 1500 < stored < 1500 + 3500  # some batches, not all
        assert marked == 0  # nothing is marked removed before every entry is stored
        assert reader.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        reader.close()
    # the aggregator goes back to what it listed before: that body is read
    # again (not skipped as the last one stored), and the store follows it
    feed.write_bytes(calendar(meetings[:1500], now=now))
    back = _run(db, "import", str(feed))
    assert back.returncode == 0, back.stderr
    assert "unchanged since the last import" not in back.stdout
    assert _live(db) == 1500
    # and then forward again: the next run finishes the work
    feed.write_bytes(calendar(meetings[300:], now=now))
    again = _run(db, "import", str(feed))
    assert again.returncode == 0, again.stderr
    assert "300 removed" in again.stdout
    conn = sqlite3.connect(db)
    try:
        (gone,) = conn.execute("SELECT count(*) FROM events WHERE removed_at IS NOT NULL")
        (total,) = conn.execute("SELECT count(*) FROM events")
    finally:
        conn.close()
    assert (_live(db), gone[0], total[0]) == (4700, 300, 5000)


def _live(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        (live,) = conn.execute("SELECT count(*) FROM provenance WHERE removed_at IS NULL")
    finally:
        conn.close()
    return int(live[0])
