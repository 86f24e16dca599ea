"""``techcal demo``: the whole flow, offline, on the bundled snapshots.

1. serve ``data/demo/`` on a loopback port (dated from today);
2. register its sources in a demo database (never the user's own, unless
   ``--db`` names one) and subscribe an example to a local endpoint;
3. crawl them for real (Scrapy, as ``techcal crawl`` does), search twice,
   list each group's series (``techcal series``) and the sources' health
   (``techcal sources health``: one group has gone quiet), write a filtered
   ``.ics``, notify, and show what the endpoint received;
4. with ``--serve``, keep ``techcal serve`` running on the demo database.

Each step runs the real command, so what it prints is what a user gets.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from techcal.demo.site import demo_root, serving
from techcal.errors import DemoError
from techcal.store.meta import read_meta_file, write_meta

#: the example subscription
SUBSCRIPTION = (
    "portland-linux",
    ["--topic", "linux", "--near", "Portland, OR", "--within", "30km"],
)


@dataclass
class Inbox:
    """What the demo's notification endpoint received."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _InboxHandler(BaseHTTPRequestHandler):
    server: _InboxServer

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        length = int(self.headers.get("Content-Length") or 0)
        try:
            message = json.loads(self.rfile.read(length))
        except ValueError:
            message = {"title": "(not JSON)", "message": ""}
        with self.server.inbox.lock:
            self.server.inbox.messages.append(message)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class _InboxServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _InboxHandler)
        self.inbox = Inbox()


@contextmanager
def inbox() -> Iterator[tuple[str, Inbox]]:
    """Run a local endpoint for Apprise's json:// posts; yield its URL and what it got."""
    server = _InboxServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"json://127.0.0.1:{server.server_address[1]}/demo", server.inbox
    finally:
        server.shutdown()
        server.server_close()


def default_folder() -> Path:
    """Return where the demo keeps its database and files (not the user's database)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("techcal", appauthor=False)) / "demo"


def demo_sources(base: Callable[[str], str]) -> list[dict[str, Any]]:
    """Return the demo's sources, their paths made URLs of the demo server."""
    data = tomllib.loads((demo_root() / "sources.toml").read_text(encoding="utf-8"))
    sources = []
    for item in data.get("source", []):
        item = dict(item)
        item["url"] = base(item["url"])
        sources.append(item)
    return sources


class Demo:
    """Runs the demo's steps as real commands, printing them as a user would type them."""

    def __init__(self, db: Path, echo: Callable[[str], None]) -> None:
        self.db = db
        self.echo = echo

    def child_env(self) -> dict[str, str]:
        """Return the children's environment: tables fit this terminal when there is one."""
        env = os.environ.copy()
        if sys.stdout.isatty() and "TECHCAL_COLUMNS" not in env:
            env["TECHCAL_COLUMNS"] = str(shutil.get_terminal_size((100, 24)).columns)
        return env

    def techcal(self, *args: str, show: bool = True, check: bool = True) -> str:
        """Run ``techcal --db DB ARGS`` in a child process; print and return its output."""
        if show:
            self.echo("")
            self.echo("$ techcal " + " ".join(shlex.quote(a) for a in args))
        try:
            done = subprocess.run(
                [*_python(), "--db", str(self.db), *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,  # in the order a terminal shows them
                text=True,
                env=self.child_env(),
                timeout=300,
            )
        except subprocess.TimeoutExpired:
            raise DemoError(f"`techcal {' '.join(args[:2])}` took over 5 minutes") from None
        output = done.stdout.rstrip()
        if show and output:
            self.echo(output)
        if check and done.returncode != 0:
            last = (output.splitlines() or ["no message"])[-1]
            raise DemoError(
                f"`techcal {' '.join(args[:2])}` failed (exit {done.returncode}): {last}"
            )
        return output


def _python() -> list[str]:
    """Return the command that runs techcal's CLI with this Python.

    ``-P``: a ``techcal`` folder in the current directory (a checkout) must
    not stand in for the installed package.
    """
    return [sys.executable, "-P", "-m", "techcal.cli"]


_DEMO_MARK = "demo"


def _prepare(db: Path) -> None:
    """Start the demo database afresh; refuse a file that is not a demo database."""
    if db.exists() and db.stat().st_size and read_meta_file(db, _DEMO_MARK) is None:
        raise DemoError(
            f"{db} is not a demo database: the demo starts afresh and would replace it;"
            " give a new path with --db, or leave --db out"
        )
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    from techcal.store import open_store

    store = open_store(db)
    write_meta(store.conn, _DEMO_MARK, "1")
    store.conn.commit()
    store.conn.close()


def port_free(port: int) -> bool:
    """Say whether 127.0.0.1:port can be listened on (0: any port, always)."""
    import socket

    if port == 0:
        return True
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def run_demo(
    db: Path | None,
    *,
    echo: Callable[[str], None],
    serve: bool = False,
    port: int = 8080,
) -> Path:
    """Run the demo; return the database it used."""
    started = time.monotonic()
    if serve and not port_free(port):
        raise DemoError(
            f"--serve: port {port} is in use on 127.0.0.1; choose another with --port (0: any)"
        )
    chosen = db is not None
    folder = db.parent if db is not None else default_folder()
    folder.mkdir(parents=True, exist_ok=True)
    db = db if db is not None else folder / "demo.db"
    _prepare(db)
    demo = Demo(db, echo)
    echo(f"techcal demo: database {db}")
    ics = folder / "portland-linux.ics"
    with serving() as site, inbox() as (endpoint, received):
        echo(f"serving the demo snapshots (dated from today) at {site.url('/')}")
        sources = demo_sources(site.url)
        for source in sources:
            demo.techcal(*_add_args(source), show=False)
        echo(f"registered {len(sources)} demo sources (techcal sources list shows them)")
        name, filters = SUBSCRIPTION
        demo.techcal("subscribe", "add", name, *filters, "--notify", endpoint, "--remind", "24h")
        try:
            _steps(demo, ics, endpoint, received)
        finally:
            # its endpoint ends with the demo
            demo.techcal("subscribe", "remove", name, show=False, check=False)
    echo("")
    echo(f"done in {time.monotonic() - started:.0f} s. Try next (the demo database stays):")
    for line in _next_steps(db, ics, chosen=chosen):
        echo(f"  {line}")
    echo("(the demo's sources lived on a loopback server that has stopped: their links are dead)")
    if serve:
        echo("")
        status = demo_serve(db, port, echo)
        if status not in (0, -15):
            raise DemoError(f"techcal serve ended with status {status}")
    return db


def _add_args(source: dict[str, Any]) -> list[str]:
    """Return the ``techcal sources add`` arguments of a demo source."""
    args = ["sources", "add", source["url"], "--name", source["name"]]
    args += ["--kind", source.get("kind", "other")]
    if source.get("type"):
        args += ["--type", source["type"]]
    if source.get("city"):
        args += ["--city", source["city"]]
    for topic in source.get("topics", []):
        args += ["--topic", topic]
    return args


def _steps(demo: Demo, ics: Path, endpoint: str, received: Inbox) -> None:
    """Crawl, search, list the series and the sources' health, write a feed, notify.

    Then show what the endpoint received.
    """
    demo.techcal("crawl", check=False)  # a demo database holds only the demo's sources
    demo.techcal("search", "--topic", "python", "--limit", "8")
    demo.techcal("search", "--near", "Seattle, WA", "--within", "25km", "--limit", "8")
    # each group's rhythm, found in what its source lists (past meetings too)
    demo.techcal("series")
    # exits 1 when something needs attention: in the demo, a group gone quiet
    demo.techcal("sources", "health", check=False)
    demo.techcal("feed", "--topic", "linux", "--near", "Portland, OR", "-o", str(ics))
    demo.techcal("notify")
    demo.echo("")
    with received.lock:
        messages = list(received.messages)
    demo.echo(f"the local endpoint ({endpoint}) received {len(messages)} message(s):")
    for message in messages:
        demo.echo(f"  * {message.get('title', '')}")
        for line in str(message.get("message", "")).splitlines():
            demo.echo(f"      {line}")


def _next_steps(db: Path, ics: Path, *, chosen: bool) -> list[str]:
    """Return the commands to try after the demo."""
    quoted = shlex.quote(str(db))
    again = "techcal demo --serve" if not chosen else f"techcal --db {quoted} demo --serve"
    return [
        f"techcal --db {quoted} search rust",
        f"techcal --db {quoted} search --near Berlin --format json",
        f"techcal --db {quoted} show 1",
        f"techcal --db {quoted} topics",
        f"techcal --db {quoted} series --json       # each group's rhythm, for scripts",
        f"techcal --db {quoted} sources health      # which sources need a look, and why",
        f"techcal --db {quoted} serve          # the web page and feeds",
        f"{again}                  # this demo, then the server",
        f"open {shlex.quote(str(ics))} in your calendar app",
        "techcal sources import data/sources.toml && techcal crawl   # real sources, your database",
    ]


def demo_serve(db: Path, port: int, echo: Callable[[str], None]) -> int:
    """Run ``techcal serve`` on the demo database until Ctrl-C or SIGTERM; return its status."""
    import signal

    echo(f"$ techcal --db {shlex.quote(str(db))} serve --port {port}")
    process = subprocess.Popen(
        [*_python(), "--db", str(db), "serve", "--port", str(port)], env=os.environ.copy()
    )

    def stop(signum: int, frame: Any) -> None:
        process.terminate()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        if process.poll() is None:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
