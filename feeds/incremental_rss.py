"""Reading an RSS/Atom feed again at the cost of its new or changed entries.

feedparser reads about 700 entries a second. A feed whose items are the same
as last time (its build date aside) is skipped by the caller
(``techcal.store.ingest``); within a changed feed, each ``<item>``/``<entry>`` is
recognised by the digest of its text, and only new or changed ones are read,
each inside the feed's own header so namespaces and feed-level conventions
still apply. A malformed feed is always read whole.
"""

from __future__ import annotations

import hashlib
import re

from techcal.feeds.base import ReadResult, SourceDefaults, Window
from techcal.feeds.incremental import Group, Snapshot, window_key
from techcal.feeds.rss import read_feed

_ENTRY = re.compile(rb"<(item|entry)(?:\s[^>]*)?>.*?</\1\s*>", re.S)
# feed-level dates that change on every build without any entry changing
# (only looked for in the channel header, before the first item or entry)
_VOLATILE = re.compile(rb"<(lastBuildDate|pubDate|updated|dc:date)>[^<]*</\1>", re.I)


def feed_digest(data: bytes) -> str:
    """Return a digest of a feed body that ignores the channel's build dates."""
    head, _, rest = data.partition(b"<item")
    if not rest:
        head, _, rest = data.partition(b"<entry")
    return _digest(_VOLATILE.sub(b"", head) + rest)


def read_feed_incremental(
    data: bytes,
    defaults: SourceDefaults,
    *,
    window: Window | None = None,
    previous: Snapshot | None = None,
) -> tuple[ReadResult, Snapshot]:
    """Return what :func:`read_feed` would, reading only entries new since ``previous``.

    Entries whose text is unchanged are not read again and their events are
    not repeated: their source uids are in ``result.unchanged``, their pages
    are repeated as they were.
    """
    window = window or Window.around()
    wkey = window_key(window)
    digest = _digest(data)
    blocks = [m for m in _ENTRY.finditer(data)]
    if not blocks:
        result = read_feed(data, defaults, window=window)
        return result, Snapshot(digest, wkey, warnings=list(result.warnings))
    head = data[: blocks[0].start()]
    tail = data[blocks[-1].end() :]
    context = _digest(_VOLATILE.sub(b"", head) + tail + repr(defaults).encode())
    keys = [_digest(m.group(0)) for m in blocks]

    if previous is None or previous.groups is None or previous.context != context:
        # cold: one whole read; entries are learnt one by one from the next change on
        result = read_feed(data, defaults, window=window)
        clean = result.recognised and not result.failed_entries and not result.warnings
        groups: dict[str, Group] | None = {} if clean else None
        return result, Snapshot(digest, wkey, context, False, list(result.warnings), groups)

    result = ReadResult()
    kept: dict[str, Group] = {}
    for match, key in zip(blocks, keys, strict=True):
        if key in kept:
            continue  # the same entry twice: read_feed gives it once
        group = previous.groups.get(key)
        if group is not None:
            result.unchanged.extend(group.uids)
        else:
            read = read_feed(head + match.group(0) + tail, defaults, window=window)
            if read.failed_entries or not read.recognised or read.warnings:
                # an entry that breaks or troubles the feed: read it whole, as it is
                whole = read_feed(data, defaults, window=window)
                return whole, Snapshot(digest, wkey, context, False, list(whole.warnings))
            group = Group.of(key, False, read.events, [], 0, read.pages)
            result.events.extend(read.events)
        kept[key] = group
        result.pages.extend(group.pages)
    uids = [e.source_uid for e in result.events] + result.unchanged
    if len(uids) != len(set(uids)):
        # two entries share an id: which one a whole read keeps depends on order
        whole = read_feed(data, defaults, window=window)
        return whole, Snapshot(digest, wkey, context, False, list(whole.warnings))
    result.pages = list(dict.fromkeys(result.pages))
    return result, Snapshot(digest, wkey, context, False, [], kept)


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()
