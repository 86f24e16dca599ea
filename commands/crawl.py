"""``techcal import`` and ``techcal crawl``: events into the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from techcal.commands.common import App, pass_app, tidy
from techcal.crawler.settings import (
    DOWNLOAD_TIMEOUT,
    MAX_BYTES,
    MAX_DEPTH,
    MAX_PAGES,
    PER_HOST,
    REVISIT_HOURS,
)


@click.command(name="import")
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
    from techcal.crawler.report import echo_imported
    from techcal.store.ingest import import_files

    for done in import_files(app.db, list(files), source_name=source_name):
        echo_imported(done, click.echo)
    tidy(app)


@click.command()
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
@click.option(
    "--redis",
    "redis_url",
    metavar="URL",
    envvar="TECHCAL_REDIS_URL",
    help="Hand the sources to `techcal worker`s through this Redis (redis://host:6379/0)"
    " and store what they send back.",
)
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log on standard error.")
@pass_app
def crawl(
    app: App,
    names: tuple[str, ...],
    as_json: bool,
    max_mb: float,
    **options: Any,
) -> None:
    """Fetch every source that is due and store what it lists.

    One polite Scrapy crawl: robots.txt is obeyed, each host gets a few
    requests at a time, calendars and feeds are fetched conditionally, and
    sources that keep failing are tried less often (see `sources list`).
    Exits with status 1 when no source could be fetched.

    With --redis, this machine only plans and stores: workers on any
    machine (`techcal worker --redis URL`) fetch, with the same limits, and
    the crawl ends when every source is back.

    \b
    Example:
        techcal crawl
        techcal crawl --source calagator --json
        techcal crawl --redis redis://127.0.0.1:6379/0
    """
    from techcal.crawler.report import crawl_progress, echo_crawl_report
    from techcal.crawler.run import plan_crawl, run_crawl
    from techcal.crawler.settings import CrawlOptions
    from techcal.store import list_sources

    if not names and not list_sources(app.db):
        raise click.UsageError("no sources yet: add some with `techcal sources add URL`")
    # the other options are named as CrawlOptions' fields
    crawl_options = CrawlOptions(max_bytes=int(max_mb * 2**20), **options)
    plans, waiting = plan_crawl(app.db, names, revisit_hours=crawl_options.revisit_hours)
    with crawl_progress(len(plans), quiet=crawl_options.verbose, echo=click.echo) as on_report:
        report = run_crawl(app.db_path, plans, options=crawl_options, on_report=on_report)
    report.not_due = waiting
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        echo_crawl_report(report, click.echo)
    tidy(app)
    if plans and report.fetched == 0:
        click.get_current_context().exit(1)


@click.command()
@click.option(
    "--redis",
    "redis_url",
    metavar="URL",
    required=True,
    envvar="TECHCAL_REDIS_URL",
    help="The Redis a `techcal crawl --redis` queues sources in (redis://host:6379/0;"
    " or TECHCAL_REDIS_URL, which keeps a password out of `ps`).",
)
@click.option(
    "--sources-at-once",
    type=click.IntRange(min=1, max=256),
    default=16,
    show_default=True,
    help="Sources this worker holds at once.",
)
@click.option(
    "--readers",
    type=click.IntRange(min=1, max=16),
    default=1,
    show_default=True,
    help="Processes reading what it fetches (1: its own).",
)
@click.option(
    "--allow-private",
    is_flag=True,
    help="Fetch queued sources on private and loopback addresses too (a lab, a test).",
)
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log on standard error.")
def worker(
    redis_url: str, sources_at_once: int, readers: int, allow_private: bool, verbose: bool
) -> None:
    """Crawl sources queued in Redis by `techcal crawl --redis`, on any machine.

    Needs no database: it takes whole sources from Redis, fetches and reads
    them as `techcal crawl` does (same limits and politeness; --per-host is
    shared by all workers), and sends each result back. Runs until Ctrl-C
    or SIGTERM, finishing the sources it holds; idle, it waits.

    \b
    Example:
        techcal worker --redis redis://10.0.0.5:6379/0
    """
    from techcal.crawler.worker import run_worker
    from techcal.errors import TechcalError

    try:
        done, failure = run_worker(
            redis_url, capacity=sources_at_once, readers=readers, verbose=verbose, echo=_err,
            allow_private=allow_private,
        )  # fmt: skip
    except TechcalError:
        raise
    except Exception as exc:  # redis-py's connection errors: one line, no trace
        from techcal.crawler.frontier import redacted

        raise TechcalError(f"--redis {redacted(redis_url)}: {exc}") from None
    if failure is not None:
        raise TechcalError(f"worker stopped after {done} source(s): {failure}")
    _err(f"worker stopped after {done} source(s)")


def _err(line: str) -> None:
    click.echo(line, err=True)
