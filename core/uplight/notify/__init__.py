"""Notifications: routing events to channels through a durable outbox.

``config`` (the ``[[notifiers]]`` keys), ``messages`` (wording), ``router``
(which channels get an event, written inside the event's transaction),
``worker`` (delivery with backoff, minimum gap, reminders), ``certs`` (the
certificate warning), ``stats`` (in-memory counters for metrics and the
dashboard) and ``service`` (the whole, as the runtime holds it).

Kept import-free: ``uplight.config`` imports ``uplight.notify.config``.
"""
