"""Writers: stored events out as text (table, JSON, CSV), iCalendar and Atom."""
