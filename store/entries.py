"""A source's entries on their way into the store: values worked out before the
write lock (:func:`prepare_entry`), and what one batch of them writes
(:class:`BatchWrites`). techcal.store.events.upsert_events drives both."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from techcal.errors import UnknownSource
from techcal.event import Event
from techcal.normalise.dedupe import match_form
from techcal.store.event_rows import (
    INSERT_PROVENANCE,
    RECORD_COLUMNS,
    UPDATE_EVENT,
    UPDATE_PROVENANCE,
    digest,
    event_uid,
    insert_events,
    normalised_values,
    provenance_record,
    record_values,
    schedule_digest,
)
from techcal.store.match_index import file_stale
from techcal.store.matching import (
    Matcher,
    find_match,
    remerge_events,
    user_choices,
)
from techcal.store.normalise import Normaliser

_ORGANIZER = RECORD_COLUMNS.index("organizer")

#: (provenance id, event id, content digest, schedule digest, removed at, event
#: start, how many other sources list the event), per source uid: see EXISTING
Known = tuple[int, int, str, str, str | None, int, int]

#: Each provenance row of a source that a batch needs (its entries' uids, as a
#: JSON array): what was stored, the event's start, and how many other sources
#: list the same event. Rows are (source uid, *Known).
EXISTING = (
    "SELECT p.source_uid, p.id, p.event_id, p.content_hash, p.schedule_hash,"
    " p.removed_at, e.start_utc, (SELECT count(*) FROM provenance q"
    " WHERE q.event_id = p.event_id AND q.id != p.id AND q.removed_at IS NULL)"
    " FROM provenance p JOIN events e ON e.id = p.event_id"
    " WHERE p.source_id = ? AND p.source_uid IN (SELECT value FROM json_each(?))"
)


@dataclass(frozen=True)
class SourceContext:
    """What a source adds to its records' normalised values."""

    id: int
    city: str | None
    topics: tuple[str, ...]
    #: the part of an entry's content digest that comes from its source
    key: str


def source_context(conn: sqlite3.Connection, source: str) -> SourceContext:
    """Return the stored id, city and topics of ``source``; raise UnknownSource if none."""
    row = conn.execute("SELECT id, city, topics FROM sources WHERE name = ?", (source,)).fetchone()
    if row is None:
        raise UnknownSource(source)
    topics = tuple(json.loads(row[2] or "[]"))
    return SourceContext(row[0], row[1], topics, context_key(row[1], topics))


def context_key(city: str | None, topics: tuple[str, ...]) -> str:
    """Return the part of an entry's content digest that comes from its source."""
    return repr((city, tuple(topics)))


@dataclass
class Entry:
    """One valid record, with the values worked out before taking the write lock."""

    source_uid: str
    record: Event
    raw: tuple[object, ...]
    content: str
    #: the normalised columns; None while the entry looked unchanged
    row: tuple[object, ...] | None = None
    #: ``row`` as provenance keeps it (see provenance_record), once worked out
    kept: str | bytes | None = None
    #: what the matcher compares of its title and link (dedupe.match_form), once worked out
    form: str | None = None
    #: the keys an event of this form is filed under (dedupe.clue_keys), once worked out
    keys: tuple[int, ...] | None = None

    @property
    def schedule(self) -> str:
        """The digest of what the source says of time, place and status."""
        # (the schedule is what the source says: coordinates looked up in
        # the gazetteer follow it, and a new gazetteer moves nothing)
        return schedule_digest(self.raw)

    def normalised(self, context: SourceContext, normaliser: Normaliser) -> tuple[object, ...]:
        """Return the entry's event columns with topics and place worked out."""
        if self.row is not None:
            return self.row
        return normalised_values(self.raw, self.record, normaliser, context.city, context.topics)

    def match_form(self, row: tuple[object, ...]) -> str:
        """Return the match form of ``row`` (this entry's columns)."""
        if self.form is None or row is not self.row:
            return match_form(str(row[0]), row[2], row[_ORGANIZER])  # type: ignore[arg-type]
        return self.form

    def provenance(self, row: tuple[object, ...]) -> str | bytes:
        """Return ``row`` (this entry's columns) as provenance keeps it."""
        if self.kept is None or row is not self.row:
            return provenance_record(row)
        return self.kept


def prepare_entry(
    source_uid: str,
    record: Event,
    context: SourceContext,
    normaliser: Normaliser,
    stored: tuple[str, bool] | None,
) -> Entry:
    """Return ``record``'s values, normalised unless the store already has them unchanged.

    ``stored`` is the stored entry's (content digest, removed), if any.
    """
    raw = record_values(record)
    # What the normalised values also depend on: an entry whose own values
    # and context are unchanged is unchanged, and is not tagged or placed
    # again. (A taxonomy change re-tags stored events in place, before a
    # crawl: see ensure_tags_current.)
    content = digest(repr(raw) + context.key)
    entry = Entry(source_uid, record, raw, content)
    if stored is None or stored != (content, False):
        entry.row = entry.normalised(context, normaliser)
    return entry


class BatchWrites:
    """What one batch of a source's entries writes: gathered by add, done by write.

    Runs inside the caller's write transaction; the counts say what it did.
    ``claimed`` holds the events this source's entries were linked to (one
    source, one entry each), shared by the source's batches; with ``match``
    a new entry may be linked to another source's stored event.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        source: str,
        context: SourceContext,
        normaliser: Normaliser,
        stamp: str,
        *,
        claimed: set[int],
        match: bool,
    ) -> None:
        self.conn, self.source, self.context = conn, source, context
        self.normaliser, self.stamp = normaliser, stamp
        self.claimed, self.match = claimed, match
        self.new = self.updated = self.unchanged = self.merged = self.rescheduled = 0
        # (made only to match: it files the events written since the last match)
        self._matcher = Matcher(conn, context.id) if match else None
        self._choices = user_choices(conn, source) if match else {}
        self._new_events: list[tuple[object, ...]] = []
        # the match forms and keys of the new events, by uid (worked out by the reader worker)
        self._new_forms: dict[str, tuple[str, tuple[int, ...] | None]] = {}
        self._new_provenance: list[tuple[object, ...]] = []
        self._linked_provenance: list[tuple[object, ...]] = []
        self._changed_events: list[tuple[object, ...]] = []
        self._changed_provenance: list[tuple[object, ...]] = []
        self._seen: list[tuple[str, int]] = []
        # events with several sources whose values must be worked out again
        self._remerge: set[int] = set()

    def add(self, entry: Entry, known: Known | None) -> None:
        """Decide what ``entry`` needs; ``known`` is its stored provenance (EXISTING), if any."""
        if known is not None and entry.content == known[2] and known[4] is None:
            self._seen.append((self.stamp, known[0]))
            return
        # (an entry that looked unchanged was stored meanwhile, by another
        # writer of this source: it is normalised now)
        row = entry.normalised(self.context, self.normaliser)
        if known is None:
            self._add_new(entry, row)
        else:
            self._add_changed(entry, row, known)

    def _add_new(self, entry: Entry, row: tuple[object, ...]) -> None:
        source_uid, source_id, stamp = entry.source_uid, self.context.id, self.stamp
        link = None
        form = entry.match_form(row)
        if self._matcher is not None:
            choices = self._choices.get(source_uid, {})
            link = find_match(self.conn, self._matcher, row, choices, self.claimed, form)
        if link is not None:
            event_id, uid = link
            self.claimed.add(event_id)
            self._remerge.add(event_id)
            self.merged += 1
            target = self._linked_provenance
        else:
            uid = event_uid(self.source, source_uid)
            self._new_events.append((uid, *row, stamp, stamp, stamp))
            self._new_forms[uid] = (form, entry.keys if form is entry.form else None)
            target = self._new_provenance
        record = entry.provenance(row)
        target.append(
            (uid, source_id, source_uid, entry.content, entry.schedule, stamp, stamp, record)
        )

    def _add_changed(self, entry: Entry, row: tuple[object, ...], known: Known) -> None:
        prov_id, event_id, _, old_schedule, removed_at, _, others = known
        schedule = entry.schedule
        # a removed entry that is back is a change of status, like a move
        bump = 1 if (schedule != old_schedule or removed_at is not None) else 0
        self._changed_provenance.append(
            (entry.content, schedule, self.stamp, entry.provenance(row), prov_id)
        )
        self.updated += 1
        if others:
            # other sources list it too: its values come from all of them
            self._remerge.add(event_id)
            return
        self.rescheduled += bump
        self._changed_events.append((*row, bump, self.stamp, bump, self.stamp, event_id))

    def write(self) -> None:
        """Write what add gathered, then redo the values of events several sources list."""
        conn = self.conn
        if self._new_events:
            insert_events(conn, self._new_events)
            conn.executemany(INSERT_PROVENANCE, self._new_provenance)
        if self._linked_provenance:
            conn.executemany(INSERT_PROVENANCE, self._linked_provenance)
        if self._changed_events:
            conn.executemany(UPDATE_EVENT, self._changed_events)
        if self._changed_provenance:
            conn.executemany(UPDATE_PROVENANCE, self._changed_provenance)
        if self._seen:
            conn.executemany("UPDATE provenance SET last_seen = ? WHERE id = ?", self._seen)
        self.new += len(self._new_events) + len(self._linked_provenance)
        self.unchanged += len(self._seen)
        if self._remerge:
            self.rescheduled += remerge_events(conn, self._remerge, self.stamp)
        if self.match:
            # the new events, and those whose title, link or time changed,
            # are found by the next entries matched (whatever their source)
            file_stale(conn, self._new_forms)
