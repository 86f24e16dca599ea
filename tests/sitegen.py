"""Bodies shaped like real event sources, with dates relative to a given "now".

Crawl tests and benchmarks serve these from a loopback server. Each maker
follows how its platform really exports: Meetup's iCal (VTIMEZONE, TZID
times, UID ``event_<id>@meetup.com``), a WordPress feed whose entries are
plain posts linking to event pages, an Atom feed with JSON-LD in entry
content, and an events listing whose detail pages carry schema.org JSON-LD
(as WordPress "The Events Calendar", Localist and most CMSs do).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from html import escape
from zoneinfo import ZoneInfo

PACIFIC = ZoneInfo("America/Los_Angeles")


@dataclass
class Ev:
    """One made-up event."""

    id: str
    title: str
    start: datetime
    hours: float = 2.0
    venue: str = "Portland State University, Engineering Building"
    street: str = "1930 SW 4th Ave"
    city: str = "Portland"
    region: str = "OR"
    description: str = "Talks, demos and pizza. Everyone welcome."

    @property
    def end(self) -> datetime:
        return self.start + timedelta(hours=self.hours)


def monthly(prefix: str, title: str, now: datetime, count: int, *, first_days: int = 3) -> list[Ev]:
    """Return ``count`` meetings of a group, one a week from ``first_days`` days after ``now``."""
    base = now.astimezone(PACIFIC).replace(hour=18, minute=30, second=0, microsecond=0)
    return [
        Ev(f"{prefix}-{n}", f"{title} #{n + 1}", base + timedelta(days=first_days + 7 * n))
        for n in range(count)
    ]


def _ics_time(moment: datetime) -> str:
    return moment.astimezone(PACIFIC).strftime("%Y%m%dT%H%M%S")


_PACIFIC_VTIMEZONE = """BEGIN:VTIMEZONE\r
TZID:America/Los_Angeles\r
X-LIC-LOCATION:America/Los_Angeles\r
BEGIN:DAYLIGHT\r
TZOFFSETFROM:-0800\r
TZOFFSETTO:-0700\r
TZNAME:PDT\r
DTSTART:19700308T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
TZOFFSETFROM:-0700\r
TZOFFSETTO:-0800\r
TZNAME:PST\r
DTSTART:19701101T020000\r
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r
END:STANDARD\r
END:VTIMEZONE\r
"""


def meetup_ics(group: str, events: list[Ev], *, stamp: datetime) -> bytes:
    """Return a Meetup-style group calendar (DTSTAMP is the time of the request, as Meetup's)."""
    lines = [
        "BEGIN:VCALENDAR\r\n",
        "VERSION:2.0\r\n",
        "PRODID:-//Meetup//Meetup Events v1.0//EN\r\n",
        "CALSCALE:GREGORIAN\r\n",
        "METHOD:PUBLISH\r\n",
        f"X-WR-CALNAME:{group}\r\n",
        "X-ORIGINAL-URL:https://www.meetup.com/example-group/events/ical/\r\n",
        _PACIFIC_VTIMEZONE,
    ]
    for ev in events:
        lines += [
            "BEGIN:VEVENT\r\n",
            f"DTSTAMP:{stamp.strftime('%Y%m%dT%H%M%SZ')}\r\n",
            f"DTSTART;TZID=America/Los_Angeles:{_ics_time(ev.start)}\r\n",
            f"DTEND;TZID=America/Los_Angeles:{_ics_time(ev.end)}\r\n",
            "STATUS:CONFIRMED\r\n",
            f"SUMMARY:{ev.title}\r\n",
            f"DESCRIPTION:{group}\\n{ev.description}\r\n",
            "CLASS:PUBLIC\r\n",
            f"LOCATION:{ev.venue} ({ev.street}\\, {ev.city}\\, {ev.region})\r\n",
            f"URL:https://www.meetup.com/example-group/events/{ev.id}/\r\n",
            f"UID:event_{ev.id}@meetup.com\r\n",
            "END:VEVENT\r\n",
        ]
    lines.append("END:VCALENDAR\r\n")
    return "".join(lines).encode()


def wordpress_rss(site: str, posts: list[tuple[str, str]], *, built: datetime) -> bytes:
    """Return a WordPress RSS 2.0 feed of plain posts (title, absolute link): no event data."""
    items = "".join(
        f"""
    <item>
      <title>{escape(title)}</title>
      <link>{escape(link)}</link>
      <guid isPermaLink="false">{escape(link)}?p={n}</guid>
      <pubDate>{format_datetime(built - timedelta(days=n))}</pubDate>
      <description><![CDATA[Join us! Details on the event page.]]></description>
    </item>"""
        for n, (title, link) in enumerate(posts)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
  <channel>
    <title>{escape(site)}</title>
    <link>{escape(site)}</link>
    <description>News and events</description>
    <lastBuildDate>{format_datetime(built)}</lastBuildDate>
    <generator>https://wordpress.org/?v=6.6.2</generator>{items}
  </channel>
</rss>
""".encode()


def jsonld(ev: Ev, url: str) -> dict[str, object]:
    """Return the schema.org Event of ``ev`` as CMS event pages embed it."""
    return {
        "@context": "https://schema.org",
        "@type": "Event",
        "name": ev.title,
        "description": ev.description,
        "url": url,
        "startDate": ev.start.isoformat(),
        "endDate": ev.end.isoformat(),
        "eventStatus": "https://schema.org/EventScheduled",
        "eventAttendanceMode": "https://schema.org/OfflineEventAttendanceMode",
        "location": {
            "@type": "Place",
            "name": ev.venue,
            "address": {
                "@type": "PostalAddress",
                "streetAddress": ev.street,
                "addressLocality": ev.city,
                "addressRegion": ev.region,
                "addressCountry": "US",
            },
        },
        # each made-up group organizes its own events ("Group 3 meetup #1" -> "Group 3 meetup")
        "organizer": {"@type": "Organization", "name": ev.title.split(" #")[0]},
        "offers": {"@type": "Offer", "price": "0", "priceCurrency": "USD"},
    }


def atom_jsonld(title: str, events: list[Ev], base: str, *, updated: datetime) -> bytes:
    """Return an Atom feed whose entries carry their event as JSON-LD in the content."""

    def content(ev: Ev) -> str:
        return escape(_script(jsonld(ev, f"{base}/talks/{ev.id}")) + f"<p>{ev.description}</p>")

    entries = "".join(
        f"""
  <entry>
    <title>{escape(ev.title)}</title>
    <id>{escape(base)}/atom/{ev.id}</id>
    <link rel="alternate" href="{escape(base)}/talks/{ev.id}"/>
    <updated>{updated.isoformat()}</updated>
    <content type="html">{content(ev)}</content>
  </entry>"""
        for ev in events
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>{escape(title)}</title>
  <id>{escape(base)}/atom</id>
  <updated>{updated.isoformat()}</updated>{entries}
</feed>
""".encode()


def _script(data: dict[str, object]) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def _page(title: str, body: str, head: str = "") -> bytes:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/site.css">
{head}
</head>
<body>
<nav><a href="/">Home</a> <a href="/about/">About</a> <a href="/contact/">Contact</a>
<a href="/blog/">Blog</a></nav>
<main>
{body}
</main>
<footer><a href="/privacy/">Privacy</a></footer>
</body>
</html>
""".encode()


def listing_html(
    title: str, links: list[tuple[str, str]], *, next_page: str | None = None
) -> bytes:
    """Return an events listing page: titles linking to event pages, maybe a next page."""
    items = "\n".join(
        f'<li class="event"><a href="{escape(href)}">{escape(text)}</a></li>'
        for text, href in links
    )
    nav = (
        f'<a class="next" rel="next" href="{escape(next_page)}">Next events</a>'
        if next_page
        else ""
    )
    return _page(title, f"<h1>{escape(title)}</h1>\n<ul>\n{items}\n</ul>\n{nav}")


def detail_html(ev: Ev, url: str) -> bytes:
    """Return an event's own page with its schema.org JSON-LD."""
    when = ev.start.strftime("%A, %B %d, %Y, %I:%M %p")
    body = (
        f'<article><h1>{escape(ev.title)}</h1><p class="when">{when}</p>'
        f'<p class="where">{escape(ev.venue)}, {escape(ev.street)}</p>'
        f"<p>{escape(ev.description)}</p></article>"
    )
    return _page(ev.title, body, head=_script(jsonld(ev, url)))
