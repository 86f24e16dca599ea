"""What a crawl did, per source and in total: the summary table and its JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tabulate import tabulate

from techcal.crawler.items import SourceResult
from techcal.store.events import UpsertResult

#: at most this many warnings per source are kept in the report
MAX_WARNINGS = 20


@dataclass
class SourceReport:
    """One line of the summary: what crawling one source did."""

    source: str
    url: str
    #: ok, unchanged, error, or "not done" (the crawl stopped before it finished)
    status: str
    type: str | None = None
    new: int = 0
    #: of the new entries, those that are another source's copy of a stored event
    merged: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    #: pages that failed, records dropped or rejected, or 1 for a failed source
    errors: int = 0
    seconds: float = 0.0
    pages: int = 0
    http_status: int | None = None
    error: str | None = None
    #: consecutive failures of the source so far
    failures: int = 0
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        item: SourceResult,
        *,
        status: str,
        stored: UpsertResult | None = None,
        warnings: list[str] | None = None,
        error: str | None = None,
        failures: int = 0,
        known: int | None = None,
        more: int = 0,
    ) -> SourceReport:
        """Return the report line of one stored (or failed) source result.

        ``more`` counts the warnings the reader left out of ``warnings``; past
        MAX_WARNINGS lines, the last one says how many more there were.
        """
        problems = list(item.page_errors)
        problems += [f"dropped {n} record(s): {why}" for why, n in item.dropped.items()]
        if stored is not None:
            problems += [f"rejected {line}" for line in stored.rejected]
            problems += stored.cleaned
        report = cls(
            source=item.source.name,
            url=item.source.url,
            status=status,
            type=item.outcome.type if item.outcome is not None else None,
            errors=len(item.page_errors)
            + sum(item.dropped.values())
            + (len(stored.rejected) if stored else 0)
            + (1 if status == "error" else 0),
            seconds=item.seconds,
            pages=item.pages,
            http_status=item.http_status,
            error=error or item.error,
            failures=failures,
            warnings=_capped(problems + list(warnings or []), more),
        )
        if stored is not None:
            report.new = stored.new
            report.merged = stored.merged
            report.updated = stored.updated
            report.unchanged = stored.unchanged
            report.removed = stored.removed
        elif known is not None:
            report.unchanged = known
        return report

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "url": self.url,
            "status": self.status,
            "type": self.type,
            "new": self.new,
            "merged": self.merged,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "pages": self.pages,
            "http_status": self.http_status,
            "error": self.error,
            "failures": self.failures,
            "warnings": self.warnings,
        }


_COUNTS = ("new", "merged", "updated", "unchanged", "removed", "errors")


@dataclass
class CrawlReport:
    """Every source's line, plus the sources that were not due."""

    sources: list[SourceReport] = field(default_factory=list)
    #: enabled sources skipped because they are backing off after failures
    not_due: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def totals(self) -> dict[str, Any]:
        """Return the sums of the per-source counts, and sources per status."""
        totals: dict[str, Any] = {key: 0 for key in _COUNTS}
        for line in self.sources:
            for key in _COUNTS:
                totals[key] += getattr(line, key)
        statuses: dict[str, int] = {}
        for line in self.sources:
            statuses[line.status] = statuses.get(line.status, 0) + 1
        totals["sources"] = len(self.sources)
        totals["statuses"] = dict(sorted(statuses.items()))
        totals["pages"] = sum(line.pages for line in self.sources)
        totals["seconds"] = round(self.seconds, 3)
        totals["not_due"] = len(self.not_due)
        return totals

    @property
    def fetched(self) -> int:
        """Return how many sources answered (stored or unchanged)."""
        return sum(1 for line in self.sources if line.status in ("ok", "unchanged"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "sources": [line.to_dict() for line in self.sources],
            "not_due": self.not_due,
            "totals": self.totals(),
        }

    def table(self) -> str:
        """Return the summary table: one row per source, then the totals."""
        rows = [
            (
                line.source,
                line.status,
                line.new,
                line.merged,
                line.updated,
                line.unchanged,
                line.removed,
                line.errors,
                f"{line.seconds:.1f}s",
            )
            for line in sorted(self.sources, key=lambda line: line.source)
        ]
        totals = self.totals()
        rows.append(
            (
                f"total ({totals['sources']})",
                ", ".join(f"{n} {s}" for s, n in totals["statuses"].items()),
                *(totals[key] for key in _COUNTS),
                f"{self.seconds:.1f}s",
            )
        )
        headers = ("source", "status", *_COUNTS, "time")
        return tabulate(rows, headers=headers, disable_numparse=True)


def _capped(lines: list[str], more: int) -> list[str]:
    """Return at most MAX_WARNINGS lines, the last saying how many were left out."""
    if len(lines) + more <= MAX_WARNINGS:
        return lines
    kept = lines[: MAX_WARNINGS - 1]
    return [*kept, f"… and {len(lines) + more - len(kept):,} more"]
