"""What a crawl did, per source and in total: the summary table and its JSON, and
the lines a crawl or an import prints as it goes.

The printing functions take an ``echo`` shaped like ``click.echo``: the
summary goes to standard output, problems and progress to standard error.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import click
from tabulate import tabulate

from techcal.crawler.items import SourceResult
from techcal.store.events import UpsertResult
from techcal.store.ingest import Ingested
from techcal.writers.text import visible

#: at most this many warnings per source are kept in the report
MAX_WARNINGS = 20


class Echo(Protocol):
    """Print one line, to standard error when ``err`` (``click.echo`` is one)."""

    def __call__(self, message: str, *, err: bool = False) -> None: ...


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


@contextmanager
def crawl_progress(
    total: int, *, quiet: bool, echo: Echo
) -> Iterator[Callable[[SourceReport], None] | None]:
    """Yield the per-source callback: a bar on a terminal, one line per source otherwise."""
    err = sys.stderr
    if quiet or total == 0:
        yield None
    elif err.isatty():
        # the bar shows the name of the source stored last
        bar: Any = click.progressbar(
            length=total, label="crawling", file=err, show_pos=True, item_show_func=str
        )
        with bar:
            yield lambda line: bar.update(1, line.source)
    else:
        done = 0

        def log_line(line: SourceReport) -> None:
            nonlocal done
            done += 1
            echo(progress_line(line, done, total), err=True)

        yield log_line


def progress_line(line: SourceReport, done: int, total: int) -> str:
    """Return the line logged as a source is stored (when standard error is no terminal)."""
    detail = (
        line.error
        if line.status == "error"
        else (
            f"{line.new} new, {line.updated} updated, {line.unchanged} unchanged,"
            f" {line.removed} removed"
        )
    )
    return (
        f"[{done}/{total}] {line.source}: {line.status} ({visible(detail or '')})"
        f" {line.seconds:.1f}s"
    )


def echo_crawl_report(report: CrawlReport, echo: Echo) -> None:
    """Print the summary table, each source's problems, and what was not due."""
    if not report.sources:
        why = (
            "every enabled source is waiting after failures (see `sources list`)"
            if report.not_due
            else "no source is enabled"
        )
        echo(f"nothing to crawl: {why}")
        if not report.not_due:
            return
    else:
        echo(report.table())
    for line in sorted(report.sources, key=lambda line: line.source):
        problems = ([line.error] if line.error else []) + [
            w for w in line.warnings if w != line.error
        ]
        for problem in problems:
            # a problem quotes what a server or file said: shown, never obeyed
            echo(f"  {line.source}: {visible(problem)}", err=True)
    if report.not_due:
        echo(
            f"{len(report.not_due)} source(s) not due yet after repeated failures:"
            f" {', '.join(report.not_due)} (crawl them now with --source NAME)"
        )


def echo_imported(done: Ingested, echo: Echo) -> None:
    """Print what importing one file did, then its problems (as many as a crawl shows)."""
    if done.stored is None:
        echo(f"{done.path} -> {done.source} ({done.type}): unchanged since the last import")
        return
    counts = ", ".join(f"{v} {k}" for k, v in done.stored.counts().items() if k != "rejected")
    echo(f"{done.path} -> {done.source} ({done.type}): {len(done.read.events)} read; {counts}")
    problems = done.read.warnings + done.stored.rejected + done.stored.cleaned
    warn_capped(done.source, problems, echo, more=done.read.more_warnings)


def warn_capped(source: str, warnings: list[str], echo: Echo, *, more: int = 0) -> None:
    """Print a source's warnings, one line each naming it, at most as many as a crawl shows."""
    for warning in warnings[:MAX_WARNINGS]:
        echo(f"  warning: {source}: {visible(warning)}", err=True)
    rest = len(warnings) - MAX_WARNINGS + more
    if rest > 0:
        echo(f"  warning: {source}: … and {rest:,} more", err=True)
