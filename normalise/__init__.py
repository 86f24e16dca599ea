"""Normalising: what every record gets before it is kept (cleaning, topics, places, dedupe)."""
