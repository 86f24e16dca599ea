"""Reading places out of free text: online meeting links, venue and address."""

from __future__ import annotations

import re

#: hosts of online meeting services; a link to one of them makes an event online
ONLINE_HOSTS = (
    "zoom.us",
    "zoom.com",
    "meet.google.com",
    "teams.microsoft.com",
    "teams.live.com",
    "meet.jit.si",
    "jitsi",
    "webex.com",
    "gotomeeting.com",
    "bigbluebutton",
    "whereby.com",
    "discord.gg",
    "discord.com",
    "twitch.tv",
    "youtube.com/live",
    "youtu.be",
    "crowdcast.io",
    "hopin.com",
    "streamyard.com",
    "gather.town",
    "meet.",
    "bbb.",
    "chime.aws",
    "livestorm.co",
    "riverside.fm",
)
_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.I)
_ONLINE_WORDS = re.compile(
    r"^\s*(online|virtual|remote|zoom|web ?conference|livestream|internet)\b", re.I
)


def find_urls(text: str | None) -> list[str]:
    """Return the http(s) links in ``text``, in order, trailing punctuation removed."""
    if not text:
        return []
    return [u.rstrip(".,;:!?") for u in _URL.findall(text)]


def online_url(text: str | None) -> str | None:
    """Return the first online-meeting link in ``text``, if any.

    >>> online_url("Join at https://us02web.zoom.us/j/8123456789?pwd=abc.")
    'https://us02web.zoom.us/j/8123456789?pwd=abc'
    >>> online_url("https://pdxlinux.org/meetings") is None
    True
    """
    for url in find_urls(text):
        lowered = url.lower()
        if any(host in lowered for host in ONLINE_HOSTS):
            return url
    return None


def says_online(text: str | None) -> bool:
    """Return True when a LOCATION-like text says the event is online.

    >>> says_online("Online event"), says_online("Virtual (Zoom)")
    (True, True)
    >>> says_online("Lucky Lab, Portland")
    False
    """
    if not text:
        return False
    return bool(_ONLINE_WORDS.match(text)) or online_url(text) is not None


def split_location(text: str | None) -> tuple[str | None, str | None]:
    """Return (venue, address) from a one-line LOCATION.

    The first comma-separated part is the venue when the rest looks like an
    address (has a digit or several parts); a bare address stays an address.

    >>> split_location("Lucky Lab Brew Pub, 915 SE Hawthorne Blvd, Portland, OR 97214")
    ('Lucky Lab Brew Pub', '915 SE Hawthorne Blvd, Portland, OR 97214')
    >>> split_location("123 Main St, Springfield")
    (None, '123 Main St, Springfield')
    >>> split_location("Room 301")
    ('Room 301', None)
    """
    if not text:
        return None, None
    cleaned = " ".join(text.replace("\\,", ",").replace("\n", ", ").split()).strip(" ,")
    if not cleaned:
        return None, None
    parts = [p.strip() for p in cleaned.split(",") if p.strip()]
    if len(parts) == 1:
        return parts[0], None
    if re.match(r"^\d", parts[0]):
        return None, ", ".join(parts)
    return parts[0], ", ".join(parts[1:])
