"""What the commands share: the database, the search filters, errors as one line."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from techcal.errors import TechcalError
from techcal.event import KINDS
from techcal.store.database import resolve_db_path

if TYPE_CHECKING:
    import sqlite_utils


class UserError(click.ClickException):
    """A TechcalError shown as one line, with the error's own exit code."""

    def __init__(self, error: TechcalError) -> None:
        super().__init__(str(error))
        # click reads the status from the instance when it exits
        self.exit_code = error.exit_code  # type: ignore[misc]


class TechcalGroup(click.Group):
    """The root group: the one place library errors become one-line messages."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TechcalError as exc:
            raise UserError(exc) from None
        except sqlite3.DatabaseError as exc:
            # e.g. a full disk, a lock held longer than the busy timeout, a
            # read-only file
            raise click.ClickException(f"database error: {exc}") from None


class App:
    """What every command shares: where the database is, opened on first use."""

    def __init__(self, db_option: str | None) -> None:
        self.db_path = resolve_db_path(db_option)
        self._db: sqlite_utils.Database | None = None

    @property
    def db(self) -> sqlite_utils.Database:
        """The database, opened (and migrated) for writing."""
        if self._db is None:
            from techcal.store import open_store

            self._db = open_store(self.db_path)
        return self._db

    @property
    def reader(self) -> sqlite3.Connection:
        """A plain connection for reading: the fast path of search and show."""
        if self._db is not None:
            conn: sqlite3.Connection = self._db.conn
            return conn
        from techcal.store import open_reader

        return open_reader(self.db_path)


pass_app = click.make_pass_decorator(App)


def search_filters(func: Callable[..., Any]) -> Callable[..., Any]:
    """The filters shared by ``search``, ``feed`` and ``subscribe add``."""
    options = [
        click.argument("text", required=False),
        click.option(
            "--topic", "topics", multiple=True, help="Topic from `techcal topics` (repeatable)."
        ),
        click.option(
            "--kind",
            "kinds",
            multiple=True,
            type=click.Choice(KINDS),
            help="Kind of organiser (repeatable).",
        ),
        click.option(
            "--near",
            metavar="PLACE|LAT,LON",
            help='A place ("Portland, OR", Berlin) or coordinates.',
        ),
        click.option(
            "--within",
            metavar="DISTANCE",
            help="Radius around --near, e.g. 25km or 15mi (default 50km).",
        ),
        click.option(
            "--from",
            "date_from",
            metavar="DATE",
            help="Start of the window: YYYY-MM-DD, today, tomorrow, +7d, a weekday (default: now).",
        ),
        click.option("--to", "date_to", metavar="DATE", help="Last day of the window (included)."),
        click.option("--days", type=click.IntRange(min=1), help="Number of days from --from."),
        click.option(
            "--online/--in-person",
            default=None,
            help="Only online events (with --near: online ones as well), or only in-person ones.",
        ),
        click.option(
            "--include-cancelled", is_flag=True, help="Show cancelled events too (marked)."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def tidy(app: App) -> None:
    """After writing events: compact the full-text index.

    It runs after the results are shown and is not needed for correctness,
    so a store busy with another writer is left for next time.
    """
    from techcal.store.events import tidy_search_index

    try:
        tidy_search_index(app.db.conn)
    except sqlite3.OperationalError as exc:
        click.echo(f"note: the store was not tidied this time ({exc})", err=True)


def topic_in_store(conn: sqlite3.Connection) -> Callable[[str], bool]:
    """Return a check of whether stored events use a topic outside the taxonomy."""

    def topic_in_store(slug: str) -> bool:
        # asked only of a topic outside the taxonomy: `search` starts without it
        from techcal.store.upcoming import topic_used

        return topic_used(conn, slug)

    return topic_in_store


def check_base_url(base_url: str | None) -> None:
    """Refuse a --base-url that is not an http(s) URL."""
    if base_url is None:
        return
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(
            f"{base_url!r} is not an http(s) URL (e.g. https://events.example.org/)",
            param_hint="--base-url",
        )
