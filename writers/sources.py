"""The registered sources as text: `techcal sources list`'s table, or its JSON."""

from __future__ import annotations

import json

from techcal.feeds.discover import Discovery
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


def discovery_json(found: Discovery) -> str:
    """Return what ``sources discover --json`` prints: the page, then its candidates best first."""
    chosen, why = found.choice()
    return json.dumps(
        {
            "url": found.url,
            "type": found.type,
            "error": found.error,
            "candidates": [c.to_dict() for c in found.ranked()],
            "choice": chosen.url if chosen is not None else None,
            "why": why,
        },
        indent=2,
        ensure_ascii=True,
    )


def discovery_text(found: Discovery) -> str:
    """Return what ``sources discover`` prints: one line per candidate, best first."""
    if found.error is not None:
        return f"could not read it: {visible(found.error)}"
    ranked = found.ranked()
    if found.type != "html":
        lines = [f"{visible(found.url)} is itself a feed ({found.type})"]
    else:
        feeds = len(ranked) - 1
        lines = [f"{visible(found.url)} offers {feeds} feed(s) besides its own page, best first:"]
    for number, candidate in enumerate(ranked, 1):
        kind = candidate.read_type or candidate.type
        if candidate.error is not None:
            holds = f"not read: {candidate.error}"
        else:
            holds = f"{candidate.upcoming or 0} upcoming, {candidate.events or 0} in all"
            if candidate.links:
                holds += f", {candidate.links} event page(s) linked"
        lines.append(f"{number:>3}. {visible(candidate.url)}")
        lines.append(f"     {kind}; {visible(holds)}; found as {visible(candidate.how)}")
    chosen, why = found.choice()
    if chosen is not None:
        lines.append(f"`techcal sources add {visible(found.url)}` would add {visible(chosen.url)}:")
        lines.append(f"  {visible(why)}")
    return "\n".join(lines)
