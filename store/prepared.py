"""A source's records made ready to store, wherever that work runs.

Cleaning, checking, tagging, placing, digests and the provenance form of
each record need nothing from the database but the source's city and
topics, so the reader worker that read a body does them too
(:func:`techcal.store.ingest.read_job`), and the process that holds the
store only matches and writes. :func:`prepare_records` is also what
:func:`techcal.store.events.upsert_events` does itself for records that
arrive without it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from techcal.event import Event
from techcal.normalise.clean import clean_record
from techcal.normalise.dedupe import clue_keys, place_cell
from techcal.store.entries import Entry, SourceContext, context_key, prepare_entry
from techcal.store.event_rows import RECORD_COLUMNS
from techcal.store.normalise import Normaliser

_LAT, _LON = RECORD_COLUMNS.index("lat"), RECORD_COLUMNS.index("lon")


@dataclass
class Prepared:
    """A source's valid records, each an :class:`Entry` with its values worked out."""

    source: str
    #: the source's city and topics these values were worked out with (context_key)
    context: str
    #: by source uid, in input order (of a uid listed twice, the last record)
    entries: dict[str, Entry] = field(default_factory=dict)
    #: source uids of the records refused
    invalid: set[str] = field(default_factory=set)
    #: records refused, each as "source_uid: problem"
    rejected: list[str] = field(default_factory=list)
    #: what cleaning changed, each as "source_uid: change"
    cleaned: list[str] = field(default_factory=list)
    #: records repeated under one source uid (the last was kept)
    duplicates: int = 0


def valid_records(records: Iterable[Event], source: str) -> tuple[Prepared, dict[str, Event]]:
    """Return what checking ``records`` found, and the cleaned valid ones by source uid.

    (The Prepared returned has no entries yet: see :func:`prepare_records`.)
    """
    found = Prepared(source, "")
    valid: dict[str, Event] = {}
    for record in records:
        # what no output may carry, and sizes no calendar needs, stop here
        record, notes = clean_record(record)
        found.cleaned.extend(f"{record.source_uid or '(no uid)'}: {note}" for note in notes)
        problems = record.problems()
        if record.source != source:
            problems.append(f"record belongs to source {record.source!r}")
        if problems:
            found.rejected.append(f"{record.source_uid or '(no uid)'}: {'; '.join(problems)}")
            found.invalid.add(record.source_uid)
            continue
        if record.source_uid in valid:
            found.duplicates += 1
        valid[record.source_uid] = record
    return found, valid


def prepare_records(
    records: Iterable[Event],
    source: str,
    city: str | None,
    topics: tuple[str, ...],
    normaliser: Normaliser | None = None,
) -> Prepared:
    """Return ``records`` cleaned, checked and worked out as the store keeps them.

    ``city`` and ``topics`` are the source's (what it adds to every record).
    """
    done, valid = valid_records(records, source)
    context = SourceContext(0, city, tuple(topics), context_key(city, topics))
    done.context = context.key
    normaliser = normaliser or Normaliser()
    for uid, record in valid.items():
        entry = prepare_entry(uid, record, context, normaliser, None)
        row = entry.normalised(context, normaliser)
        entry.kept = entry.provenance(row)
        entry.form = entry.match_form(row)
        entry.keys = tuple(clue_keys(entry.form, place_cell(row[_LAT], row[_LON])))  # type: ignore[arg-type]
        done.entries[uid] = entry
    return done
