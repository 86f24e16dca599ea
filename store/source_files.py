"""Source lists in files: TOML (techcal's own format) and OPML (as RSS readers export).

TOML, as in ``data/sources.toml``::

    [[source]]
    name = "calagator"
    url = "https://calagator.org/events.ics"
    kind = "other"          # user-group | lug | college | charity | conference | other
    type = "ics"            # auto | ics | rss | json | html
    city = "Portland, OR"
    topics = ["open-source"]

OPML: every ``<outline>`` with an ``xmlUrl`` is a source; techcal's own
fields travel as ``techcal:*`` attributes so an export imports back whole.
"""

from __future__ import annotations

import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import tomli_w

from techcal.errors import SourceError, SourceFileError
from techcal.store.sources import Source, check_source, normalise_url

OPML_NS = "urn:x-techcal:opml:1"
_TOML_KEYS = {"name", "url", "kind", "type", "city", "topics", "enabled"}


def read_sources(path: Path) -> list[Source]:
    """Return the sources listed in a TOML or OPML file, all checked.

    Raises SourceFileError naming the file, the entry and the problem.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceFileError(path, f"cannot read it ({exc.strerror})") from None
    head = data.lstrip()[:200].lower()
    if path.suffix.lower() in (".opml", ".xml") or head.startswith(b"<?xml") or b"<opml" in head:
        sources = _read_opml(path, data)
    else:
        sources = _read_toml(path, data)
    names: dict[str, int] = {}
    urls: dict[str, int] = {}
    for index, source in enumerate(sources, 1):
        for seen, key in ((names, source.name), (urls, source.url)):
            if not key:
                continue
            if key in seen:
                raise SourceFileError(path, f"entry {index} repeats {key!r} of entry {seen[key]}")
            seen[key] = index
    return sources


def _read_toml(path: Path, data: bytes) -> list[Source]:
    try:
        doc = tomllib.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise SourceFileError(path, "is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise SourceFileError(path, f"is not valid TOML ({exc})") from None
    entries = doc.get("source")
    if not isinstance(entries, list) or not entries:
        raise SourceFileError(path, "has no [[source]] entries")
    sources = []
    for index, entry in enumerate(entries, 1):
        label = f"entry {index}" + (f" ({entry['name']})" if "name" in entry else "")
        unknown = set(entry) - _TOML_KEYS
        if unknown:
            raise SourceFileError(path, f"{label}: unknown key(s) {', '.join(sorted(unknown))}")
        if "url" not in entry:
            raise SourceFileError(path, f"{label}: missing url")
        topics = entry.get("topics", [])
        if isinstance(topics, str):
            topics = [topics]
        try:
            url = normalise_url(str(entry["url"]))
            source = Source(
                name=str(entry.get("name") or ""),  # made up from the URL when added
                url=url,
                kind=str(entry.get("kind", "other")),
                type=str(entry.get("type", "auto")),
                city=entry.get("city"),
                topics=tuple(str(t) for t in topics),
                enabled=bool(entry.get("enabled", True)),
            )
            sources.append(check_source(source))
        except SourceError as exc:
            raise SourceFileError(path, f"{label}: {exc}") from None
    return sources


def _read_opml(path: Path, data: bytes) -> list[Source]:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise SourceFileError(path, f"is not valid OPML/XML ({exc})") from None
    if root.tag != "opml":
        raise SourceFileError(path, f"root element is <{root.tag}>, not <opml>")
    sources = []
    for index, outline in enumerate(root.iter("outline"), 1):
        url = outline.get("xmlUrl") or outline.get("xmlurl")
        if not url:
            continue  # a folder/category outline
        title = outline.get("title") or outline.get("text") or ""
        label = f"outline {index}" + (f" ({title})" if title else "")
        ours = {k.split("}", 1)[1]: v for k, v in outline.attrib.items() if k.startswith("{")}
        outline_type = (outline.get("type") or "").lower()
        source_type = ours.get("type") or ("rss" if outline_type in ("rss", "atom") else "auto")
        topics = ours.get("topics") or outline.get("category") or ""
        try:
            url = normalise_url(url)
            source = Source(
                name=ours.get("name") or "",  # made up from the URL when added
                url=url,
                kind=ours.get("kind", "other"),
                type=source_type,
                city=ours.get("city"),
                topics=tuple(t.strip() for t in topics.split(",") if t.strip()),
            )
            sources.append(check_source(source))
        except SourceError as exc:
            raise SourceFileError(path, f"{label}: {exc}") from None
    if not sources:
        raise SourceFileError(path, "has no <outline> with an xmlUrl")
    return sources


def sources_to_toml(sources: list[Source]) -> str:
    """Return ``sources`` in the TOML format of data/sources.toml."""
    entries: list[dict[str, Any]] = []
    for s in sources:
        entry: dict[str, Any] = {"name": s.name, "url": s.url, "kind": s.kind, "type": s.type}
        if s.city:
            entry["city"] = s.city
        entry["topics"] = list(s.topics)
        if not s.enabled:
            entry["enabled"] = False
        entries.append(entry)
    return tomli_w.dumps({"source": entries})


def sources_to_opml(sources: list[Source], title: str = "techcal sources") -> str:
    """Return ``sources`` as OPML 2.0 that feed readers and techcal both import."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<opml version="2.0" xmlns:techcal="{OPML_NS}">',
        f"  <head><title>{_escape(title)}</title></head>",
        "  <body>",
    ]
    for s in sources:
        attrs = {
            "text": s.name,
            "title": s.name,
            "type": "rss" if s.type == "rss" else "link",
            "xmlUrl": s.url,
            "techcal:name": s.name,
            "techcal:kind": s.kind,
            "techcal:type": s.type,
        }
        if s.city:
            attrs["techcal:city"] = s.city
        if s.topics:
            attrs["category"] = ",".join(s.topics)
            attrs["techcal:topics"] = ",".join(s.topics)
        rendered = " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items())
        lines.append(f"    <outline {rendered}/>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
