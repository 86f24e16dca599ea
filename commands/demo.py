"""``techcal demo``: the whole flow, offline."""

from __future__ import annotations

import click

from techcal.commands.common import App


@click.command()
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

    from techcal.demo.run import run_demo

    app = ctx.find_object(App)
    # only a --db on the command line names the demo's database; $TECHCAL_DB is
    # the user's own, which the demo never touches
    asked = ctx.find_root().get_parameter_source("db") == ParameterSource.COMMANDLINE
    db = app.db_path if (asked and app is not None) else None
    run_demo(db, echo=click.echo, serve=then_serve, port=port)
