"""The names of the schema migrations, without importing them (or sqlite-utils).

``open_reader`` compares a database's applied migrations with this list to
skip the migration machinery when nothing is pending; a test checks that it
equals ``techcal.store.schema.known_migrations()``.
"""

MIGRATION_NAMES = (
    "m001_initial",
    "m002_source_crawl_state",
    "m003_reader_state",
    "m004_listing_state",
    "m005_search",
)
