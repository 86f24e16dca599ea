"""Pure parsers (iCal, RSS/Atom bytes -> Event records) and feed writers."""
