"""What a subscriber is told of an event: its place and status, what a change is measured by."""

from __future__ import annotations

from techcal.event import StoredEvent


def place_text(event: StoredEvent) -> str:
    """Return the place a subscriber is told about (what a move changes)."""
    parts = (event.venue, event.address or event.city)
    text = ", ".join(p for p in parts if p)
    if not text and event.online:
        return "online"
    return text


def told_status(event: StoredEvent) -> str:
    """Return "cancelled" for an event cancelled or no longer listed, else "on"."""
    return "cancelled" if event.status == "cancelled" or event.removed_at else "on"
