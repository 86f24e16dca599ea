"""The bundled demo sources (``data/demo/``), dated from today and served on loopback.

The files are snapshots shaped like real sources, with their dates written
as tokens, so the demo never goes stale:

``{{FORMAT DAY [HH:MM] [ZONE]}}``, e.g. ``{{ics +3 18:30}}``,
``{{iso +10 19:00 ber}}``, ``{{rfc822 -1 09:00 pdx}}``, ``{{text +3}}``,
``{{ics 3TH+1 19:00}}``, ``{{iso -1WE-2 18:30 ber}}``.

DAY is either

- a count of days from today (the day the demo runs, in UTC): ``+3``,
  ``-10``, ``0``; weekly and fortnightly rhythms are written this way
  (``-10``, ``-17``, ``-24``: the same weekday, a week apart);
- or the Nth weekday of a month counted from today's: ``NWD±M``, N ``1`` to
  ``4`` or ``-1`` (the last), WD one of ``MO TU WE TH FR SA SU``, M the
  months after (``+``) or before (``-``) this one: ``3TH+1`` is the 3rd
  Thursday of next month, ``3TH+0`` this month's (past or not, whatever
  today is), ``-1WE-2`` the last Wednesday two months ago. A group meeting
  "every 3rd Thursday" is written this way, since no count of days stays
  on the 3rd Thursday whatever today is.

ZONE is ``pdx`` (America/Los_Angeles, the default), ``sea``
(America/Los_Angeles), ``ber`` (Europe/Berlin) or ``utc``; the time is the
wall time there on that day. FORMATs:

- ``ics``: ``20261205T183000`` (local time, for a property with TZID)
- ``icsdate``: ``20261205`` (an all-day DATE value)
- ``icsutc``: ``20261206T023000Z`` (the moment in UTC)
- ``iso``: ``2026-12-05T18:30:00-08:00``
- ``date``: ``2026-12-05``
- ``rfc822``: ``Sat, 05 Dec 2026 18:30:00 -0800`` (RSS)
- ``text``: ``Saturday, December 5, 2026``
- ``time``: ``6:30 pm``
"""

from __future__ import annotations

import calendar
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ZONES = {
    "pdx": "America/Los_Angeles",
    "sea": "America/Los_Angeles",
    "ber": "Europe/Berlin",
    "utc": "UTC",
}
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_NTH_DAY = r"(?:-1|[1-4])(?:MO|TU|WE|TH|FR|SA|SU)[+-]\d+"
_TOKEN = re.compile(rf"\{{\{{(\w+) ({_NTH_DAY}|[+-]?\d+)(?: (\d\d?:\d\d))?(?: (\w+))?\}}\}}")
_NTH = re.compile(r"(-1|[1-4])(MO|TU|WE|TH|FR|SA|SU)([+-]\d+)")
_TYPES = {
    ".ics": "text/calendar; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".xml": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}


def demo_root() -> Path:
    """Return the folder of the bundled demo snapshots."""
    return Path(str(files("techcal") / "data" / "demo"))


def day_of(spec: str, today: date) -> date:
    """Return the date a token's DAY names for ``today`` (see the module's docstring).

    >>> str(day_of("+3", date(2026, 12, 30))), str(day_of("3TH+1", date(2026, 12, 31)))
    ('2027-01-02', '2027-01-21')
    >>> str(day_of("-1WE-2", date(2028, 4, 10)))
    '2028-02-23'
    """
    nth = _NTH.fullmatch(spec)
    if nth is None:
        return today + timedelta(days=int(spec))
    count, weekday, months = int(nth.group(1)), _WEEKDAYS.index(nth.group(2)), int(nth.group(3))
    year, month = divmod(today.year * 12 + today.month - 1 + months, 12)
    month += 1
    first_weekday, length = calendar.monthrange(year, month)
    first = 1 + (weekday - first_weekday) % 7
    if count == -1:
        return date(year, month, first + 7 * ((length - first) // 7))
    return date(year, month, first + 7 * (count - 1))


def render(text: str, today: date) -> str:
    """Return ``text`` with every date token written out for ``today``."""

    def one(match: re.Match[str]) -> str:
        fmt, days, clock, zone_key = match.groups()
        zone = ZoneInfo(ZONES[zone_key or "pdx"])
        hours, minutes = (int(x) for x in (clock or "00:00").split(":"))
        day = day_of(days, today)
        moment = datetime.combine(day, time(hours, minutes), tzinfo=zone)
        if fmt == "ics":
            return moment.strftime("%Y%m%dT%H%M%S")
        if fmt == "icsdate":
            return day.strftime("%Y%m%d")
        if fmt == "icsutc":
            return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        if fmt == "iso":
            return moment.isoformat()
        if fmt == "date":
            return day.isoformat()
        if fmt == "rfc822":
            return format_datetime(moment)
        if fmt == "text":
            return f"{moment:%A, %B} {day.day}, {day.year}"
        if fmt == "time":
            hour = moment.hour % 12 or 12
            return f"{hour}:{moment:%M} {'am' if moment.hour < 12 else 'pm'}"
        raise ValueError(f"unknown date format {fmt!r} in {match.group(0)}")

    return _TOKEN.sub(one, text)


class _Handler(BaseHTTPRequestHandler):
    server: DemoServer

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        path = self.path.split("?", 1)[0]
        target = (self.server.root / path.lstrip("/")).resolve()
        if target.is_dir():
            target = target / "index.html"
        if self.server.root not in target.parents or not target.is_file():
            self.send_error(404)
            return
        self.server.hits += 1
        # bytes decoded as they are: .ics files keep their CRLF line ends
        body = render(target.read_bytes().decode("utf-8"), self.server.today).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", _TYPES.get(target.suffix, "application/octet-stream"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class DemoServer(ThreadingHTTPServer):
    """A loopback HTTP server for the demo snapshots."""

    daemon_threads = True

    def __init__(self, root: Path | None = None, today: date | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = (root or demo_root()).resolve()
        self.today = today or datetime.now(UTC).date()
        self.hits = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{path.lstrip('/')}"


@contextmanager
def serving(root: Path | None = None, today: date | None = None) -> Iterator[DemoServer]:
    """Serve the demo snapshots on a free loopback port while the block runs."""
    server = DemoServer(root, today)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
