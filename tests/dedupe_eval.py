"""The labelled evaluation set of merges, and scoring techcal against it.

``tests/fixtures/dedupe/eval_set.json`` holds source entries written by hand
after how the platforms phrase things, each labelled with the real event
(``group``) it belongs to. :func:`evaluate` ingests them through the real
``upsert_events``, one source at a time as a crawl would, and compares the
events techcal made with the labels, pair by pair.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from techcal.event import Event
from techcal.store import Source, add_source, open_store, upsert_events

EVAL_SET = Path(__file__).parent / "fixtures" / "dedupe" / "eval_set.json"


def load(path: Path = EVAL_SET) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def to_event(entry: dict, kind: str) -> Event:
    when = {k: datetime.fromisoformat(entry[k]) if entry.get(k) else None for k in ("start", "end")}
    return Event(
        source=entry["source"],
        source_uid=entry["source_uid"],
        title=entry["title"],
        description=entry.get("description") or "",
        url=entry.get("url"),
        start=when["start"],
        end=when["end"],
        timezone=entry.get("timezone"),
        all_day=bool(entry.get("all_day")),
        venue=entry.get("venue"),
        address=entry.get("address"),
        city=entry.get("city"),
        region=entry.get("region"),
        country=entry.get("country"),
        lat=entry.get("lat"),
        lon=entry.get("lon"),
        online=bool(entry.get("online")),
        online_url=entry.get("online_url"),
        kind=kind,
        organizer=entry.get("organizer"),
    )


@dataclass
class Score:
    entries: int
    groups: int
    true_pairs: int
    merged_pairs: int
    correct_pairs: int
    wrong: list[tuple[str, str]] = field(default_factory=list)
    missed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.merged_pairs if self.merged_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def evaluate(db_path: Path, data: dict | None = None) -> Score:
    """Ingest the evaluation set into a new store at ``db_path`` and score the merges."""
    data = data or load()
    now = datetime.fromisoformat(data["now"])
    db = open_store(db_path)
    for name, source in data["sources"].items():
        add_source(
            db,
            Source(name=name, url=source["url"], kind=source["kind"], city=source.get("city")),
        )
    by_source: dict[str, list[dict]] = {}
    for entry in data["entries"]:
        by_source.setdefault(entry["source"], []).append(entry)
    for name, entries in by_source.items():
        kind = data["sources"][name]["kind"]
        result = upsert_events(db, name, [to_event(e, kind) for e in entries], now=now)
        assert not result.rejected, result.rejected
    event_of = {
        (source, uid): event_id
        for source, uid, event_id in db.execute(
            "SELECT s.name, p.source_uid, p.event_id FROM provenance p"
            " JOIN sources s ON s.id = p.source_id"
        )
    }
    db.conn.close()
    entries = data["entries"]
    score = Score(
        entries=len(entries),
        groups=len({e["group"] for e in entries}),
        true_pairs=0,
        merged_pairs=0,
        correct_pairs=0,
    )
    for a, b in itertools.combinations(entries, 2):
        same = a["group"] == b["group"]
        merged = (
            event_of[(a["source"], a["source_uid"])] == event_of[(b["source"], b["source_uid"])]
        )
        score.true_pairs += same
        score.merged_pairs += merged
        score.correct_pairs += same and merged
        if merged and not same:
            score.wrong.append((a["id"], b["id"]))
        elif same and not merged:
            score.missed.append((a["id"], b["id"]))
    return score
