"""``techcal subscribe``, ``notify`` and ``run``: saved searches and their messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from techcal.commands.common import App, pass_app, search_filters, topic_in_store

#: why `subscribe add` refuses --include-cancelled
CANCELLED_ANYWAY = "subscriptions hear about cancellations anyway (see --changes)"


@click.group()
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
    "config",
    type=click.Path(dir_okay=False),
    help="Apprise configuration file for tag:NAME targets (default: Apprise's usual places).",
)
@click.option(
    "--health",
    is_flag=True,
    help="Be told when a series in scope goes quiet (its next meeting not listed), not of events.",
)
@click.option(
    "--source",
    "watch",
    multiple=True,
    metavar="NAME",
    help="With --health: watch this source's series (repeatable; default: any source).",
)
@pass_app
def subscribe_add(
    app: App,
    name: str,
    targets: tuple[str, ...],
    remind: tuple[str, ...],
    digest: str | None,
    changes: bool,
    config: str | None,
    health: bool,
    watch: tuple[str, ...],
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
        techcal subscribe add plug-watch --health --source plug --notify ntfy://plug-admins
    """
    from techcal.notifier.manage import subscribe
    from techcal.notifier.subscriptions import Subscription
    from techcal.store.query import build_query

    now = datetime.now(UTC)
    if filters.pop("include_cancelled", False):
        raise click.BadParameter(CANCELLED_ANYWAY, param_hint="--include-cancelled")
    days = filters.pop("days", None)
    conn = app.db.conn
    query = build_query(**filters, limit=None, now=now, topic_in_store=topic_in_store(conn))
    if query.near is not None and query.near.population:
        click.echo(f"subscribing to events {query.near.note()}", err=True)
    sub = Subscription(
        name, targets, query, days=days, digest=digest, changes=changes, apprise_config=config,
        health=health, sources=watch,
    )  # fmt: skip
    click.echo(subscribe(conn, sub, remind, now=now))


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
    from techcal.notifier.manage import listing, listing_text

    rows = listing(app.db.conn)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        click.echo(listing_text(rows))


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
    from techcal.notifier.manage import send_test

    if send_test(app.db.conn, name, echo=click.echo):
        click.get_current_context().exit(1)


@click.command()
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
    from techcal.notifier.runner import notify_once

    text, failed = notify_once(app.db.conn, dry_run=dry_run)
    click.echo(text)
    if failed:
        click.get_current_context().exit(1)


@click.command()
@click.option(
    "--every",
    default="1h",
    show_default=True,
    metavar="DURATION",
    help="How often to crawl and notify (e.g. 30m, 1h, 6h).",
)
@click.option(
    "--redis",
    "redis_url",
    metavar="URL",
    help="Crawl through `techcal worker`s on this Redis (see `crawl --redis`).",
)
@pass_app
def run(app: App, every: str, redis_url: str | None) -> None:
    """Crawl, then notify, on a schedule, until Ctrl-C or SIGTERM.

    Rounds never overlap: one that runs longer than --every is followed by
    the next at once. Stopping lets the current step finish.

    \b
    Example:
        techcal run --every 30m
        techcal run --every 1h --redis redis://127.0.0.1:6379/0
    """
    from techcal.notifier.runner import run_every
    from techcal.notifier.subscriptions import parse_duration

    seconds = parse_duration(every, "--every")

    def echo(line: str) -> None:
        click.echo(line, err=True)

    rounds = run_every(app.db.conn, app.db_path, seconds, echo, redis_url=redis_url)
    echo(f"stopped after {rounds} round(s)")
