"""Reminders while an incident is still active, for channels with ``remind_every``.

Reminder ``n`` of an incident on a channel is due ``n * remind_every`` after the
channel's ``incident_opened`` message was queued (after the incident started,
if the channel never got one). The worker plans them on each pass from the
clock; the key names (channel, incident, n), so a reminder is queued once even
across restarts. After a long pause (uplight stopped, a maintenance window)
only the latest missed reminder is sent, not one per missed period.
"""

from __future__ import annotations

import datetime as dt
import math

import aiosqlite

from ..db.store import Store
from ..incidents import store as db_incidents
from ..incidents.models import Incident
from . import messages
from . import store as outbox
from .config import NotifierConfig
from .router import Router


class ReminderPlanner:
    def __init__(self, router: Router, store: Store) -> None:
        self.router = router
        self.store = store

    @property
    def active(self) -> bool:
        return any(n.sends("reminder") for n in self.router.config.notifiers)

    async def plan(self, now: dt.datetime) -> dt.datetime | None:
        """Queue the reminders due at ``now``; return when the next one falls due."""
        if not self.active:
            return None
        incidents = await db_incidents.active_incidents(self.store)
        if not incidents:
            return None
        opened = await outbox.opened_at(self.store, [i.id for i in incidents])
        due: list[tuple[NotifierConfig, Incident, int]] = []
        upcoming: list[dt.datetime] = []
        for incident in incidents:
            for channel in self.router.channels(incident.monitor_id, "reminder"):
                assert channel.remind_every is not None  # sends("reminder") requires it
                every = dt.timedelta(seconds=channel.remind_every)
                base = opened.get((channel.id, incident.id), incident.started_at)
                number = math.floor((now - base) / every)
                if number >= 1:
                    due.append((channel, incident, number))
                upcoming.append(base + (max(number, 0) + 1) * every)
        if due:
            await self.store.write(lambda db: self._queue(db, due, now))
        return min(upcoming, default=None)

    async def _queue(
        self,
        db: aiosqlite.Connection,
        due: list[tuple[NotifierConfig, Incident, int]],
        now: dt.datetime,
    ) -> None:
        for channel, incident, number in due:
            current = await db_incidents.incident_in(db, incident.id)
            if current is None or not current.active:
                continue  # ended since it was read: no reminder after the recovery
            message = messages.reminder(
                channel=channel.id,
                number=number,
                monitor_id=incident.monitor_id,
                monitor_name=self.router.monitor_name(incident.monitor_id, incident.monitor_name),
                incident_id=incident.id,
                severity=current.severity,
                started_at=incident.started_at,
                at=now,
                url=self.router.incident_url(incident),
                operator_url=self.router.operator_url(incident.id),
                why=self.router.failures.get(incident.monitor_id, messages.NO_WHY),
            )
            await self.router.queue(db, [channel], lambda _, m=message: m)
