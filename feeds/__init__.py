"""The readers: iCal, RSS/Atom and web pages -> Event records (pure: no network, no database)."""
