"""The SQLite store: schema, sources, upsert with provenance, search.

The store never touches the network; everything arrives as Event records.
Names are imported from their modules on first use, so that ``techcal
search`` loads only what searching needs (see ``tests/test_search_cli.py``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "default_db_path": "techcal.store.database",
    "open_store": "techcal.store.database",
    "open_reader": "techcal.store.database",
    "resolve_db_path": "techcal.store.database",
    "UpsertResult": "techcal.store.events",
    "event_uid": "techcal.store.events",
    "upsert_events": "techcal.store.events",
    "SOURCE_TYPES": "techcal.store.sources",
    "Source": "techcal.store.sources",
    "add_source": "techcal.store.sources",
    "add_sources": "techcal.store.sources",
    "get_source": "techcal.store.sources",
    "list_sources": "techcal.store.sources",
    "remove_source": "techcal.store.sources",
}

__all__ = [
    "SOURCE_TYPES",
    "Source",
    "UpsertResult",
    "add_source",
    "add_sources",
    "default_db_path",
    "event_uid",
    "get_source",
    "list_sources",
    "open_reader",
    "open_store",
    "remove_source",
    "resolve_db_path",
    "upsert_events",
]

if TYPE_CHECKING:
    from techcal.store.database import default_db_path, open_reader, open_store, resolve_db_path
    from techcal.store.events import UpsertResult, event_uid, upsert_events
    from techcal.store.sources import (
        SOURCE_TYPES,
        Source,
        add_source,
        add_sources,
        get_source,
        list_sources,
        remove_source,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'techcal.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
