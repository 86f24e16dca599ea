"""techcal: local tech events gathered into one SQLite store.

The repository root is the ``techcal`` package (see pyproject.toml); its
parts are ``techcal.event`` (the Event record), ``techcal.store`` (SQLite),
``techcal.feeds`` (parsers and writers), ``techcal.crawler`` (Scrapy),
``techcal.notifier`` (Apprise) and ``techcal.cli`` (the command line).
"""

from __future__ import annotations

__version__ = "0.1.0"
