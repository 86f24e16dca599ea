"""The time zones of a calendar's times: TZIDs as calendars write them, floating and UTC times."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import x_wr_timezone
from icalendar.timezone.tzid import tzid_from_tzinfo
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

_UTC_NAMES = frozenset(
    {"UTC", "Z", "GMT", "Etc/UTC", "Etc/GMT", "Etc/UCT", "UCT", "Etc/Zulu", "Zulu", "Universal"}
)


class Zones(x_wr_timezone.UTCChangingWalker):
    """Gives times their meaning: floating ones get the floating zone, UTC ones the X-WR zone.

    x-wr-timezone's own walker uses one zone for both; the source's configured
    zone must win for floating times while Google's X-WR-TIMEZONE still
    decides how UTC times (and the DST of their RRULEs) are meant.
    """

    def __init__(self, utc_zone: tzinfo | None, floating_zone: tzinfo) -> None:
        super().__init__(floating_zone)
        self.utc_zone = utc_zone
        self.saw_floating = False

    def walk_value_datetime(self, dt: datetime) -> datetime:
        # not is_Floating(): it tests tzname(), which is None for Outlook's
        # VTIMEZONEs (they have no TZNAME), and would move them to another zone
        if dt.tzinfo is None:
            self.saw_floating = True
            return dt.replace(tzinfo=self.new_timezone)
        if self.utc_zone is not None and self.is_UTC(dt):
            return dt.astimezone(self.utc_zone)
        return dt


@functools.lru_cache(maxsize=512)
def iana_name(name: str) -> str | None:
    """Return the IANA zone for a TZID as calendars write it (Windows and vendor ids too).

    >>> iana_name("W. Europe Standard Time"), iana_name("/mozilla.org/20050126_1/Asia/Tokyo")
    ('Europe/Berlin', 'Asia/Tokyo')
    """
    # not icalendar's tzp.timezone(): it caches each file's VTIMEZONEs under their
    # TZID, so after one Outlook file "Pacific Standard Time" no longer has a key
    name = name.strip().strip('"')
    parts = name.strip("/").split("/")
    # "/vendor/version/Region/City" (Evolution, Lightning): the longest real zone wins
    candidates = [name, WINDOWS_TO_OLSON.get(name, "")]
    candidates += ["/".join(parts[i:]) for i in range(len(parts))]
    for candidate in candidates:
        if candidate in _UTC_NAMES:
            return "UTC"
        if not candidate or candidate.startswith(("/", ".")) or ".." in candidate:
            continue
        try:
            ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            continue
        return "UTC" if candidate in _UTC_NAMES else candidate
    return None


def zone_name(zone: tzinfo | None) -> str | None:
    """Return the IANA name of a parsed time zone, or None for zones that have none."""
    key = getattr(zone, "key", None)
    if key:
        return "UTC" if key in _UTC_NAMES else key
    tzid = tzid_from_tzinfo(zone) if zone is not None else None
    if tzid is None and zone is not None and zone.utcoffset(None) == timedelta(0):
        return "UTC"  # datetime.timezone.utc and friends
    return iana_name(tzid.strip('"')) if tzid else None
