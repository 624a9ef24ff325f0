"""Built-in notification channels: one module per ``type`` of a ``[[notifiers]]`` table.

Each module registers its ``Notifier`` with a hookimpl, exactly as a third-party
channel would. A channel only delivers: ``send(options, message)`` makes one
attempt and raises on failure; the host's outbox worker retries, times out and
records the outcome. ``_format`` holds what the channels share: the HTTP post
with secret-free errors and the wording of the structured facts.
"""
