"""What crosses Redis between a coordinator and its workers: jobs out, results back, as JSON.

A queued source is a scrapy-redis JSON request (``{"url": ..., "meta":
{...}}``) whose meta carries the whole :class:`~techcal.store.ingest.ReadJob`
(validators, reader state with its snapshot, listing memo) and the crawl's
limits, so any worker skips unchanged work exactly as a local crawl does.
A finished source comes back as one JSON result: its
:class:`~techcal.crawler.items.SourceResult` with the events read.

Nothing here is pickled: whoever can write to Redis can send us data, never
code. Decoding checks every field's type and raises :class:`WireError`
naming what is wrong; the coordinator also keeps its own copy of each job
and trusts a result only for the source and job it was sent out for.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from techcal.crawler.items import SourceResult
from techcal.errors import WireError
from techcal.event import Event
from techcal.feeds.base import ReadResult, Window
from techcal.store.crawl_state import ListingMemo
from techcal.store.ingest import ReadJob, ReadOutcome
from techcal.store.reader_state import ReaderState
from techcal.store.sources import Source

#: bumped when the format changes: a worker refuses jobs of another version
WIRE_VERSION = 2
#: the meta key of a queued request that holds the job
JOB_KEY = "techcal_job"
#: meta key of the job's id, ahead of the job (the workers' take script reads it: frontier.py)
ID_KEY = "techcal_job_id"


@dataclass
class Limits:
    """The crawl's limits a worker applies to one source (`techcal crawl` options)."""

    timeout: float
    max_bytes: int
    per_host: int
    max_pages: int
    max_depth: int
    revisit_hours: float


@dataclass
class QueuedJob:
    """One source sent out: its id, its read job, the crawl's limits."""

    id: str
    job: ReadJob
    limits: Limits


# ------------------------------------------------------------------ jobs


def job_id(job: ReadJob) -> str:
    """Return the id of ``job``: its source and what its plan knew (a new plan, a new id).

    A coordinator run again with nothing stored meanwhile plans the same
    jobs, so results of the run before are still taken; once a source's
    result is stored, its next plan differs and a late copy is ignored.
    """
    previous = job.previous
    parts = [
        job.source.name,
        job.source.url,
        job.source.type,
        job.etag or "",
        job.last_modified or "",
        previous.digest if previous else "",
        previous.window_key if previous else "",
        job.listing.digest if job.listing else "",
        job.listing.full_read_at.isoformat() if job.listing else "",
    ]
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=10).hexdigest()
    return f"{job.source.name}@{digest}"


def encode_job(queued: QueuedJob) -> str:
    """Return the scrapy-redis JSON request that queues ``queued``."""
    job = queued.job
    previous = job.previous
    body = {
        "v": WIRE_VERSION,
        "id": queued.id,
        "source": _source_dict(job.source),
        "window": [job.window.start.isoformat(), job.window.end.isoformat()],
        "previous": None
        if previous is None
        else {
            "digest": previous.digest,
            "window_key": previous.window_key,
            "recurring": previous.recurring,
            "snapshot": _b64(previous.snapshot),
        },
        "etag": job.etag,
        "last_modified": job.last_modified,
        "listing": None
        if job.listing is None
        else {"digest": job.listing.digest, "full_read_at": job.listing.full_read_at.isoformat()},
        "limits": vars(queued.limits),
    }
    # the id goes first in meta, where the workers' take script finds it without reading the job
    meta = {ID_KEY: queued.id, JOB_KEY: body}
    return json.dumps({"url": job.source.url, "meta": meta}, separators=(",", ":"))


def decode_job(body: Any) -> QueuedJob:
    """Return the job of a queued request's meta value; raise WireError if it is not one."""
    d = _object(body, "job")
    if d.get("v") != WIRE_VERSION:
        raise WireError(f"job of format {d.get('v')!r}, this worker reads {WIRE_VERSION}")
    source = _source_of(_object(d.get("source"), "source"))
    window = d.get("window")
    if not (isinstance(window, list) and len(window) == 2):
        raise WireError("job window is not [start, end]")
    prev = d.get("previous")
    previous = None
    if prev is not None:
        p = _object(prev, "previous")
        previous = ReaderState(
            _str(p, "digest"),
            _str(p, "window_key"),
            _bool(p, "recurring"),
            _unb64(p.get("snapshot")),
        )
    listing = None
    if d.get("listing") is not None:
        m = _object(d["listing"], "listing")
        listing = ListingMemo(_str(m, "digest"), _when(m.get("full_read_at")))
    lim = _object(d.get("limits"), "limits")
    # within what `techcal crawl` lets a user ask for (a job is not trusted to say more)
    limits = Limits(
        timeout=_number(lim, "timeout", 1, 3600),
        max_bytes=int(_number(lim, "max_bytes", 2**16, 2**31)),
        per_host=int(_number(lim, "per_host", 1, 16)),
        max_pages=int(_number(lim, "max_pages", 1, 10_000)),
        max_depth=int(_number(lim, "max_depth", 0, 10)),
        revisit_hours=_number(lim, "revisit_hours", 0, 24 * 365),
    )
    job = ReadJob(
        source=source,
        window=Window(_when(window[0]), _when(window[1])),
        previous=previous,
        etag=_opt_str(d, "etag"),
        last_modified=_opt_str(d, "last_modified"),
        listing=listing,
    )
    return QueuedJob(_str(d, "id"), job, limits)


# --------------------------------------------------------------- results


def encode_result(queued_id: str, item: SourceResult) -> str:
    """Return the JSON of one source's finished result (what the coordinator stores)."""
    outcome = item.outcome
    body: dict[str, Any] = {
        "v": WIRE_VERSION,
        "id": queued_id,
        "source": item.source.name,
        "status": item.status,
        "whole": item.whole,
        "url": item.url,
        "http_status": item.http_status,
        "etag": item.etag,
        "last_modified": item.last_modified,
        "error": item.error,
        "retry_after": item.retry_after,
        "pages": item.pages,
        "page_errors": item.page_errors,
        "seconds": item.seconds,
        "dropped": item.dropped,
        "listing_digest": item.listing_digest,
        "full_read": item.full_read,
        "outcome": None,
    }
    if outcome is not None:
        read = outcome.read
        state = outcome.state
        body["outcome"] = {
            "type": outcome.type,
            "skipped": outcome.skipped,
            "events": [e.to_dict() for e in read.events],
            "warnings": read.warnings,
            "pages": read.pages,
            "recognised": read.recognised,
            "failed_entries": read.failed_entries,
            "unchanged": read.unchanged,
            "more_warnings": read.more_warnings,
            "state": None
            if state is None
            else {
                "digest": state.digest,
                "window_key": state.window_key,
                "recurring": state.recurring,
                "snapshot": _b64(state.snapshot),
            },
        }
    return json.dumps(body, separators=(",", ":"), default=str)


def decode_result(data: bytes | str | dict[str, Any], source: Source) -> tuple[str, SourceResult]:
    """Return (job id, result) of a result's JSON (or its parsed object, see
    :func:`result_id`), for ``source`` (the coordinator's own copy).

    Raises WireError when it is not a result of techcal's format or names
    another source.
    """
    if isinstance(data, dict):
        d = data
    else:
        try:
            d = _object(json.loads(data), "result")
        except (ValueError, UnicodeDecodeError) as exc:
            raise WireError(f"result is not JSON ({exc})") from None
    if d.get("v") != WIRE_VERSION:
        raise WireError(f"result of format {d.get('v')!r}, this coordinator reads {WIRE_VERSION}")
    if d.get("source") != source.name:
        raise WireError(f"result names source {d.get('source')!r}, not {source.name!r}")
    status = _str(d, "status")
    if status not in ("read", "unchanged", "error"):
        raise WireError(f"result status {status!r}")
    item = SourceResult(
        source,
        status,
        whole=_bool(d, "whole"),
        url=_opt_str(d, "url"),
        http_status=_opt_int(d, "http_status"),
        etag=_opt_str(d, "etag"),
        last_modified=_opt_str(d, "last_modified"),
        error=_opt_str(d, "error"),
        retry_after=_opt_number(d, "retry_after"),
        pages=int(_number(d, "pages")),
        page_errors=_strings(d, "page_errors"),
        seconds=_number(d, "seconds"),
        dropped=_counts(_object(d.get("dropped"), "dropped")),
        listing_digest=_opt_str(d, "listing_digest"),
        full_read=_bool(d, "full_read"),
    )
    o = d.get("outcome")
    if o is not None:
        o = _object(o, "outcome")
        events = o.get("events")
        if not isinstance(events, list):
            raise WireError("outcome events is not a list")
        try:
            read_events = [Event.from_dict(_object(e, "event")) for e in events]
        except (TypeError, ValueError) as exc:
            raise WireError(f"an event is not an event ({exc})") from None
        for event in read_events:
            if event.source != source.name or not isinstance(event.source_uid, str):
                raise WireError(f"an event of source {event.source!r} in {source.name!r}'s result")
            if not isinstance(event.title, str):
                raise WireError(f"event {event.source_uid!r}: its title is not text")
        read = ReadResult(
            events=read_events,
            warnings=_strings(o, "warnings"),
            pages=_strings(o, "pages"),
            recognised=_bool(o, "recognised"),
            failed_entries=int(_number(o, "failed_entries")),
            unchanged=_strings(o, "unchanged"),
            more_warnings=int(_number(o, "more_warnings")),
        )
        s = o.get("state")
        state = None
        if s is not None:
            s = _object(s, "state")
            state = ReaderState(
                _str(s, "digest"),
                _str(s, "window_key"),
                _bool(s, "recurring"),
                _unb64(s.get("snapshot")),
            )
        item.outcome = ReadOutcome(_str(o, "type"), _bool(o, "skipped"), read, state)
    return _str(d, "id"), item


def result_id(data: bytes | str) -> tuple[str, str, dict[str, Any]] | None:
    """Return (job id, source name, the parsed object) of a result's JSON, or None.

    The object is what :func:`decode_result` then reads: a result is parsed once.
    """
    try:
        d = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(d, dict) and isinstance(d.get("id"), str) and isinstance(d.get("source"), str):
        return d["id"], d["source"], d
    return None


# --------------------------------------------------------------- helpers


def _source_dict(source: Source) -> dict[str, Any]:
    return {
        "name": source.name,
        "url": source.url,
        "kind": source.kind,
        "type": source.type,
        "city": source.city,
        "topics": list(source.topics),
    }


def _source_of(d: dict[str, Any]) -> Source:
    return Source(
        name=_str(d, "name"),
        url=_str(d, "url"),
        kind=_str(d, "kind"),
        type=_str(d, "type"),
        city=_opt_str(d, "city"),
        topics=tuple(_strings(d, "topics")),
    )


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WireError(f"{what} is not a JSON object")
    return value


def _str(d: dict[str, Any], key: str) -> str:
    value = d.get(key)
    if not isinstance(value, str):
        raise WireError(f"{key} is not a string")
    return value


def _opt_str(d: dict[str, Any], key: str) -> str | None:
    return None if d.get(key) is None else _str(d, key)


def _bool(d: dict[str, Any], key: str) -> bool:
    value = d.get(key)
    if not isinstance(value, bool):
        raise WireError(f"{key} is not true or false")
    return value


def _number(d: dict[str, Any], key: str, low: float = 0, high: float = 1e15) -> float:
    value = d.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WireError(f"{key} is not a number")
    if not (low <= value <= high):  # (NaN and the infinities too)
        raise WireError(f"{key} {value!r} is not within {low:g} to {high:g}")
    return float(value)


def _opt_number(d: dict[str, Any], key: str) -> float | None:
    return None if d.get(key) is None else _number(d, key)


def _opt_int(d: dict[str, Any], key: str) -> int | None:
    return None if d.get(key) is None else int(_number(d, key))


def _strings(d: dict[str, Any], key: str) -> list[str]:
    value = d.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise WireError(f"{key} is not a list of strings")
    return value


def _counts(d: dict[str, Any]) -> dict[str, int]:
    return {str(key): int(_number(d, key)) for key in d}


def _when(value: Any) -> datetime:
    if not isinstance(value, str):
        raise WireError("a time is not a string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise WireError(f"{value[:40]!r} is not a time") from None
    if moment.utcoffset() is None:
        raise WireError(f"{value[:40]!r} has no offset")
    return moment


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(value: Any) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise WireError("snapshot is not base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise WireError("snapshot is not base64") from None
