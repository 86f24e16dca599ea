"""``techcal subscribe``, ``notify`` and ``run``: saved searches and their messages."""

from __future__ import annotations

import json
from typing import Any

import click

from techcal.commands.common import (
    App,
    pass_app,
    search_filters,
    topic_in_store,
)
from techcal.notifier.runner import notify_once


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
    query = build_query(**filters, limit=None, now=now, topic_in_store=topic_in_store(conn))
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
