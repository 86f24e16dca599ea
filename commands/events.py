"""``techcal search``, ``show``, ``events split|merge`` and ``topics``: reading the store."""

from __future__ import annotations

from typing import Any

import click

from techcal.commands.common import (
    App,
    pass_app,
    search_filters,
    tidy,
    topic_in_store,
)


@click.command()
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

    from techcal.store.query import build_query
    from techcal.store.search import search as run_search
    from techcal.writers.text import results, terminal_width

    now = datetime.now(UTC)
    conn = app.reader
    query = build_query(**filters, limit=limit, tz=tz, now=now, topic_in_store=topic_in_store(conn))
    if query.near is not None and query.near.population:
        click.echo(f"searching {query.near.note()}", err=True)
    events = run_search(conn, query, now=now)
    if fmt == "table" and not events:
        click.echo("no events match", err=True)
        return
    click.echo(results(events, fmt, query, now=now, width=terminal_width()), nl=False)


@click.command()
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
    from techcal.store.stored import get_event
    from techcal.writers.text import show_text

    shown_tz = zone(tz) if tz else None  # a bad zone is told before a missing event
    event = get_event(app.reader, event_id)
    if event is None:
        raise click.ClickException(f"no event {event_id!r} (ids are in `techcal search` output)")
    click.echo(show_text(event, shown_tz, as_json=as_json, now=datetime.now(UTC)))


@click.group()
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
    tidy(app)


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
    tidy(app)


@click.command()
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
    from techcal.normalise.topics import taxonomy
    from techcal.store.normalise import renormalise
    from techcal.store.upcoming import tags_stale, topic_table
    from techcal.writers.text import topics_text

    known = taxonomy()
    if retag:
        changed = renormalise(app.db.conn, topics=known)
        click.echo(f"re-tagged: {changed} event(s) changed", err=True)
        tidy(app)
    conn = app.reader
    click.echo(topics_text(topic_table(conn, known), as_json=as_json), nl=False)
    if tags_stale(conn, known):
        click.echo(
            "the taxonomy changed since events were tagged: run `techcal topics --retag`"
            " (or the next crawl will)",
            err=True,
        )
