"""What an operator sees of a channel, and a test message sent through one.

A test goes straight through the channel plugin with the config's options, not
through the outbox: ``uplight notify test CHANNEL`` works whether or not a
server runs, and both it and the console's "Send a test" show the channel's own
error at once. That error, a channel's last error and a dead message's error
are scrubbed of every option value (``scrub.py``), as the worker's log is: a
webhook URL, a token or a password never reaches a page or a terminal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ..config import Config
from ..notifiers import Notifier
from . import messages
from .config import NotifierConfig
from .scrub import describe_error, scrub
from .stats import ChannelFacts, NotificationStats
from .store import OutboxRow
from .worker import SEND_TIMEOUT, ChannelUnavailable, send_bounded, send_limit


@dataclass(frozen=True, slots=True)
class SendResult:
    channel: str
    type: str
    error: str | None  # None: sent; else "Type: message", scrubbed and bounded

    @property
    def sent(self) -> bool:
        return self.error is None


async def send_test(
    channel: NotifierConfig,
    notifier_types: Mapping[str, type[Notifier]],
    at: dt.datetime,
    *,
    timeout: float = SEND_TIMEOUT,
) -> SendResult:
    """Send one test message through ``channel`` now, under the worker's send timeout.

    A disabled channel is sent to as well: testing one before enabling it is the point.
    """
    message = messages.test_notification(channel.id, at)
    try:
        notifier_type = notifier_types.get(channel.type)
        if notifier_type is None:
            raise ChannelUnavailable(f"notifier type {channel.type!r} is not installed")
        limit = send_limit(channel.options, timeout)
        await send_bounded(notifier_type(), channel.options, message, limit)
    except Exception as exc:
        return SendResult(channel.id, channel.type, describe_error(exc, channel.options))
    return SendResult(channel.id, channel.type, None)


@dataclass(frozen=True, slots=True)
class ChannelView:
    """One channel's delivery facts; ``type`` is None for a channel no longer in the
    config whose messages are still in the outbox."""

    id: str
    type: str | None
    enabled: bool
    facts: ChannelFacts  # its last_error scrubbed again with today's options


def channel_views(config: Config, stats: NotificationStats) -> list[ChannelView]:
    """The configured channels in config order, then any other the outbox still holds."""
    facts, _ = stats.snapshot()
    views = []
    for channel in config.notifiers:
        found = facts.get(channel.id) or ChannelFacts()
        if found.last_error is not None:
            # Stored with the options of its time; a secret changed since is hidden too.
            found = replace(found, last_error=scrub(found.last_error, channel.options))
        views.append(ChannelView(channel.id, channel.type, channel.enabled, found))
    configured = {c.id for c in config.notifiers}
    for channel_id in sorted(set(facts) - configured):
        views.append(ChannelView(channel_id, None, False, facts[channel_id]))
    return views


@dataclass(frozen=True, slots=True)
class DeadMessage:
    """A message its channel gave up on (its retry window passed), as the outbox keeps it."""

    id: int
    event: str
    title: str
    incident_id: int | None
    monitor_id: str | None
    queued_at: dt.datetime
    attempts: int
    last_error: str | None  # scrubbed
    summary: bool  # it stood for several messages the channel's minimum gap held


@dataclass(frozen=True, slots=True)
class DeadPage:
    items: list[DeadMessage]
    next_before: int | None  # the id the next (older) page starts below; None on the last


def dead_page(rows: Sequence[OutboxRow], limit: int, options: object) -> DeadPage:
    """``rows``: up to ``limit + 1`` dead rows, newest first (the extra one says there is more)."""
    shown = rows[:limit]
    items = [
        DeadMessage(
            id=row.id,
            event=row.event,
            title=row.message.title,
            incident_id=row.incident_id,
            monitor_id=row.monitor_id,
            queued_at=row.created_at,
            attempts=row.attempts,
            last_error=None if row.last_error is None else scrub(row.last_error, options),
            summary=row.is_summary,
        )
        for row in shown
    ]
    more = len(rows) > limit and bool(shown)
    return DeadPage(items, shown[-1].id if more else None)
