"""Subscriptions, matching, the outbox and delivery through Apprise.

The modules, each importing only those above it:

- ``targets``: Apprise URLs and ``tag:NAME``, checked and masked;
- ``told``: the place and status a subscriber is told of an event;
- ``subscriptions``: the Subscription (a saved Query), adding and removing;
- ``index``: the set index finding the subscriptions of an event;
- ``outbox``: writing one matching run's messages;
- ``clock``: rolling windows, reminders and digests;
- ``match``: the change log matched into the outbox;
- ``messages``: the text of each message;
- ``deliver``: sending, target by target, exactly once;
- ``manage``: what the ``subscribe`` commands do and say;
- ``runner``: one notify round, and the ``techcal run`` loop.

Their SQL is in ``techcal.store`` (subscriptions, notified, outbox).
"""
