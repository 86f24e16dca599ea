"""``techcal publish``: the feeds as a static site for any static host.

Google Calendar and Outlook fetch subscribed feeds from their own servers,
so a feed on 127.0.0.1 only serves desktop clients. This writes, under one
folder: ``index.html`` (the page, with subscribe links under the base URL),
``all.ics`` / ``all.atom`` / ``all.json``, and ``topics/SLUG.ics|.atom`` and
``kinds/KIND.ics|.atom`` for each topic and kind with upcoming events, and
``subscriptions/NAME.ics|.atom`` for each saved subscription (its filters
only: its targets are never written).

A file whose bytes would not change is not touched (same bytes, same
modification time), so rsync, ``aws s3 sync`` or a Git commit upload only
what changed. A topic's feed stays (empty) once its events are past: people
subscribed to it should get an empty calendar, not a 404.

The site is whole or not at all: it is written into a staging folder beside
the old one (the old site's files hard-linked in, so what the publish leaves
alone, a host's ``CNAME`` or a ``.git`` folder included, stays, with its
modification time), and the two are swapped only once everything is
written. A failure leaves the old site as it was; a web server or sync tool
never sees half of a new one.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import sqlite3
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from techcal.normalise.topics import taxonomy
from techcal.publish.feeds import atom_feed, ics_feed, json_feed, listing_window
from techcal.publish.page import Links, render_page
from techcal.store.query import Query
from techcal.store.search import search
from techcal.store.upcoming import listed_kinds, listed_topics

#: what a feed's file name may be made of
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass
class SiteReport:
    """What a publish run wrote and what it left alone (paths relative to the folder)."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    events: int = 0
    #: how the site was put in place when it could not be in one step
    note: str | None = None

    def summary(self) -> str:
        """Return what was written, in one line."""
        return (
            f"{len(self.written)} file(s) written, {len(self.unchanged)} unchanged"
            f" ({self.events} event(s) in all.ics)"
        )


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` atomically unless it already holds exactly that."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


class Staging:
    """A copy of ``directory`` to write a new site into, swapped in by :meth:`commit`."""

    def __init__(self, directory: Path) -> None:
        # the real folder: swapping a symlink would leave its target, the
        # folder a web server serves, without the new site
        directory = directory.resolve()
        self.directory = directory
        self.written: list[str] = []
        if directory.exists() and not directory.is_dir():
            raise NotADirectoryError(20, "not a folder", str(directory))
        directory.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(
            tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.publish-")
        )
        try:
            if directory.is_dir():
                os.chmod(self.path, directory.stat().st_mode & 0o7777)
                _link_tree(directory, self.path)
            else:
                os.chmod(self.path, 0o755)  # a site is for the public
        except BaseException:
            self.discard()
            raise

    def put(self, relative: str, data: bytes) -> bool:
        """Stage ``data`` as ``relative``; return False when the old site has exactly it."""
        path = self.path / relative
        try:
            if path.stat().st_size == len(data) and path.read_bytes() == data:
                return False  # the old file, linked in: same bytes, same modification time
        except FileNotFoundError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        # a new inode: the old site's file (the same inode until now) keeps its bytes
        write_if_changed(path, data)
        self.written.append(relative)
        return True

    def commit(self) -> str | None:
        """Put the staged site in place of the old one; return a note when it took two steps.

        One step (renameat2 RENAME_EXCHANGE) where the system can; else two
        renames, the old site put back if the second fails; and where the
        folder cannot be renamed at all (a mount point, another filesystem),
        the new files are copied in, each replaced whole.
        """
        if not self.directory.exists():
            os.rename(self.path, self.directory)
            return None
        if _exchange(self.path, self.directory):
            shutil.rmtree(self.path, ignore_errors=True)  # now the old site
            return None
        prefix = f".{self.directory.name}.old-"
        old = Path(tempfile.mkdtemp(dir=self.directory.parent, prefix=prefix))
        os.rmdir(old)
        try:
            os.rename(self.directory, old)
        except OSError as exc:
            if exc.errno not in (errno.EBUSY, errno.EXDEV, errno.EPERM, errno.EACCES):
                raise
            return self._copy_in(f"the folder cannot be replaced ({exc.strerror})")
        try:
            os.rename(self.path, self.directory)
        except BaseException:
            os.rename(old, self.directory)  # the old site back where it was
            raise
        shutil.rmtree(old, ignore_errors=True)
        return None

    def _copy_in(self, why: str) -> str:
        for relative in self.written:
            write_if_changed(self.directory / relative, (self.path / relative).read_bytes())
        self.discard()
        return f"{why}: its changed files were replaced one by one"

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _link_tree(source: Path, target: Path) -> None:
    """Fill ``target`` with hard links to every file under ``source`` (copies where links fail)."""
    for root, dirs, files in os.walk(source):
        here = target / Path(root).relative_to(source)
        for name in dirs:
            if (Path(root) / name).is_symlink():
                continue  # os.walk lists it; it is recreated below as the link it is
            (here / name).mkdir()
            shutil.copystat(Path(root) / name, here / name)
        for name in files + [d for d in dirs if (Path(root) / name).is_symlink()]:
            old, new = Path(root) / name, here / name
            if old.is_symlink():
                os.symlink(os.readlink(old), new)
                continue
            try:
                os.link(old, new)
            except OSError:
                shutil.copy2(old, new)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False when not possible."""
    if sys.platform != "linux":
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return done == 0


def publish_site(
    conn: sqlite3.Connection,
    directory: Path,
    base_url: str,
    *,
    now: datetime,
    extra: dict[str, Query] | None = None,
) -> SiteReport:
    """Write the static site into ``directory``, whole or not at all; ``extra`` adds named feeds.

    ``extra`` maps names to queries (the saved subscriptions). Each event's
    VEVENT is written once and lent to every feed it is in, so ``conn``
    should be in one read transaction (``store.stored.snapshot``): then the
    whole site shows the store at one moment.
    """
    try:
        staging: Staging | InPlace = Staging(directory)
    except PermissionError as exc:
        # no room beside the folder (its parent is not the user's): write in it
        staging = InPlace(directory, f"cannot stage beside it ({exc.strerror})")
    try:
        report = _write_site(conn, directory, staging, base_url, now=now, extra=extra or {})
        report.note = staging.commit()
    except BaseException:
        staging.discard()
        raise
    return report


class InPlace:
    """Writes a site straight into its folder, each file replaced whole (when staging cannot)."""

    def __init__(self, directory: Path, why: str) -> None:
        self.directory = directory
        self.why = why

    def put(self, relative: str, data: bytes) -> bool:
        return write_if_changed(self.directory / relative, data)

    def commit(self) -> str:
        return f"{self.why}: its changed files were replaced one by one"

    def discard(self) -> None:
        pass


def _write_site(
    conn: sqlite3.Connection,
    directory: Path,
    staging: Staging | InPlace,
    base_url: str,
    *,
    now: datetime,
    extra: dict[str, Query],
) -> SiteReport:
    base = base_url if base_url.endswith("/") else base_url + "/"
    report = SiteReport()

    def put(relative: str, data: bytes) -> None:
        changed = staging.put(relative, data)
        (report.written if changed else report.unchanged).append(relative)

    def feeds_for(stem: str, query: Query) -> Links | None:
        if not _SAFE_NAME.fullmatch(stem.rsplit("/", 1)[-1]):
            return None  # never a file name outside the folder, whatever a source sent
        links = Links.make(base, ics=stem + ".ics", atom=stem + ".atom", json=None)
        calendar = ics_feed(conn, query, now=now, url=links.ics, blocks=blocks)
        put(stem + ".ics", calendar.body)
        put(stem + ".atom", atom_feed(conn, query, now=now, url=links.atom, page_url=base).body)
        return links

    # each event's VEVENT, written once for all.ics and lent to the feeds it is in too
    blocks: dict[int, str] = {}
    everything = Query(limit=None)
    calendar = ics_feed(conn, everything, now=now, url=base + "all.ics", blocks=blocks)
    report.events = calendar.count
    put("all.ics", calendar.body)
    put("all.atom", atom_feed(conn, everything, now=now, url=base + "all.atom", page_url=base).body)
    put("all.json", json_feed(conn, everything, now=now).body)
    feeds: list[tuple[str, Links]] = []
    for label, stem, query in _named_feeds(conn, directory, now=now, extra=extra):
        links = feeds_for(stem, query)
        if links is not None:
            feeds.append((label, links))
    html = render_page(
        title="techcal: local tech events",
        events=search(conn, listing_window(everything), now=now),
        links=Links.make(base, ics="all.ics", atom="all.atom", json="all.json"),
        form=None,
        feeds=feeds,
    )
    put("index.html", html.encode("utf-8"))
    return report


def _named_feeds(
    conn: sqlite3.Connection, directory: Path, *, now: datetime, extra: dict[str, Query]
) -> list[tuple[str, str, Query]]:
    """Return the site's feeds besides ``all``: (label, path without suffix, query).

    One per topic and kind with upcoming events, and per topic and kind the
    site had a feed for (its subscribers get an empty calendar, not a 404);
    one per saved subscription.
    """
    known = taxonomy()
    named = []
    topics = listed_topics(conn, now=now) | {p.stem for p in (directory / "topics").glob("*.ics")}
    for slug in sorted(topics):
        label = known.topics[slug].label if slug in known.topics else slug
        named.append((f"Topic: {label}", f"topics/{slug}", Query(topics=(slug,))))
    kinds = listed_kinds(conn, now=now) | {p.stem for p in (directory / "kinds").glob("*.ics")}
    for kind in sorted(kinds):
        named.append((f"Kind: {kind}", f"kinds/{kind}", Query(kinds=(kind,))))
    for name, query in sorted(extra.items()):
        named.append((f"Subscription: {name}", f"subscriptions/{name}", query))
    return named
