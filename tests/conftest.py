"""Shared test fixtures: real SQLite files in a temporary folder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from techcal.event import Event
from techcal.store import Source, add_source, open_store

FIXTURES = Path(__file__).parent / "fixtures"
#: the real-world files shared by the project (absent on some machines)
SHARED_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
#: a fixed "now" for every test about upcoming / vanished events
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session", autouse=True)
def _own_cache_and_taxonomy(tmp_path_factory: pytest.TempPathFactory):
    """Build the gazetteer once per run in a temporary folder; use the bundled taxonomy.

    Environment variables reach the CLI subprocesses the tests start too.
    """
    patch = pytest.MonkeyPatch()
    patch.setenv("TECHCAL_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    patch.delenv("TECHCAL_TOPICS", raising=False)
    yield
    patch.undo()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "techcal.db"


@pytest.fixture
def db(db_path: Path):
    database = open_store(db_path)
    yield database
    database.conn.close()


@pytest.fixture
def plug(db) -> Source:
    return add_source(
        db,
        Source(name="plug", url="https://pdxlinux.org/events.ics", kind="lug", city="Portland, OR"),
    )


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def make_event(n: int, *, source: str = "plug", days: int = 10, **changes) -> Event:
    """Return a plausible upcoming LUG meeting, numbered ``n``."""
    start = NOW + timedelta(days=days, hours=n % 24)
    values = dict(
        source=source,
        source_uid=f"meeting-{n}@pdxlinux.org",
        title=f"PLUG meeting {n}: Intro to eBPF",
        description="Monthly meeting of the Portland Linux/Unix Group.",
        url=f"https://pdxlinux.org/meetings/{n}",
        start=start,
        end=start + timedelta(hours=2),
        timezone="America/Los_Angeles",
        venue="Portland State University, Engineering Building",
        city="Portland",
        region="OR",
        country="US",
        lat=45.5098,
        lon=-122.6833,
        kind="lug",
        topics=("linux",),
    )
    values.update(changes)
    return Event(**values)


def all_events(result, earlier=None) -> list[dict]:
    """Return an incremental read's events, plus those it left unchanged, sorted.

    The unchanged ones are as the ``earlier`` read gave them (what the store
    keeps of them: the snapshot keeps only their uids).
    """
    events = list(result.events)
    if result.unchanged:
        wanted = set(result.unchanged)
        events += [e for e in earlier.events if e.source_uid in wanted]
    return sorted((e.to_dict() for e in events), key=lambda d: (d["source_uid"], d["start"]))


def roundtrip(snapshot):
    """Return ``snapshot`` after a trip through its stored form, as the store keeps it."""
    from techcal.feeds.incremental import Snapshot

    again = Snapshot.from_bytes(snapshot.to_bytes())
    assert again is not None
    return again
