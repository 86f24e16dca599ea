"""JSON bodies -> Event records: conference-data files and schema.org JSON-LD documents.

A ``json`` source is one of two things:

- a conference-data file (confs.tech's ``conferences/2026/python.json``):
  an array of conference entries, read by :mod:`techcal.feeds.conference_data`;
- a JSON-LD document served on its own (``application/ld+json``): an Event,
  an array of them, an ``ItemList`` or a ``@graph`` holding Events.

Like every reader it never raises: a body that is not JSON, or JSON of
neither shape, comes back ``recognised=False`` with one warning; each entry
left out is named in a warning and counted in ``failed_entries``, so the
store never takes a partly read file for everything the source lists.
"""

from __future__ import annotations

import json
from typing import Any

from techcal.feeds.base import ReadResult, SourceDefaults, drop_unusable
from techcal.feeds.conference_data import is_conference_list, read_conferences
from techcal.feeds.jsonld import events_from_jsonld
from techcal.feeds.scan import event_dicts

#: a JSON-LD document's nesting followed when looking for Events
MAX_DEPTH = 64
#: part of a JSON body's digest: when this reader reads differently, bodies are read again
JSON_READER_VERSION = "1"


def read_json(data: bytes, defaults: SourceDefaults, *, url: str | None = None) -> ReadResult:
    """Return the events of a conference-data file or a JSON-LD document, and warnings.

    ``url`` is where the body came from: a conference-data file's name is
    its topic (``.../python.json``), and JSON-LD's relative links resolve
    against it.
    """
    result = ReadResult()
    try:
        _read(data, defaults, url, result)
    except Exception as error:  # noqa: BLE001 - a reader must never sink the crawl
        result.warn(f"{defaults.source}: JSON reader failed ({type(error).__name__})")
        result.failed_entries += 1  # what was lost is unknown: never treat this read as whole
    return result


def _read(data: bytes, defaults: SourceDefaults, url: str | None, result: ReadResult) -> None:
    source = defaults.source
    if not data.strip():
        result.recognised = False
        result.warn(f"{source}: empty body, not JSON")
        return
    try:
        value = json.loads(data)
    except json.JSONDecodeError as exc:
        result.recognised = False
        result.warn(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})")
        return
    except RecursionError:
        result.recognised = False
        result.warn(f"{source}: JSON nested too deeply to read")
        return
    except ValueError as exc:  # not UTF-8/16/32 text, a number too long to convert
        result.recognised = False
        result.warn(f"{source}: not valid JSON ({exc})")
        return
    if is_conference_list(value):
        read_conferences(value, defaults, url, result)
    else:
        items = event_dicts([value], limit=MAX_DEPTH)
        if not items:
            result.recognised = False
            result.warn(
                f"{source}: JSON holds no conference entries and no schema.org Event"
                f" ({_shape(value)})"
            )
            return
        _read_jsonld(items, defaults, url, result)
    drop_unusable(result, "event(s)")


def _read_jsonld(
    items: list[dict[str, Any]], defaults: SourceDefaults, url: str | None, result: ReadResult
) -> None:
    events, warnings = events_from_jsonld(items, defaults, url)
    result.warn_all(warnings)
    result.events.extend(events)
    left_out = len(items) - len(events)
    if left_out:
        result.failed_entries += left_out
        unnamed = left_out - sum(1 for w in warnings if w.endswith("skipped"))
        if unnamed > 0:
            result.warn(f"{unnamed} schema.org Event object(s) could not be read; skipped")


def _shape(value: Any) -> str:
    """Return what a JSON value is, for a warning.

    >>> _shape({"error": "not found", "status": 404})
    'an object with keys error, status'
    >>> _shape([1, 2])
    'an array of 2 values'
    """
    if isinstance(value, dict):
        keys = ", ".join(str(k)[:30] for k in list(value)[:5])
        more = ", ..." if len(value) > 5 else ""
        return f"an object with keys {keys}{more}" if value else "an empty object"
    if isinstance(value, list):
        return f"an array of {len(value)} values"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "a number"
