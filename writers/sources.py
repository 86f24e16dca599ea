"""The registered sources as text: `techcal sources list`'s table, or its JSON."""

from __future__ import annotations

import json

from techcal.store.sources import Source
from techcal.writers.text import visible

HEADERS = ("name", "kind", "type", "city", "events", "last crawl", "failures", "url")


def sources_json(sources: list[Source]) -> str:
    """Return the sources as the JSON array of ``sources list --json``."""
    return json.dumps([s.to_dict() for s in sources], indent=2, ensure_ascii=False)


def sources_text(sources: list[Source]) -> str:
    """Return the sources table, then a line per source whose last crawl failed."""
    from tabulate import tabulate

    if not sources:
        return "no sources yet: try `techcal sources import data/sources.toml`"
    rows = [
        (s.name, s.kind, s.type, s.city or "", s.events, last_crawl(s), s.failures or "", s.url)
        for s in sources
    ]
    lines = [tabulate(rows, headers=HEADERS, disable_numparse=True)]
    for s in sources:
        if s.last_error:
            wait = f"; next try after {s.next_due}" if s.next_due else ""
            # the error quotes what a server said: shown, never obeyed
            lines.append(f"  {s.name}: {visible(s.last_error)}{wait}")
    return "\n".join(lines)


def last_crawl(source: Source) -> str:
    """Return when the source was last crawled, and how that went (a table cell)."""
    if not source.last_fetched:
        return "never"
    status = source.last_status or "?"
    if source.http_status and source.http_status != 200:
        status += f" ({source.http_status})"
    return f"{status} {source.last_fetched.replace('T', ' ').removesuffix('+00:00')}Z"
