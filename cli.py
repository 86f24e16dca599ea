"""The ``techcal`` command line: the root group, and the commands of ``techcal.commands``.

Only what every command needs is imported here: `techcal search` must start
in well under 0.15 s, so Scrapy, Apprise, sqlite-utils, the readers and the
web server are imported inside the commands that use them
(tests/test_search_cli.py checks).
"""

from __future__ import annotations

import click

from techcal import __version__
from techcal.commands import crawl, demo, events, notify, publish, series, sources
from techcal.commands.common import App, TechcalGroup


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


for command in (
    sources.sources,
    series.series,
    crawl.import_,
    crawl.crawl,
    crawl.worker,
    events.search,
    events.show,
    events.events,
    events.topics,
    publish.feed,
    publish.serve,
    publish.publish,
    notify.subscribe,
    notify.notify,
    notify.run,
    demo.demo,
):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="techcal")


if __name__ == "__main__":
    main()
