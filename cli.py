"""The ``techcal`` command line: thin click commands over the library."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

# Only what every command needs is imported here: `techcal search` must start
# in well under 0.15 s, so Scrapy, Apprise, sqlite-utils, the readers and the
# web server are imported inside the commands that use them
# (tests/test_search_cli.py checks).
from techcal import __version__
from techcal.crawler.settings import (
    DOWNLOAD_TIMEOUT,
    MAX_BYTES,
    MAX_DEPTH,
    MAX_PAGES,
    PER_HOST,
    REVISIT_HOURS,
)
from techcal.errors import TechcalError
from techcal.event import KINDS, SOURCE_TYPES
from techcal.store.database import resolve_db_path

if TYPE_CHECKING:
    import sqlite_utils

    from techcal.store import Source


class _UserError(click.ClickException):
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
            raise _UserError(exc) from None
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


@click.group(cls=TechcalGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    envvar="TECHCAL_DB",
    type=click.Path(dir_okay=False, path_type=str),
    help="Database file (default: $TECHCAL_DB, else the user data folder).",
)
@click.version_option(__version__, prog_name="techcal")
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """Local tech events, gathered from iCal, RSS/Atom and event pages.

    techcal keeps Linux User Group meetings, user groups, college talks,
    charity tech days and small conferences in one SQLite file, and gives
    them back as a calendar feed, notifications and search.

    \b
    Example:
        techcal sources import data/sources.toml
        techcal sources list
    """
    ctx.obj = App(db)


# ---------------------------------------------------------------- sources


@cli.group()
def sources() -> None:
    """Manage the places events are collected from.

    \b
    Example:
        techcal sources add https://calagator.org/events.ics --kind other --city "Portland, OR"
    """


@sources.command(name="add")
@click.argument("url")
@click.option("--name", default="", help="Short unique name (default: made from the URL).")
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default="other",
    show_default=True,
    help="Who runs the events.",
)
@click.option(
    "--type",
    "source_type",
    type=click.Choice(SOURCE_TYPES),
    default="auto",
    show_default=True,
    help="How to read it.",
)
@click.option("--city", help='Where its events happen, e.g. "Portland, OR".')
@click.option("--topic", "topics", multiple=True, help="Topic of all its events (repeatable).")
@pass_app
def sources_add(
    app: App,
    url: str,
    name: str,
    kind: str,
    source_type: str,
    city: str | None,
    topics: tuple[str, ...],
) -> None:
    """Register URL (http, https, webcal or file) as a source.

    \b
    Example:
        techcal sources add https://www.meetup.com/pdxpython/events/ical/ \\
            --name pdxpython --kind user-group --city "Portland, OR" --topic python
    """
    from techcal.store import Source, add_source

    source = add_source(
        app.db, Source(name=name, url=url, kind=kind, type=source_type, city=city, topics=topics)
    )
    click.echo(f"added {source.name}: {source.url}")


@sources.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_app
def sources_list(app: App, as_json: bool) -> None:
    """List the sources with their crawl state.

    \b
    Example:
        techcal sources list --json
    """
    from tabulate import tabulate

    from techcal.store import list_sources

    found = list_sources(app.db)
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in found], indent=2, ensure_ascii=False))
        return
    if not found:
        click.echo("no sources yet: try `techcal sources import data/sources.toml`")
        return
    rows = [
        (
            s.name,
            s.kind,
            s.type,
            s.city or "",
            s.events,
            _last_crawl(s),
            s.failures or "",
            s.url,
        )
        for s in found
    ]
    headers = ("name", "kind", "type", "city", "events", "last crawl", "failures", "url")
    click.echo(tabulate(rows, headers=headers, disable_numparse=True))
    for s in found:
        if s.last_error:
            wait = f"; next try after {s.next_due}" if s.next_due else ""
            from techcal.output import visible

            click.echo(f"  {s.name}: {visible(s.last_error)}{wait}")


def _last_crawl(source: Source) -> str:
    if not source.last_fetched:
        return "never"
    status = source.last_status or "?"
    if source.http_status and source.http_status != 200:
        status += f" ({source.http_status})"
    return f"{status} {source.last_fetched.replace('T', ' ').removesuffix('+00:00')}Z"


@sources.command(name="remove")
@click.argument("name")
@pass_app
def sources_remove(app: App, name: str) -> None:
    """Unregister source NAME; its upcoming events are marked removed, not deleted.

    \b
    Example:
        techcal sources remove calagator
    """
    from techcal.store import remove_source

    marked = remove_source(app.db, name)
    click.echo(f"removed {name}; {marked} event(s) no longer listed by any source")


@sources.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_app
def sources_import(app: App, file: Path) -> None:
    """Add every source listed in FILE (TOML like data/sources.toml, or OPML).

    All entries are checked first: one bad entry stores nothing. Sources
    already registered (same URL or name) are skipped.

    \b
    Example:
        techcal sources import data/sources.toml
        techcal sources import feeds.opml
    """
    from techcal.source_files import read_sources
    from techcal.store import add_sources

    added, skipped = add_sources(app.db, read_sources(file))
    click.echo(
        f"imported {added} source(s) from {file}"
        + (f", {len(skipped)} already present" if skipped else "")
    )


@sources.command(name="export")
@click.option(
    "--format", "fmt", type=click.Choice(["toml", "opml"]), default="toml", show_default=True
)
@click.option(
    "-o",
    "--output",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="File to write (default: standard output).",
)
@pass_app
def sources_export(app: App, fmt: str, output: Any) -> None:
    """Write the sources as TOML (importable by techcal) or OPML (for feed readers).

    \b
    Example:
        techcal sources export --format opml -o techcal.opml
    """
    from techcal.source_files import sources_to_opml, sources_to_toml
    from techcal.store import list_sources

    found = list_sources(app.db)
    output.write(sources_to_toml(found) if fmt == "toml" else sources_to_opml(found))


@cli.command(name="import")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--source", "source_name", help="Store under this registered source.")
@pass_app
def import_(app: App, files: tuple[Path, ...], source_name: str | None) -> None:
    """Read local .ics or RSS/Atom FILES into the store, without crawling.

    Each file is stored under --source, else under the source registered for
    its file:// URL, which is added when missing. Problems in a file are
    printed as warnings; what could be read is stored.

    \b
    Example:
        techcal import plug.ics
        techcal import --source calagator ~/Downloads/calagator.ics
    """
    from techcal.ingest import import_files

    for done in import_files(app.db, list(files), source_name=source_name):
        if done.stored is None:
            click.echo(
                f"{done.path} -> {done.source} ({done.type}): unchanged since the last import"
            )
            continue
        counts = ", ".join(f"{v} {k}" for k, v in done.stored.counts().items() if k != "rejected")
        click.echo(
            f"{done.path} -> {done.source} ({done.type}): {len(done.read.events)} read; {counts}"
        )
        problems = done.read.warnings + done.stored.rejected + done.stored.cleaned
        _warn_capped(done.source, problems, more=done.read.more_warnings)
    _tidy(app)


def _warn_capped(source: str, warnings: list[str], *, more: int = 0) -> None:
    """Print a source's warnings, one line each naming it, at most as many as a crawl shows."""
    from techcal.crawler.report import MAX_WARNINGS
    from techcal.output import visible

    for warning in warnings[:MAX_WARNINGS]:
        click.echo(f"  warning: {source}: {visible(warning)}", err=True)
    rest = len(warnings) - MAX_WARNINGS + more
    if rest > 0:
        click.echo(f"  warning: {source}: … and {rest:,} more", err=True)


# ------------------------------------------------- commands of later issues


@cli.command()
@click.option(
    "--source",
    "names",
    multiple=True,
    help="Only these sources, due or not (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=DOWNLOAD_TIMEOUT,
    show_default=True,
    help="Seconds to wait for one download.",
)
@click.option(
    "--max-size",
    "max_mb",
    type=click.FloatRange(min=0.1),
    default=MAX_BYTES / 2**20,
    show_default=True,
    help="Largest body to download, in MB.",
)
@click.option(
    "--per-host",
    type=click.IntRange(min=1, max=16),
    default=PER_HOST,
    show_default=True,
    help="Requests at once to one host.",
)
@click.option(
    "--max-pages",
    type=click.IntRange(min=1),
    default=MAX_PAGES,
    show_default=True,
    help="Pages read per source (a listing and its event pages).",
)
@click.option(
    "--max-depth",
    type=click.IntRange(min=0),
    default=MAX_DEPTH,
    show_default=True,
    help="Links followed from a source's own page.",
)
@click.option(
    "--revisit",
    "revisit_hours",
    type=click.FloatRange(min=0),
    default=REVISIT_HOURS,
    show_default=True,
    help="Hours before the event pages of an unchanged listing are read again (0: always).",
)
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log on standard error.")
@pass_app
def crawl(
    app: App,
    names: tuple[str, ...],
    as_json: bool,
    timeout: float,
    max_mb: float,
    per_host: int,
    max_pages: int,
    max_depth: int,
    revisit_hours: float,
    verbose: bool,
) -> None:
    """Fetch every source that is due and store what it lists.

    One polite Scrapy crawl: robots.txt is obeyed, each host gets a few
    requests at a time, calendars and feeds are fetched conditionally, and
    sources that keep failing are tried less often (see `sources list`).
    Exits with status 1 when no source could be fetched.

    \b
    Example:
        techcal crawl
        techcal crawl --source calagator --json
    """
    from techcal.crawler.run import CrawlOptions, plan_crawl, run_crawl
    from techcal.store import list_sources

    if not names and not list_sources(app.db):
        raise click.UsageError("no sources yet: add some with `techcal sources add URL`")
    plans, waiting = plan_crawl(app.db, names, revisit_hours=revisit_hours)
    options = CrawlOptions(
        timeout=timeout,
        max_bytes=int(max_mb * 2**20),
        per_host=per_host,
        max_pages=max_pages,
        max_depth=max_depth,
        revisit_hours=revisit_hours,
        verbose=verbose,
    )
    with crawl_progress(len(plans), quiet=verbose) as on_report:
        report = run_crawl(app.db_path, plans, options=options, on_report=on_report)
    report.not_due = waiting
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        echo_crawl_report(report)
    _tidy(app)
    if plans and report.fetched == 0:
        click.get_current_context().exit(1)


def _tidy(app: App) -> None:
    """After writing events: render their feed blocks, compact the full-text index.

    Both run after the results are shown, and neither is needed for
    correctness: a feed renders a missing block itself, only slower.
    """
    from techcal.publish.feeds import render_pending
    from techcal.store.events import tidy_search_index

    try:
        render_pending(app.db.conn)
        tidy_search_index(app.db.conn)
    except sqlite3.OperationalError as exc:
        click.echo(f"note: the store was not tidied this time ({exc})", err=True)


def _render_pending(conn: sqlite3.Connection, now: Any) -> None:
    """Store the feed blocks of changed events; when a crawl holds the store, render in memory."""
    from techcal.publish.feeds import render_pending

    try:
        render_pending(conn, now=now)
    except sqlite3.OperationalError as exc:
        click.echo(f"note: feed blocks not stored this time ({exc}); rendering them now", err=True)


def _topic_in_store(conn: sqlite3.Connection) -> Callable[[str], bool]:
    """Return a check of whether stored events use a topic outside the taxonomy."""

    def topic_in_store(slug: str) -> bool:
        row = conn.execute("SELECT 1 FROM event_topics WHERE topic = ? LIMIT 1", (slug,))
        return row.fetchone() is not None

    return topic_in_store


@contextmanager
def crawl_progress(total: int, *, quiet: bool) -> Iterator[Callable[[Any], None] | None]:
    """Yield the per-source callback: a bar on a terminal, one line per source otherwise."""
    from techcal.output import visible

    err = sys.stderr
    if quiet or total == 0:
        yield None
    elif err.isatty():
        # the bar shows the name of the source stored last
        bar: Any = click.progressbar(
            length=total, label="crawling", file=err, show_pos=True, item_show_func=str
        )
        with bar:
            yield lambda line: bar.update(1, line.source)
    else:
        done = 0

        def log_line(line: Any) -> None:
            nonlocal done
            done += 1
            detail = (
                line.error
                if line.status == "error"
                else (
                    f"{line.new} new, {line.updated} updated, {line.unchanged} unchanged,"
                    f" {line.removed} removed"
                )
            )
            click.echo(
                f"[{done}/{total}] {line.source}: {line.status} ({visible(detail or '')})"
                f" {line.seconds:.1f}s",
                err=True,
            )

        yield log_line


def echo_crawl_report(report: Any) -> None:
    """Print the summary table, each source's problems, and what was not due."""
    if not report.sources:
        why = (
            "every enabled source is waiting after failures (see `sources list`)"
            if report.not_due
            else "no source is enabled"
        )
        click.echo(f"nothing to crawl: {why}")
        if not report.not_due:
            return
    else:
        click.echo(report.table())
    for line in sorted(report.sources, key=lambda line: line.source):
        problems = ([line.error] if line.error else []) + [
            w for w in line.warnings if w != line.error
        ]
        from techcal.output import visible

        for problem in problems:
            # a problem quotes what a server or file said: shown, never obeyed
            click.echo(f"  {line.source}: {visible(problem)}", err=True)
    if report.not_due:
        click.echo(
            f"{len(report.not_due)} source(s) not due yet after repeated failures:"
            f" {', '.join(report.not_due)} (crawl them now with --source NAME)"
        )


@cli.command()
@search_filters
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv", "ics"]),
    default="table",
    show_default=True,
    help="table for people; json, csv and ics for programs and calendars.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Most results to show (0: every match in the date window).",
)
@click.option("--tz", metavar="ZONE", help="Show times in this zone (default: this machine's).")
@pass_app
def search(app: App, fmt: str, limit: int, tz: str | None, **filters: Any) -> None:
    """Find upcoming events by text, topic, kind, place and date.

    TEXT is a full-text search, ranked by relevance: plain words, "quoted
    phrases", prefixes (kube*), OR and NOT. Without TEXT, results come in
    start order. Dates take YYYY-MM-DD, today, tomorrow, +7d or a weekday;
    the default is every upcoming event. --near takes a city ("Portland, OR",
    Berlin) or LAT,LON; the place chosen is printed on standard error.
    Cancelled events are hidden unless --include-cancelled.

    \b
    Example:
        techcal search --topic python --near "Portland, OR" --within 25km
        techcal search "kube*" --days 30 --format json
    """
    from datetime import UTC, datetime

    from techcal.store.query import build_query, zone
    from techcal.store.search import search as run_search

    now = datetime.now(UTC)
    conn = app.reader
    query = build_query(
        **filters, limit=limit, tz=tz, now=now, topic_in_store=_topic_in_store(conn)
    )
    if query.near is not None and query.near.population:
        click.echo(f"searching {query.near.note()}", err=True)
    hits = run_search(conn, query, now=now)
    shown_tz = zone(tz)
    if fmt == "json":
        from techcal.output import to_json

        click.echo(to_json(hits, shown_tz if tz else None))
    elif fmt == "csv":
        from techcal.output import to_csv

        click.echo(to_csv(hits, shown_tz if tz else None), nl=False)
    elif fmt == "ics":
        from techcal.feeds.ical_out import calendar
        from techcal.publish.feeds import feed_name

        def names(hit: Any) -> list[str]:
            listed = [s["name"] for s in hit.sources if not s["removed"]]
            return list(dict.fromkeys(listed or [s["name"] for s in hit.sources]))

        body = calendar(((h.event, names(h)) for h in hits), name=feed_name(query))
        click.echo(body.decode("utf-8").replace("\r\n", "\n"), nl=False)
    elif hits:
        from techcal.output import terminal_width, to_table

        click.echo(to_table(hits, shown_tz, now=now, width=terminal_width()))
    else:
        click.echo("no events match", err=True)


@cli.command()
@click.argument("event_id")
@click.option("--json", "as_json", is_flag=True, help="Print the event as JSON.")
@click.option("--tz", metavar="ZONE", help="Show times in this zone (default: this machine's).")
@pass_app
def show(app: App, event_id: str, as_json: bool, tz: str | None) -> None:
    """Show one event in full, with every source that lists it.

    EVENT_ID is the id from `techcal search` or the event's UID.

    \b
    Example:
        techcal show 42
        techcal show 42 --json
    """
    from datetime import UTC, datetime

    from techcal.store.query import zone
    from techcal.store.search import get_event

    shown_tz = zone(tz)
    hit = get_event(app.reader, event_id)
    if hit is None:
        raise click.ClickException(f"no event {event_id!r} (ids are in `techcal search` output)")
    if as_json:
        from techcal.output import hit_to_json

        data = hit_to_json(hit, shown_tz if tz else None)
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        from techcal.output import to_text

        click.echo(to_text(hit, shown_tz, now=datetime.now(UTC)))


@cli.group()
def events() -> None:
    """Correct how entries from several sources were merged into events.

    techcal merges the copies of one real event that several sources
    announce (see `techcal show ID` for an event's sources). When it got one
    wrong, split or merge by hand: the choice is kept across crawls.

    \b
    Example:
        techcal events split 42 calagator
        techcal events merge 42 57
    """


@events.command(name="split")
@click.argument("event_id")
@click.argument("source")
@pass_app
def events_split(app: App, event_id: str, source: str) -> None:
    """Separate SOURCE's entry from event EVENT_ID, for good.

    The entry becomes an event of its own; EVENT_ID keeps its uid and its
    other sources, and the entry will not join it again.

    \b
    Example:
        techcal events split 42 calagator
    """
    from techcal.store.merges import split_entry

    done = split_entry(app.db.conn, event_id, source)
    click.echo(
        f"event {done.event_id}: {source}'s entry ({', '.join(done.entries)}) is now"
        f" event {done.other_id}"
    )
    _tidy(app)


@events.command(name="merge")
@click.argument("event_id")
@click.argument("other_id")
@pass_app
def events_merge(app: App, event_id: str, other_id: str) -> None:
    """Make event OTHER_ID part of EVENT_ID, for good.

    Every source entry of OTHER_ID moves to EVENT_ID, whose uid stays;
    OTHER_ID is marked removed, and feeds leave it out, so calendar apps
    drop their copy of it.

    \b
    Example:
        techcal events merge 42 57
    """
    from techcal.store.merges import merge_events

    done = merge_events(app.db.conn, event_id, other_id)
    click.echo(
        f"event {done.other_id} merged into event {done.event_id}"
        f" ({len(done.entries)} source entr{'y' if len(done.entries) == 1 else 'ies'} moved)"
    )
    _tidy(app)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option(
    "--retag", is_flag=True, help="Tag every stored event again (after editing the taxonomy)."
)
@pass_app
def topics(app: App, as_json: bool, retag: bool) -> None:
    """List the topics with the number of upcoming events each.

    Events are tagged from their title, description and categories with the
    synonyms in the taxonomy (data/topics.toml, or the file $TECHCAL_TOPICS
    names), plus their source's topics. After the taxonomy changes, the next
    crawl re-tags everything; --retag does it now.

    \b
    Example:
        techcal topics
        techcal topics --retag
    """
    from techcal.store.normalise import renormalise, tags_are_current
    from techcal.store.search import topic_counts
    from techcal.store.topics import taxonomy

    known = taxonomy()
    if retag:
        changed = renormalise(app.db.conn, topics=known)
        click.echo(f"re-tagged: {changed} event(s) changed", err=True)
        _tidy(app)
    conn = app.reader
    counts = topic_counts(conn)
    stale = not tags_are_current(conn, known) and bool(
        conn.execute("SELECT 1 FROM events LIMIT 1").fetchone()
    )
    rows = [
        {"topic": t.slug, "label": t.label, "upcoming": counts.get(t.slug, 0)}
        for t in known.topics.values()
    ]
    # source topics outside the taxonomy still count
    rows += [
        {"topic": slug, "label": slug, "upcoming": n}
        for slug, n in counts.items()
        if slug not in known.topics
    ]
    rows.sort(key=lambda r: (-r["upcoming"], r["topic"]))
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        width = max((len(r["topic"]) for r in rows), default=5)
        for row in rows:
            click.echo(f"{row['topic']:<{width}}  {row['upcoming']:>6}  {row['label']}")
    if stale:
        click.echo(
            "the taxonomy changed since events were tagged: run `techcal topics --retag`"
            " (or the next crawl will)",
            err=True,
        )


@cli.command()
@search_filters
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="The .ics file to write (- for standard output).",
)
@pass_app
def feed(app: App, output: Path, **filters: Any) -> None:
    """Write the matching events as an iCalendar feed.

    The feed holds every match from 30 days ago on (or from --from),
    cancelled ones included as STATUS:CANCELLED, with stable UIDs, growing
    SEQUENCEs and each event's own time zone: calendar apps that import it
    again update events instead of doubling them. The same store gives the
    same bytes; an unchanged file is not rewritten. `techcal serve` serves
    the same feed at /calendar.ics with the filters as parameters.

    \b
    Example:
        techcal feed --topic linux --near Berlin -o linux-berlin.ics
        techcal feed --kind lug -o - > lugs.ics
    """
    from datetime import UTC, datetime

    from techcal.publish.feeds import ics_feed
    from techcal.publish.site import write_if_changed
    from techcal.store.query import build_query

    now = datetime.now(UTC)
    filters.pop("include_cancelled", None)  # feeds always carry cancellations
    conn = app.db.conn
    query = build_query(**filters, limit=None, now=now, topic_in_store=_topic_in_store(conn))
    if query.near is not None and query.near.population:
        click.echo(f"feed of events {query.near.note()}", err=True)
    _render_pending(conn, now)
    rendered = ics_feed(conn, query, now=now)
    if str(output) == "-":
        sys.stdout.buffer.write(rendered.body)
        sys.stdout.buffer.flush()
        return
    try:
        changed = write_if_changed(output, rendered.body)
    except OSError as exc:
        raise click.FileError(str(output), exc.strerror or str(exc)) from None
    state = "" if changed else " (unchanged)"
    click.echo(f"{output}: {rendered.count} event(s){state}", err=True)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--base-url",
    metavar="URL",
    help="The public URL of this server, for the links it gives (behind a proxy).",
)
@pass_app
def serve(app: App, host: str, port: int, base_url: str | None) -> None:
    """Serve /calendar.ics, /events.atom, /events.json and a web page.

    Every search filter works as a query parameter:
    /calendar.ics?topic=python&near=Portland,OR&within=30km&kind=lug&q=django.
    Answers carry ETag and Last-Modified and are answered 304 when
    unchanged. Binds to 127.0.0.1 unless --host says otherwise; stop with
    Ctrl-C.

    \b
    Example:
        techcal serve --port 8080
        techcal serve --host 0.0.0.0 --base-url https://events.example.org/
    """
    import socket

    _check_base_url(base_url)
    app.reader.close()  # fails now, not at the first request, when there is no database
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise TechcalError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = base_url or f"http://{shown}:{bound_port}/"
    from techcal.publish.server import run_server

    click.echo(f"serving {app.db_path} at http://{shown}:{bound_port}/", err=True)
    click.echo(f"  web page:  {url}", err=True)
    click.echo(f"  calendar:  {url.rstrip('/')}/calendar.ics?topic=linux", err=True)
    click.echo("  (Ctrl-C to stop)", err=True)
    run_server(app.db_path, sock, base_url=base_url)


def _check_base_url(base_url: str | None) -> None:
    if base_url is None:
        return
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(
            f"{base_url!r} is not an http(s) URL (e.g. https://events.example.org/)",
            param_hint="--base-url",
        )


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--base-url", required=True, metavar="URL", help="Where the site will be reachable.")
@pass_app
def publish(app: App, directory: Path, base_url: str) -> None:
    """Write a static site of feeds for any static host.

    DIRECTORY gets index.html, all.ics/.atom/.json, and one .ics and .atom
    per topic, per kind with upcoming events and per saved subscription
    (its filters only, never its targets); subscribe links point
    under --base-url. Files that did not change keep their bytes and
    modification time, so a sync tool uploads only what changed.

    \b
    Example:
        techcal publish site/ --base-url https://events.example.org/
        rsync -a site/ host:/var/www/events/
    """
    from datetime import UTC, datetime

    from techcal.publish.site import publish_site

    _check_base_url(base_url)
    now = datetime.now(UTC)
    conn = app.db.conn
    _render_pending(conn, now)
    from techcal.notifier.subscriptions import load_subscriptions

    # one feed per saved subscription too: its filters, not its targets
    extra = {sub.name: sub.query(now) for sub in load_subscriptions(conn)}
    try:
        report = publish_site(conn, directory, base_url, now=now, extra=extra)
    except OSError as exc:
        raise click.FileError(str(exc.filename or directory), exc.strerror or str(exc)) from None
    click.echo(
        f"{directory}: {len(report.written)} file(s) written, {len(report.unchanged)} unchanged"
        f" ({report.events} event(s) in all.ics)",
        err=True,
    )
    if report.note:
        click.echo(f"{directory}: {report.note}", err=True)


@cli.group()
def subscribe() -> None:
    """Save a search and get notified of what matches.

    \b
    Example:
        techcal subscribe add pdx-python --topic python --near "Portland, OR" --notify ntfy://techcal-me
    """


@subscribe.command(name="add")
@click.argument("name")
@search_filters
@click.option(
    "--notify",
    "targets",
    multiple=True,
    required=True,
    metavar="URL",
    help="An Apprise URL (ntfy://, mailto://, tgram://, json:// ...) or tag:NAME (repeatable).",
)
@click.option(
    "--remind",
    multiple=True,
    metavar="DURATION",
    help="Also remind this long before each start, e.g. 24h or 1h (repeatable).",
)
@click.option(
    "--digest",
    type=click.Choice(["daily", "weekly"]),
    help="Collect new/changed/cancelled into one message per period (reminders stay immediate).",
)
@click.option(
    "--changes/--no-changes",
    default=True,
    show_default=True,
    help="Say when a notified event moves or is cancelled.",
)
@click.option(
    "--apprise-config",
    type=click.Path(dir_okay=False),
    help="Apprise configuration file for tag:NAME targets (default: Apprise's usual places).",
)
@pass_app
def subscribe_add(
    app: App,
    name: str,
    targets: tuple[str, ...],
    remind: tuple[str, ...],
    digest: str | None,
    changes: bool,
    apprise_config: str | None,
    **filters: Any,
) -> None:
    """Save subscription NAME with the search filters and where to notify.

    What already matches is summed up in one first message (how many, and
    the next few); after that you hear of each new match, of changes to
    what you were told (moved, cancelled), and reminders. Targets are
    checked by Apprise now; an invalid one is refused. Run `techcal notify`
    (or `techcal run`) to deliver.

    \b
    Example:
        techcal subscribe add rust-berlin --topic rust --near Berlin \\
            --notify mailto://me:secret@example.org --remind 24h
        techcal subscribe add pdx --topic linux --near "Portland, OR" \\
            --notify ntfy://pdx-linux-events --digest weekly
    """
    from datetime import UTC, datetime

    from techcal.notifier.subscriptions import Subscription, add_subscription, parse_duration
    from techcal.store.query import build_query

    now = datetime.now(UTC)
    if filters.pop("include_cancelled", False):
        raise click.BadParameter(
            "subscriptions hear about cancellations anyway (see --changes)",
            param_hint="--include-cancelled",
        )
    days = filters.pop("days", None)
    conn = app.db.conn
    query = build_query(**filters, limit=None, now=now, topic_in_store=_topic_in_store(conn))
    if query.near is not None and query.near.population:
        click.echo(f"subscribing to events {query.near.note()}", err=True)
    sub = Subscription(
        name=name,
        targets=list(targets),
        text=query.text,
        topics=query.topics,
        kinds=query.kinds,
        near=query.near,
        within_km=query.within_km,
        start=query.start,
        end=query.end,
        days=days,
        online=query.online,
        remind=[parse_duration(r) for r in remind],
        digest=digest,
        changes=changes,
        apprise_config=apprise_config,
    )
    add_subscription(conn, sub, now=now)
    count = conn.execute(
        "SELECT json_extract(detail, '$.count') FROM outbox WHERE subscription_id = ?"
        " AND kind = 'summary'",
        (sub.id,),
    ).fetchone()
    click.echo(
        f"subscription {name!r} added: {sub.describe()}; {count[0] if count else 0} upcoming"
        " event(s) match now (one summary message is waiting: run `techcal notify`)"
    )


@subscribe.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_app
def subscribe_list(app: App, as_json: bool) -> None:
    """List subscriptions, their delivery state, and failing targets (secrets masked).

    \b
    Example:
        techcal subscribe list
        techcal subscribe list --json
    """
    from techcal.notifier.subscriptions import (
        duration_text,
        load_subscriptions,
        mask,
        subscription_state,
    )

    conn = app.db.conn
    rows = []
    for sub in load_subscriptions(conn):
        state = subscription_state(conn, sub)
        rows.append(
            {
                "name": sub.name,
                "filters": sub.describe(),
                "targets": [mask(t) for t in sub.targets],
                "remind": [duration_text(r) for r in sub.remind],
                "digest": sub.digest,
                "changes": sub.changes,
                "created_at": sub.created_at.isoformat() if sub.created_at else None,
                **state,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no subscriptions yet: techcal subscribe add NAME [filters] --notify URL")
        return
    for row in rows:
        extra = []
        if row["remind"]:
            extra.append("remind " + ", ".join(row["remind"]) + " before")
        if row["digest"]:
            extra.append(f"{row['digest']} digest")
        if not row["changes"]:
            extra.append("no change alerts")
        options = f" ({'; '.join(extra)})" if extra else ""
        click.echo(f"{row['name']}: {row['filters']}{options}")
        click.echo(f"  to: {', '.join(row['targets'])}")
        waiting = (
            f", {row['waiting_for_digest']} for the digest" if row["waiting_for_digest"] else ""
        )
        click.echo(f"  sent {row['sent']}, pending {row['pending']}{waiting}")
        for failing in row["failing"]:
            click.echo(
                f"  FAILING: {failing['target']}: {failing['error']}"
                f" ({failing['attempts']} attempts; retried with back-off)"
            )


@subscribe.command(name="remove")
@click.argument("name")
@pass_app
def subscribe_remove(app: App, name: str) -> None:
    """Delete subscription NAME and the messages it still had to send.

    \b
    Example:
        techcal subscribe remove rust-berlin
    """
    from techcal.notifier.subscriptions import remove_subscription

    dropped = remove_subscription(app.db.conn, name)
    note = f" ({dropped} undelivered message(s) dropped)" if dropped else ""
    click.echo(f"subscription {name!r} removed{note}")


@subscribe.command(name="test")
@click.argument("name")
@pass_app
def subscribe_test(app: App, name: str) -> None:
    """Send one test message to each target of NAME, now; exit 1 if any fails.

    \b
    Example:
        techcal subscribe test rust-berlin
    """
    from techcal.notifier.deliver import send_apprise
    from techcal.notifier.messages import render
    from techcal.notifier.subscriptions import get_subscription, mask

    sub = get_subscription(app.db.conn, name)
    message = render("test", sub, None, {})
    failed = 0
    for target in sub.targets:
        ok, error, _ = send_apprise(target, message, sub.apprise_config, set())
        click.echo(f"{mask(target)}: {'delivered' if ok else 'FAILED: ' + str(error)}")
        failed += not ok
    if failed:
        click.get_current_context().exit(1)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Show what would be sent; change and send nothing.")
@pass_app
def notify(app: App, dry_run: bool) -> None:
    """Match new and changed events to subscriptions, and deliver what is due.

    Each message goes to each target once: a message is marked sent only
    after Apprise reports success; failed ones are retried on later runs
    with back-off (1, 2, 4 ... minutes, at most 6 hours). Exit status 1
    when some delivery failed.

    \b
    Example:
        techcal notify --dry-run
        techcal notify
    """
    text, failed = notify_once(app.db.conn, dry_run=dry_run)
    click.echo(text)
    if failed:
        click.get_current_context().exit(1)


def notify_once(conn: sqlite3.Connection, *, dry_run: bool = False) -> tuple[str, int]:
    """Match and deliver once; return the summary and the failures (``notify`` and ``run``)."""
    from datetime import UTC, datetime

    from techcal.notifier.deliver import deliver, pending, prepare
    from techcal.notifier.match import match
    from techcal.notifier.subscriptions import mask
    from techcal.store.database import write_transaction

    now = datetime.now(UTC)
    if dry_run:
        conn.execute("BEGIN IMMEDIATE")
        try:
            report = match(conn, now=now)
            items = prepare(conn, pending(conn, now))
        finally:
            conn.execute("ROLLBACK")
        lines = []
        for item in items:
            lines.append(f"-> {item.subscription} via {mask(item.target)} [{item.kind}]")
            lines.append(f"   {item.message.title}")
            lines.extend("   " + line for line in item.message.body.splitlines())
        lines.append(
            f"dry run: {len(items)} message(s) would be sent"
            f" ({report.changes} changed event(s) looked at); nothing was changed"
        )
        return "\n".join(lines), 0
    with write_transaction(conn):
        report = match(conn, now=now)
    sent = deliver(conn, now=now)
    parts = [f"{sent.sent} message(s) delivered"]
    if report.held:
        parts.append(f"{report.held} kept for digests")
    if sent.failed:
        parts.append(f"{sent.failed} failed (retried later)")
    if sent.deferred:
        parts.append(f"{sent.deferred} waiting behind a failing target")
    lines = [", ".join(parts)]
    lines.extend(f"  {error}" for error in sent.errors)
    return "\n".join(lines), sent.failed


@cli.command()
@click.option(
    "--every",
    default="1h",
    show_default=True,
    metavar="DURATION",
    help="How often to crawl and notify (e.g. 30m, 1h, 6h).",
)
@pass_app
def run(app: App, every: str) -> None:
    """Crawl, then notify, on a schedule, until Ctrl-C or SIGTERM.

    Rounds never overlap: one that runs longer than --every is followed by
    the next at once. Stopping lets the current step finish.

    \b
    Example:
        techcal run --every 30m
    """
    from techcal.notifier.runner import Loop
    from techcal.notifier.subscriptions import parse_duration

    seconds = parse_duration(every, "--every")
    conn = app.db.conn

    def echo(line: str) -> None:
        click.echo(line, err=True)

    loop = Loop(app.db_path, seconds, echo=echo, notify=lambda: notify_once(conn)[0])
    rounds = loop.run()
    echo(f"stopped after {rounds} round(s)")


@cli.command()
@click.option(
    "--serve", "then_serve", is_flag=True, help="Then keep `techcal serve` running on the demo."
)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port for --serve.")  # fmt: skip
@click.pass_context
def demo(ctx: click.Context, then_serve: bool, port: int) -> None:
    """Run the whole flow offline on bundled snapshots, in under a minute.

    Serves the snapshots in data/demo (a LUG's site, Meetup-style and
    university calendars, a charity's events page, a community calendar
    that repeats some of them; dated from today) on a loopback port,
    registers them in a demo database (not yours: --db names another),
    crawls them with Scrapy, searches twice, writes a filtered .ics, and
    delivers an example subscription's notifications to a local endpoint,
    showing what arrived. --serve then keeps the web page and feeds running.

    \b
    Example:
        techcal demo
        techcal demo --serve --port 8080
    """
    from click.core import ParameterSource

    from techcal.demo import run_demo

    app = ctx.find_object(App)
    # only a --db on the command line names the demo's database; $TECHCAL_DB is
    # the user's own, which the demo never touches
    asked = ctx.find_root().get_parameter_source("db") == ParameterSource.COMMANDLINE
    db = app.db_path if (asked and app is not None) else None
    run_demo(db, echo=click.echo, serve=then_serve, port=port)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="techcal")


if __name__ == "__main__":
    main()
