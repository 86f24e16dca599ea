"""Publishing: filtered iCalendar, Atom and JSON feeds, a web page, a server, a static site.

- :mod:`techcal.publish.feeds` turns a search query into feed bytes, with a
  strong ETag and a Last-Modified;
- :mod:`techcal.publish.server` serves them (Starlette on uvicorn);
- :mod:`techcal.publish.site` writes them as files for any static host.
"""
