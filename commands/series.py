"""``techcal series``: each group's rhythm, its last and next meeting, and its state."""

from __future__ import annotations

import click

from techcal.commands.common import App, pass_app


@click.command()
@click.option("--source", help="Only the series this source lists.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array (for scripts).")
@pass_app
def series(app: App, source: str | None, as_json: bool) -> None:
    """List each group's series: its rule, last occurrence, next expected date and state.

    States: active; cancelled (its next meeting is cancelled); quiet (its
    next meeting is due within 7 days and not listed, or one was missed);
    over (three passed with nothing listed).

    \b
    Example:
        techcal series
        techcal series --source plug --json
    """
    from datetime import UTC, datetime

    from techcal.store.health import series_report
    from techcal.writers.series import series_text

    now = datetime.now(UTC)
    found = series_report(app.db.conn, now=now, source=source)
    click.echo(series_text(found, now.date(), as_json=as_json))
