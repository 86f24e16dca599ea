"""``techcal demo``: the whole flow, offline, on bundled snapshots served on loopback."""
