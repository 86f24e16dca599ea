"""Subscriptions, matching, the outbox and delivery through Apprise."""
