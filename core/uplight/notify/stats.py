"""Delivery statistics kept in memory, for ``/metrics`` and the health dashboard.

The worker updates them as it delivers and refreshes the queue facts from the
database after each pass, so a scrape reads memory only (never SQLite).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

RESULTS = ("sent", "failed", "dead")


@dataclass(frozen=True, slots=True)
class ChannelFacts:
    pending: int = 0  # waiting or retrying
    dead: int = 0  # rows still in the outbox that gave up
    oldest_pending: dt.datetime | None = None
    last_success: dt.datetime | None = None
    last_failure: dt.datetime | None = None
    last_error: str | None = None  # scrubbed of every option value


class NotificationStats:
    def __init__(self, channels: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()  # a scrape may one day run on another thread
        self._counts: Counter[tuple[str, str]] = Counter()
        self._channels: dict[str, ChannelFacts] = {c: ChannelFacts() for c in channels}

    def count(self, channel: str, result: str, at: dt.datetime, error: str | None = None) -> None:
        with self._lock:
            self._counts[(channel, result)] += 1
            facts = self._channels.get(channel, ChannelFacts())
            if result == "sent":
                facts = replace(facts, last_success=at)
            else:
                facts = replace(facts, last_failure=at, last_error=error)
            self._channels[channel] = facts

    def set_queue(
        self,
        queue: dict[str, tuple[int, int, dt.datetime | None]],
        last_sent: dict[str, dt.datetime],
    ) -> None:
        """Replace pending/dead/oldest per channel (from the outbox) in one step."""
        with self._lock:
            for channel in set(self._channels) | set(queue) | set(last_sent):
                facts = self._channels.get(channel, ChannelFacts())
                pending, dead, oldest = queue.get(channel, (0, 0, None))
                success = facts.last_success or last_sent.get(channel)
                self._channels[channel] = replace(
                    facts, pending=pending, dead=dead, oldest_pending=oldest, last_success=success
                )

    def snapshot(self) -> tuple[dict[str, ChannelFacts], Counter[tuple[str, str]]]:
        with self._lock:
            return dict(self._channels), Counter(self._counts)

    @property
    def queue_depth(self) -> int:
        with self._lock:
            return sum(f.pending for f in self._channels.values())
