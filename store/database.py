"""Finding, checking and opening the techcal database file."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from techcal.errors import NoDatabaseYet, NotATechcalDatabase

# (write_transaction is its own module's; callers still import it from here)
from techcal.store.transactions import write_transaction as write_transaction

if TYPE_CHECKING:
    import sqlite_utils

#: PRAGMA application_id of every techcal database ("TCAL"), so that a
#: techcal file is recognised from its header alone (sqlite.org/fileformat).
APPLICATION_ID = 0x5443414C
#: how long a writer waits for another process's transaction (ms)
BUSY_TIMEOUT_MS = 30_000
#: what a database file and its -wal and -shm may be: read and written by
#: their owner (it keeps Apprise URLs with passwords and tokens)
PRIVATE_FILE = 0o600
#: a folder techcal creates for a database: its owner's only
PRIVATE_FOLDER = 0o700


def default_db_path() -> Path:
    """Return where the database lives when neither --db nor TECHCAL_DB says."""
    import platformdirs

    return platformdirs.user_data_path("techcal", appauthor=False) / "techcal.db"


def resolve_db_path(option: str | os.PathLike[str] | None = None) -> Path:
    """Return the database path: the option, else $TECHCAL_DB, else the user data folder."""
    if option:
        return Path(option).expanduser()
    env = os.environ.get("TECHCAL_DB")
    if env:
        return Path(env).expanduser()
    return default_db_path()


def check_db_file(path: Path) -> None:
    """Raise NotATechcalDatabase unless ``path`` is absent, empty, or ours.

    Reads only; the file is never written when it is refused.
    """
    if not path.exists():
        return
    if path.is_dir():
        raise NotATechcalDatabase(path, "it is a directory, not a database file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise NotATechcalDatabase(path, f"cannot read it ({exc.strerror})") from None
    if not size:
        return  # an empty file is an empty SQLite database: safe to set up
    if not os.access(path, os.R_OK):
        raise NotATechcalDatabase(path, "cannot read it (Permission denied)")
    # The header is read through SQLite, never with open(): closing a file
    # descriptor drops every POSIX lock this process holds on the file, the
    # locks of its open SQLite connections included, and another process may
    # then delete a WAL that still holds their commits (seen: a crawl's
    # writes lost while `techcal serve` checked the file for each request).
    app_id = _application_id(path)
    if app_id == APPLICATION_ID:
        return
    if app_id != 0:
        raise NotATechcalDatabase(
            path, f"it is another program's SQLite database (application_id {app_id:#x})"
        )
    tables = _table_names_readonly(path)
    if tables:
        shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise NotATechcalDatabase(
            path, f"it is another program's SQLite database (tables: {shown})"
        )


def _application_id(path: Path) -> int:
    """Return the file's ``PRAGMA application_id``, read by SQLite (see check_db_file)."""
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
        try:
            value: int = conn.execute("PRAGMA application_id").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise NotATechcalDatabase(path, "it is not an SQLite database") from None
        raise NotATechcalDatabase(path, f"SQLite cannot read it ({exc})") from None
    return value


def _table_names_readonly(path: Path) -> list[str]:
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
        try:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise NotATechcalDatabase(path, f"SQLite cannot read it ({exc})") from None
    return [r[0] for r in rows]


def connect(path: Path) -> sqlite3.Connection:
    """Return a connection with techcal's pragmas (WAL, busy timeout, foreign keys)."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
        # a new file: mark it ours before anything else is written; 8 KiB
        # pages hold an event's long row with less left over than 4 KiB ones
        # (the store takes ~10% less room; no effect on an existing file)
        conn.execute("PRAGMA page_size = 8192")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA journal_mode = WAL")
    # NORMAL is durable across application crashes in WAL mode; only a power
    # cut can lose the last transactions, never corrupt the file.
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    # up to 64 MiB of page cache: the uid and provenance indexes take random
    # inserts, and a 100k-event store outgrows the 2 MiB default
    conn.execute("PRAGMA cache_size = -65536")
    return conn


def open_store(path: str | os.PathLike[str] | None = None) -> sqlite_utils.Database:
    """Return the techcal database at ``path`` (see resolve_db_path), migrated.

    A missing folder is created, for its owner only (0700); so is a new
    database (0600), and an existing one that others may read is made
    private (see keep_private): it holds notification targets with their
    passwords. A file that is not a techcal database is refused with
    NotATechcalDatabase and left untouched. A database written by a newer
    techcal (migrations this version does not know) is refused too.
    """
    import sqlite_utils

    from techcal.store.schema import MIGRATIONS

    db_path = resolve_db_path(path)
    check_db_file(db_path)
    try:
        _make_folder(db_path.parent)
    except OSError as exc:
        raise NotATechcalDatabase(db_path, f"cannot create its folder ({exc.strerror})") from None
    _create_private(db_path)
    keep_private(db_path)
    conn = _connect_waiting(db_path)
    db = sqlite_utils.Database(conn)
    if MIGRATIONS.pending(db):
        # several processes may open a new or old database at once: one
        # migrates while the others wait, then find nothing left to do
        with _migration_lock(db_path):
            _migrate(db, db_path)
    else:
        _migrate(db, db_path)
    return db


def _make_folder(folder: Path) -> None:
    """Create ``folder`` for its owner only if it is missing (its parents as ``mkdir -p`` does).

    An existing folder is the user's choice and is left as it is.
    """
    if folder.is_dir():
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        folder.mkdir(mode=PRIVATE_FOLDER)
    except FileExistsError:
        if folder.is_dir():
            return  # another process made it first
        raise
    # mkdir's mode passes through the umask: say it exactly
    os.chmod(folder, PRIVATE_FOLDER)


def _create_private(db_path: Path) -> None:
    """Create a missing database file as 0600, before SQLite first opens it.

    SQLite would create it 0644 (less the umask), and it gives the -wal and
    -shm files the mode of the database file: created 0600, all three are.
    The descriptor closed here is of a file this call just made (O_EXCL), so
    no SQLite connection of this process can hold locks on it (see
    check_db_file for why that matters).
    """
    try:
        # (resolved: a link to a file still to be made makes that file)
        fd = os.open(db_path.resolve(), os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except OSError:
        return  # there already, or not ours to create: SQLite says what is wrong
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, PRIVATE_FILE)  # whatever the umask
    finally:
        os.close(fd)


def keep_private(db_path: Path) -> bool:
    """Make the database and its -wal and -shm readable by their owner only; True if they were not.

    Older techcal versions (and SQLite) created them 0644, readable by every
    user of the machine, and the database holds Apprise URLs with passwords
    and tokens. Only the owner's files are changed (chmod never opens
    them). Says so in a warning (the CLI shows it on stderr), once: afterwards
    there is nothing to change.
    """
    geteuid = getattr(os, "geteuid", None)
    if geteuid is None:
        return False  # no POSIX modes (Windows): the user's profile folder guards it
    me = geteuid()
    tightened: list[tuple[Path, int]] = []
    for path in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        try:
            info = path.stat()
        except OSError:
            continue
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077 and info.st_uid == me and stat.S_ISREG(info.st_mode):
            try:
                os.chmod(path, mode & 0o700)
            except OSError:
                continue
            tightened.append((path, mode))
    if tightened:
        # (logging is imported here: `techcal search` starts without it)
        import logging

        path, mode = tightened[0]
        logging.getLogger(__name__).warning(
            "techcal: %s could be read by other users (mode %04o); it is now readable by"
            " you only (%04o): it keeps notification targets' passwords and tokens",
            path,
            mode,
            mode & 0o700,
        )
    return bool(tightened)


def open_reader(path: str | os.PathLike[str] | None = None) -> sqlite3.Connection:
    """Return a plain sqlite3 connection to an up-to-date database, for reading.

    The fast path of ``techcal search``: it skips sqlite-utils (30 ms of
    imports) when the schema is current, and falls back to open_store (which
    migrates) when it is not. A missing database raises NoDatabaseYet rather
    than being created by a read.
    """
    from techcal.store.schema_names import MIGRATION_NAMES

    db_path = resolve_db_path(path)
    if not db_path.exists() or db_path.stat().st_size == 0:
        raise NoDatabaseYet(db_path)
    check_db_file(db_path)
    keep_private(db_path)
    conn = _connect_reading(db_path)
    try:
        applied = {
            row[0]
            for row in conn.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = 'techcal'"
            )
        }
    except sqlite3.OperationalError:
        applied = set()
    if applied == set(MIGRATION_NAMES):
        return conn
    conn.close()
    if not applied:
        raise NoDatabaseYet(db_path)
    if not os.access(db_path, os.W_OK):
        raise NotATechcalDatabase(
            db_path,
            "it was written by an older techcal and needs upgrading, but it is read-only"
            " here: run `techcal crawl` (or any command that writes) as its owner first",
        )
    return open_store(db_path).conn


def _connect_reading(db_path: Path) -> sqlite3.Connection:
    """Return a read-only connection (a search never writes), else a normal one.

    SQLite cannot open a WAL database read-only when its -shm file is missing
    and the folder is not writable; then the normal connection is the way in.
    """
    try:
        conn = sqlite3.connect(
            f"{db_path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        return conn
    except sqlite3.DatabaseError:
        return _connect_waiting(db_path)


def _migrate(db: sqlite_utils.Database, db_path: Path) -> None:
    from techcal.store.schema import MIGRATIONS, known_migrations

    applied = {m.name for m in MIGRATIONS.applied(db)}
    unknown = applied - known_migrations()
    if unknown:
        db.conn.close()
        raise NotATechcalDatabase(
            db_path,
            "it was written by a newer techcal (schema "
            + ", ".join(sorted(unknown))
            + "); upgrade techcal to use it",
        )
    MIGRATIONS.apply(db)


def _connect_waiting(db_path: Path) -> sqlite3.Connection:
    """Return a connection, waiting out another process that holds the file (up to the timeout)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            return connect(db_path)
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if busy and time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            if busy:
                raise  # our own database, held too long: a database error, not a foreign file
            raise NotATechcalDatabase(db_path, f"SQLite cannot open it ({exc})") from None
        except sqlite3.DatabaseError as exc:
            raise NotATechcalDatabase(db_path, f"SQLite cannot open it ({exc})") from None


@contextmanager
def _migration_lock(db_path: Path) -> Iterator[None]:
    """Hold an exclusive flock(2) on the database's folder while migrating.

    This only orders techcal processes among themselves. The folder, not the
    file: closing a descriptor of the database file would drop every POSIX
    lock this process's SQLite connections hold on it (see check_db_file).
    Where there is no flock (Windows), migrations rely on SQLite's own
    locking alone.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    try:
        fd = os.open(db_path.resolve().parent, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
