"""The SQLite store: schema, sources, upsert with provenance.

The store never touches the network; everything arrives as Event records.
"""

from __future__ import annotations

from techcal.store.database import default_db_path, open_store, resolve_db_path
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
    "open_store",
    "remove_source",
    "resolve_db_path",
    "upsert_events",
]
