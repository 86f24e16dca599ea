"""Secrets stay private: the database and its folder are their owner's only.

The database keeps Apprise URLs with passwords and tokens. Each test runs
the real ``techcal`` command in a subprocess with the usual umask of 022,
under which SQLite alone would create the database, its -wal and its -shm
0644 (readable by every user of the machine).
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sitegen import Ev, meetup_ics

pytestmark = pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX file modes")

NOTICE = "could be read by other users"


def techcal(
    *args: str, env: dict[str, str] | None = None, wait: bool = True
) -> subprocess.Popen[str] | subprocess.CompletedProcess[str]:
    """Run the CLI with a umask of 022, as a login shell has it."""
    command = [sys.executable, "-m", "techcal.cli", *args]
    environment = env if env is not None else os.environ.copy()
    umask = lambda: os.umask(0o022)  # noqa: E731 - preexec_fn takes a callable
    if not wait:
        return subprocess.Popen(
            command, env=environment, preexec_fn=umask, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
    return subprocess.run(
        command, env=environment, preexec_fn=umask, capture_output=True, text=True, timeout=120
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def calendar(count: int) -> bytes:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    events = [Ev(f"perm-{n}", f"Study group {n}", start + timedelta(hours=n)) for n in range(count)]
    return meetup_ics("Permissions", events, stamp=start)


def test_a_new_database_its_wal_and_shm_and_its_folder_are_the_owners_only(tmp_path):
    folder = tmp_path / "data"  # missing: techcal creates it
    db = folder / "techcal.db"
    wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
    feed = tmp_path / "group.ics"
    feed.write_bytes(calendar(300))
    # a write that leaves a WAL behind while it runs: stat(2) the files
    # meanwhile (SQLite deletes them when the last connection closes)
    proc = techcal("--db", str(db), "import", str(feed), wait=False)
    seen: dict[str, int] = {}
    while proc.poll() is None and len(seen) < 2:
        for path in (wal, shm):
            try:
                seen.setdefault(path.name, mode(path))
            except FileNotFoundError:
                pass
        time.sleep(0.001)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "300 new" in out
    assert mode(folder) == 0o700
    assert mode(db) == 0o600
    assert seen == {"techcal.db-wal": 0o600, "techcal.db-shm": 0o600}
    assert NOTICE not in err  # nothing to tighten in a database techcal made


def test_an_existing_database_others_can_read_is_made_private_once(tmp_path):
    db = tmp_path / "techcal.db"
    assert techcal("--db", str(db), "sources", "list").returncode == 0
    # as older techcal versions left it, with a process (here: this test)
    # holding it open, so that its -wal and -shm exist too
    db.chmod(0o644)
    holder = sqlite3.connect(db)
    try:
        holder.execute("SELECT count(*) FROM sources").fetchone()
        wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
        wal.chmod(0o644)
        shm.chmod(0o644)
        first = techcal("--db", str(db), "sources", "list")
        assert first.returncode == 0, first.stderr
        notices = [line for line in first.stderr.splitlines() if NOTICE in line]
        assert notices == [
            f"techcal: {db} could be read by other users (mode 0644); it is now readable by"
            " you only (0600): it keeps notification targets' passwords and tokens"
        ]
        assert (mode(db), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
        again = techcal("--db", str(db), "search", "python")
        assert NOTICE not in again.stderr
        again = techcal("--db", str(db), "sources", "list")
        assert again.returncode == 0 and again.stderr == ""
    finally:
        holder.close()


def test_searching_a_readable_database_makes_it_private_too(tmp_path):
    db = tmp_path / "techcal.db"
    assert techcal("--db", str(db), "sources", "list").returncode == 0
    db.chmod(0o640)
    found = techcal("--db", str(db), "search", "python")
    assert f"{db} could be read by other users (mode 0640)" in found.stderr
    assert mode(db) == 0o600


def test_the_default_folder_is_created_for_its_owner_only(tmp_path):
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("TECHCAL_DB", "XDG_DATA_HOME")}
    env["HOME"] = str(home)
    result = techcal("sources", "list", env=env)
    assert result.returncode == 0, result.stderr
    folder = home / ".local" / "share" / "techcal"  # platformdirs' user data folder
    assert mode(folder) == 0o700
    assert mode(folder / "techcal.db") == 0o600
    assert mode(folder.parent) == 0o755  # the parents, as `mkdir -p` makes them
    # with XDG_DATA_HOME, as the XDG base directory spec says
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    assert techcal("sources", "list", env=env).returncode == 0
    assert mode(tmp_path / "xdg" / "techcal") == 0o700
    assert mode(tmp_path / "xdg" / "techcal" / "techcal.db") == 0o600


def test_a_missing_folder_given_with_db_is_private_an_existing_one_is_left_alone(tmp_path):
    given = tmp_path / "srv" / "techcal" / "techcal.db"
    assert techcal("--db", str(given), "sources", "list").returncode == 0
    assert mode(given.parent) == 0o700
    assert mode(given.parent.parent) == 0o755
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    assert techcal("--db", str(shared / "techcal.db"), "sources", "list").returncode == 0
    assert mode(shared) == 0o755  # the user's own folder: not ours to change
    assert mode(shared / "techcal.db") == 0o600
