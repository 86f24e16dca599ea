"""``techcal sources``: register, list, remove, import and export sources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from techcal.commands.common import App, pass_app
from techcal.event import KINDS, SOURCE_TYPES


@click.group()
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
    help="How to read it (auto: a homepage is replaced by the best feed it offers).",
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

    With --type auto, a web page is fetched first and the best feed it
    offers that lists events is registered instead (as `sources discover`
    finds them); the page itself when none does. --type html keeps the
    page; a URL that plainly names a feed (.ics, webcal:, /feed/) is added
    as it is.

    \b
    Example:
        techcal sources add https://pdxpython.org/ --kind user-group --city "Portland, OR"
        techcal sources add https://www.meetup.com/pdxpython/events/ical/ \\
            --name pdxpython --kind user-group --city "Portland, OR" --topic python
    """
    from techcal.crawler.discover import discover_for
    from techcal.store import Source, add_source
    from techcal.store.sources import check_source
    from techcal.writers.text import visible

    source = Source(name=name, url=url, kind=kind, type=source_type, city=city, topics=topics)
    # everything the user typed is checked before anything is fetched
    check_source(source)
    homepage, notes = discover_for(source)
    added = add_source(app.db, source, named_after=homepage)
    click.echo(f"added {added.name}: {visible(added.url)}")
    for note in notes:
        click.echo(f"  {visible(note)}")


@sources.command(name="discover")
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=30,
    show_default=True,
    help="Seconds to wait for each answer.",
)
def sources_discover(url: str, as_json: bool, timeout: float) -> None:
    """List what the page at URL offers to subscribe to, best first, and what each holds.

    Finds the page's own feeds (<link rel=alternate>, webcal: and .ics
    links, "subscribe" links), the public feeds of calendars it embeds
    (Google Calendar, Outlook, Teamup), a Meetup group's or Luma
    calendar's feed, and the events marked up on the page; reads each once
    and counts its upcoming events. Nothing is stored. Exit status 1 when
    the page cannot be read.

    \b
    Example:
        techcal sources discover https://pdxpython.org/
    """
    from techcal.crawler.discover import run_discover
    from techcal.feeds.base import SourceDefaults
    from techcal.store.sources import normalise_url
    from techcal.writers.sources import discovery_json, discovery_text

    url = normalise_url(url)
    found = run_discover(url, SourceDefaults(source="discover"), timeout=timeout)
    click.echo(discovery_json(found) if as_json else discovery_text(found))
    if found.error is not None:
        raise SystemExit(1)


@sources.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_app
def sources_list(app: App, as_json: bool) -> None:
    """List the sources with their crawl state.

    \b
    Example:
        techcal sources list --json
    """
    from techcal.store import list_sources
    from techcal.writers.sources import sources_json, sources_text

    found = list_sources(app.db)
    click.echo(sources_json(found) if as_json else sources_text(found))


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
    from techcal.store import add_sources
    from techcal.store.source_files import read_sources

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
    from techcal.store import list_sources
    from techcal.store.source_files import sources_to_opml, sources_to_toml

    found = list_sources(app.db)
    output.write(sources_to_toml(found) if fmt == "toml" else sources_to_opml(found))


@sources.command(name="health")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array (for scripts).")
@pass_app
def sources_health(app: App, as_json: bool) -> None:
    """Say which sources are failing, stale or empty, and which series went quiet.

    One line per source: its state, last success, last new event, upcoming
    events, its series and their states, and what to do. Exits with status
    1 when something needs attention (for cron and monitoring).

    \b
    Example:
        techcal sources health
        techcal sources health --json | jq '.[] | select(.attention)'
    """
    from datetime import UTC, datetime

    from techcal.store.health import health_report
    from techcal.writers.series import health_text

    now = datetime.now(UTC)
    report = health_report(app.db.conn, now=now)
    click.echo(health_text(report, now, as_json=as_json))
    if any(s.attention for s in report):
        raise SystemExit(1)
