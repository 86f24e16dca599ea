"""What the readers and writers of the schema share, without importing sqlite-utils.

``open_reader`` compares a database's applied migrations with
MIGRATION_NAMES to skip the migration machinery when nothing is pending; a
test checks that it equals ``techcal.store.schema.known_migrations()``.
"""

#: columns of the full-text index over events
FTS_COLUMNS = ("title", "description", "venue", "city")

MIGRATION_NAMES = (
    "m001_initial",
    "m002_source_crawl_state",
    "m003_reader_state",
    "m004_listing_state",
    "m005_search",
    "m006_dedupe",
    "m007_feeds",
    "m008_notify",
    "m009_drop_stored_blocks",
    "m010_placeless_index",
    "m011_match_index",
    "m012_lean_provenance",
    "m013_series",
)


#: index the topics and places of events with ids above ?: after a batch insert
INDEX_TOPICS_SINCE = (
    "INSERT OR IGNORE INTO event_topics (topic, start_utc, event_id)"
    " SELECT j.value, e.start_utc, e.id FROM events e, json_each(e.topics) j WHERE e.id > ?"
)
INDEX_PLACES_SINCE = (
    "INSERT INTO events_rtree (id, t0, t1, lat0, lat1, lon0, lon1)"
    " SELECT id, start_utc, start_utc, lat, lat, lon, lon FROM events"
    " WHERE id > ? AND lat IS NOT NULL AND lon IS NOT NULL"
)
