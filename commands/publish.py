"""``techcal feed``, ``serve`` and ``publish``: the store as calendar feeds and a web page."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from techcal.commands.common import (
    App,
    check_base_url,
    pass_app,
    search_filters,
    topic_in_store,
)


@click.command()
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
    from techcal.store.query import build_query

    now = datetime.now(UTC)
    filters.pop("include_cancelled", None)  # feeds always carry cancellations
    conn = app.db.conn
    query = build_query(**filters, limit=None, now=now, topic_in_store=topic_in_store(conn))
    if query.near is not None and query.near.population:
        click.echo(f"feed of events {query.near.note()}", err=True)
    rendered = ics_feed(conn, query, now=now)
    changed = _write(output, rendered.body)
    if changed is not None:
        state = "" if changed else " (unchanged)"
        click.echo(f"{output}: {rendered.count} event(s){state}", err=True)


def _write(output: Path, data: bytes) -> bool | None:
    """Write ``data`` to ``output`` unless it holds it already; None: it went to standard output."""
    from techcal.publish.site import write_if_changed

    if str(output) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return None
    try:
        return write_if_changed(output, data)
    except OSError as exc:
        raise click.FileError(str(output), exc.strerror or str(exc)) from None


@click.command()
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
    from techcal.publish.server import bind, run_server, serving_note

    check_base_url(base_url)
    app.reader.close()  # fails now, not at the first request, when there is no database
    sock = bind(host, port)
    click.echo(serving_note(app.db_path, host, sock, base_url), err=True)
    run_server(app.db_path, sock, base_url=base_url)


@click.command()
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

    from techcal.notifier.subscriptions import load_subscriptions
    from techcal.publish.site import publish_site
    from techcal.store.stored import snapshot

    check_base_url(base_url)
    now = datetime.now(UTC)
    with snapshot(app.db_path) as conn:  # one read transaction: the store at one moment
        # one feed per saved subscription too: its filters, not its targets
        extra = {sub.name: sub.query(now) for sub in load_subscriptions(conn)}
        try:
            report = publish_site(conn, directory, base_url, now=now, extra=extra)
        except OSError as exc:
            raise click.FileError(
                str(exc.filename or directory), exc.strerror or str(exc)
            ) from None
    click.echo(f"{directory}: {report.summary()}", err=True)
    if report.note:
        click.echo(f"{directory}: {report.note}", err=True)
