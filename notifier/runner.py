"""``techcal notify`` and ``techcal run``: match and deliver once, or crawl and notify in a loop.

:func:`notify_once` is one round of matching and delivery (``--dry-run``:
in a transaction rolled back, nothing sent).

In the loop, each crawl runs as its own process (Scrapy's reactor cannot be restarted
in one process); matching and delivery run here. Rounds never overlap: a
round that takes longer than ``--every`` is followed by the next one at
once, and the skipped starts are not made up. Ctrl-C or SIGTERM stops the
loop cleanly: a running crawl is asked to stop (and given time to store
what it has), and no new round starts.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from techcal.notifier.deliver import deliver, pending, prepare
from techcal.notifier.match import match
from techcal.notifier.targets import mask
from techcal.store.database import write_transaction
from techcal.store.outbox import rolled_back


class Loop:
    """The crawl-and-notify loop, stoppable from a signal handler."""

    def __init__(
        self,
        db_path: Path,
        every: float,
        *,
        echo: Callable[[str], None],
        notify: Callable[[], str],
        crawl_command: list[str] | None = None,
    ) -> None:
        self.db_path = db_path
        self.every = every
        self.echo = echo
        self.notify = notify
        self.crawl_command = crawl_command or [
            sys.executable,
            "-m",
            "techcal.cli",
            "--db",
            str(db_path),
            "crawl",
        ]
        self.stop = threading.Event()
        self.child: subprocess.Popen[bytes] | None = None
        self.rounds = 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stop.is_set():
            return
        self.stop.set()
        self.echo(f"stopping ({signal.Signals(signum).name}): finishing the current step")
        child = self.child
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)

    def run(self, rounds: int | None = None) -> int:
        """Loop until stopped (or ``rounds`` rounds); return the number of rounds run."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            while not self.stop.is_set():
                started = time.monotonic()
                self._round()
                if self.stop.is_set():
                    break
                self.rounds += 1
                if rounds is not None and self.rounds >= rounds:
                    break
                wait = self.every - (time.monotonic() - started)
                if wait <= 0:
                    self.echo("the round took longer than --every: the next one starts now")
                    continue
                when = datetime.now(UTC).astimezone().strftime("%H:%M:%S")
                self.echo(f"next round in {wait:.0f} s (after {when} + wait); Ctrl-C to stop")
                self.stop.wait(wait)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.rounds

    def _round(self) -> None:
        self.echo(f"round {self.rounds + 1}: crawling")
        # its own session: a terminal's Ctrl-C reaches only this loop, which
        # asks the crawl to stop once (a second signal makes Scrapy quit unclean)
        self.child = subprocess.Popen(self.crawl_command, start_new_session=True)
        try:
            while True:
                try:
                    code = self.child.wait(timeout=0.5)
                    break
                except subprocess.TimeoutExpired:
                    continue
        finally:
            child, self.child = self.child, None
            if child.poll() is None:  # pragma: no cover - only when wait itself failed
                child.kill()
                child.wait()
        if code not in (0, 1):
            self.echo(f"the crawl ended with status {code}")
        if self.stop.is_set():
            return
        self.echo(f"round {self.rounds + 1}: notifying")
        self.echo(self.notify())


def run_every(
    conn: sqlite3.Connection,
    db_path: Path,
    seconds: float,
    echo: Callable[[str], None],
    *,
    redis_url: str | None = None,
) -> int:
    """Crawl and notify every ``seconds`` until stopped (``techcal run``); return the rounds.

    With ``redis_url``, each round's crawl is ``crawl --redis``: workers fetch.
    """
    command = [sys.executable, "-m", "techcal.cli", "--db", str(db_path), "crawl"]
    if redis_url is not None:
        # to each crawl through its environment, not its arguments (`ps` shows those)
        os.environ["TECHCAL_REDIS_URL"] = redis_url
    loop = Loop(
        db_path, seconds, echo=echo, notify=lambda: notify_once(conn)[0], crawl_command=command
    )
    return loop.run()


def notify_once(conn: sqlite3.Connection, *, dry_run: bool = False) -> tuple[str, int]:
    """Match and deliver once; return the summary and the failures (``notify`` and ``run``)."""
    now = datetime.now(UTC)
    if dry_run:
        return _dry_run(conn, now), 0
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


def _dry_run(conn: sqlite3.Connection, now: datetime) -> str:
    """Return what a run would send, matching and preparing in a transaction rolled back."""
    with rolled_back(conn):
        report = match(conn, now=now)
        items = prepare(conn, pending(conn, now))
    lines = []
    for item in items:
        lines.append(f"-> {item.subscription} via {mask(item.target)} [{item.kind}]")
        lines.append(f"   {item.message.title}")
        lines.extend("   " + line for line in item.message.body.splitlines())
    lines.append(
        f"dry run: {len(items)} message(s) would be sent"
        f" ({report.changes} changed event(s) looked at); nothing was changed"
    )
    return "\n".join(lines)
