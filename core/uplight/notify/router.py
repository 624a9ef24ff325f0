"""Which channels an event goes to, and queueing it inside the event's transaction.

A monitor's channels are its ``notify`` list, else ``[defaults] notify``. Of
those, a channel gets an event when it is enabled and the event is one of its
kinds (``events``, ``send_updates``, ``remind_every``). While a maintenance
window covers the monitor, automatic events (opened, severity changed,
reminder, certificate) are not queued for channels with
``notify_during_maintenance = false``. Two exceptions are deliberate: an
operator's update is always queued (a person wrote it to be read), and the end
of an incident is always queued for a channel that was told it opened.

Every monitor's incidents are routed, on a page or not. A message links the
incident's public permalink (``url``) only when its monitor is on a page (a
private incident has none: the permalink would be a 404); every message about
an incident links it in the operator's view (``operator_url``).

A manual incident has no monitor: its channels are those of the monitors it
names (each one's ``notify``, else ``[defaults] notify``), or ``[defaults]
notify`` when it names none. An operator opened it to be read, so maintenance
silences none of its events.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, Literal

import aiosqlite

from ..clock import Clock
from ..config import Config, MonitorConfig
from ..incidents.engine import IncidentEvent
from ..incidents.models import Incident, IncidentUpdate, incident_title
from ..models import CheckStatus, ResultRecord
from ..notifiers import Notification
from . import messages
from . import store as outbox
from .config import MAINTENANCE_SILENCED, NotifierConfig
from .scrub import scrub_reason

log = logging.getLogger(__name__)

_EVENT_OF_TRANSITION = {
    "opened": "incident_opened",
    "severity_changed": "severity_changed",
    "ended": "incident_ended",
}


class Router:
    def __init__(
        self,
        config: Config,
        *,
        in_maintenance: Callable[[str], bool],
        clock: Clock,
        on_queued: Callable[[], None] = lambda: None,
        is_public: Callable[[str], bool] = lambda monitor_id: True,
    ) -> None:
        self.config = config
        self.clock = clock
        self._in_maintenance = in_maintenance
        self.on_queued = on_queued  # wakes the worker; it reads behind this transaction
        # Is this monitor on a page (its automatic incidents public)? The page service knows.
        self._is_public = is_public
        # Each monitor's latest failed result, for reminders (in memory: lost on a restart).
        self.failures: dict[str, messages.Why] = {}

    def channels(self, monitor_id: str, event: str) -> list[NotifierConfig]:
        """The channels ``event`` of ``monitor_id`` is queued for, by the rules above."""
        found = []
        in_maintenance: bool | None = None  # asked once, and only when it matters
        for channel_id in self.config.notify_ids(monitor_id):
            channel = self.config.notifier(channel_id)
            if channel is None or not channel.sends(event):
                continue
            if event in MAINTENANCE_SILENCED and not channel.notify_during_maintenance:
                if in_maintenance is None:
                    in_maintenance = self._maintenance(monitor_id)
                if in_maintenance:
                    continue
            found.append(channel)
        return found

    def _maintenance(self, monitor_id: str) -> bool:
        try:
            return bool(self._in_maintenance(monitor_id))
        except Exception:
            # Unsure is not "in maintenance": a lost outage message costs more than a
            # message during planned work.
            log.exception("maintenance lookup failed for monitor %s", monitor_id)
            return False

    def incident_channels(self, incident: Incident, event: str) -> list[NotifierConfig]:
        """The channels an event of ``incident`` is queued for: its monitor's, by the
        rules above; a manual incident's, by the rule for those."""
        if not incident.manual:
            return self.channels(incident.monitor_id, event)
        if incident.component_ids:
            ids = [i for m in incident.component_ids for i in self.config.notify_ids(m)]
        else:
            ids = list(self.config.defaults.notify)
        found = (self.config.notifier(i) for i in dict.fromkeys(ids))
        return [c for c in found if c is not None and c.sends(event)]

    def monitor_name(self, monitor_id: str, fallback: str | None = None) -> str:
        monitor = self.config.monitor(monitor_id)
        return monitor.name if monitor is not None else (fallback or monitor_id)

    def permalink(self, incident_id: int) -> str:
        return messages.permalink(self.config.server.public_base_url, incident_id)

    def public_url(self, incident_id: int, monitor_id: str) -> str | None:
        """The permalink of an automatic incident of ``monitor_id`` when a page shows that
        monitor; None when the incident is private."""
        try:
            public = bool(self._is_public(monitor_id))
        except Exception:
            # Unsure is private: a dead link costs less than a wrong one.
            log.exception("page lookup failed for monitor %s", monitor_id)
            public = False
        return self.permalink(incident_id) if public else None

    def incident_url(self, incident: Incident) -> str | None:
        """An operator's manual incident is shown on its pages (every page, or its page,
        when it names no monitor); an automatic one is public when its monitor is on a page."""
        if incident.manual:
            if not incident.component_ids:
                return self.permalink(incident.id)
            for monitor_id in incident.component_ids:
                if self.public_url(incident.id, monitor_id) is not None:
                    return self.permalink(incident.id)
            return None
        return self.public_url(incident.id, incident.monitor_id)

    def operator_url(self, incident_id: int) -> str:
        return messages.operator_url(self.config.server.public_base_url, incident_id)

    def note_result(self, monitor: MonitorConfig, record: ResultRecord) -> None:
        """Remember a failed result's reason (scrubbed) for the reminders."""
        result = record.result
        if result.status is not CheckStatus.UP:
            reason = scrub_reason(result.message, monitor.options)
            self.failures[monitor.id] = messages.Why(reason, result.latency, monitor.type)

    async def queue(
        self,
        db: aiosqlite.Connection,
        channels: Iterable[NotifierConfig],
        build: Callable[[NotifierConfig], Notification],
    ) -> int:
        """Insert one row per channel in the caller's transaction; returns rows inserted."""
        now = self.clock.now()
        inserted = 0
        for channel in channels:
            message = build(channel)
            if message.incident_id is not None and message.operator_url is None:
                message = replace(message, operator_url=self.operator_url(message.incident_id))
            if await outbox.insert(db, channel.id, message, now) is not None:
                inserted += 1
        if inserted:
            self.on_queued()
        return inserted

    # -- listeners, called inside the transaction that records the event ------------

    async def on_transition(self, db: aiosqlite.Connection, event: IncidentEvent) -> None:
        """An incident engine transition listener."""
        kind = _EVENT_OF_TRANSITION[event.kind]
        channels = self.channels(event.monitor_id, kind)
        if kind == "incident_ended":
            channels = await self._ended_channels(db, event)
        if not channels:
            return
        name = self.monitor_name(event.monitor_id)
        why = messages.Why(event.reason, event.latency, event.check_type)
        common = {
            "monitor_id": event.monitor_id,
            "monitor_name": name,
            "incident_id": event.incident_id,
            "severity": event.severity,
            "started_at": event.started_at,
            "url": self.public_url(event.incident_id, event.monitor_id),
            "operator_url": self.operator_url(event.incident_id),
            "why": why,
        }
        if kind == "incident_opened":
            message = messages.incident_opened(**common, at=event.at)
        elif kind == "severity_changed":
            message = messages.severity_changed(
                **common, previous_severity=event.previous_severity, at=event.at
            )
        else:
            message = messages.incident_ended(
                **common, ended_at=event.at, downtime_seconds=event.downtime_seconds
            )
        # One message, one key per channel: a receiver behind two channels sees both.
        await self.queue(db, channels, lambda _: _rekeyed(message))

    async def _ended_channels(
        self, db: aiosqlite.Connection, event: IncidentEvent
    ) -> list[NotifierConfig]:
        found = []
        for channel_id in self.config.notify_ids(event.monitor_id):
            channel = self.config.notifier(channel_id)
            if channel is None or not channel.sends("incident_ended"):
                continue
            told = await outbox.was_queued(db, channel.id, event.incident_id, "incident_opened")
            if told or channel.notify_during_maintenance or not self._maintenance(event.monitor_id):
                found.append(channel)
        return found

    async def on_update(
        self, db: aiosqlite.Connection, incident: Incident, update: IncidentUpdate
    ) -> None:
        """The incident service's hook for operator timeline updates, inside their transaction."""
        channels = self.incident_channels(incident, "incident_update")
        if not channels:
            return
        message = messages.incident_update(
            monitor_id=incident.monitor_id,
            monitor_name=self.monitor_name(incident.monitor_id, incident.monitor_name),
            incident_id=incident.id,
            incident_title=incident_title(incident),
            severity=incident.severity,
            active=incident.active,
            started_at=incident.started_at,
            ended_at=incident.ended_at,
            phase=update.phase,
            message=update.message,
            update_id=update.id,
            at=update.created_at,
            url=self.incident_url(incident),
            operator_url=self.operator_url(incident.id),
        )
        message = _of_manual(incident, message)
        await self.queue(db, channels, lambda _: _rekeyed(message))

    async def on_narration(
        self, db: aiosqlite.Connection, before: Incident, after: Incident
    ) -> None:
        """The incident service's hook for operator narration, inside its transaction.

        Queues ``severity_changed`` when the effective severity moved: setting an
        override equal to the engine's severity, or clearing one that matched it,
        changes nothing anyone sees, so it sends nothing. An ended incident's
        severity is a correction of the record, not news: nothing is sent.
        """
        if before.severity == after.severity or not after.active:
            return
        channels = self.incident_channels(after, "severity_changed")
        if not channels:
            return
        message = messages.severity_changed(
            monitor_id=after.monitor_id,
            monitor_name=incident_title(after)
            if after.manual
            else self.monitor_name(after.monitor_id, after.monitor_name),
            incident_id=after.id,
            severity=after.severity,
            previous_severity=before.severity,
            started_at=after.started_at,
            at=after.updated_at,
            url=self.incident_url(after),
            operator_url=self.operator_url(after.id),
        )
        message = _of_manual(after, message)
        await self.queue(db, channels, lambda _: _rekeyed(message))

    async def on_manual(
        self, db: aiosqlite.Connection, kind: Literal["opened", "ended"], incident: Incident
    ) -> None:
        """The incident service's hook for a manual incident opened or resolved by an
        operator, inside that transaction: ``incident_opened`` or ``incident_ended``."""
        event = _EVENT_OF_TRANSITION[kind]
        channels = self.incident_channels(incident, event)
        if not channels:
            return
        url = self.incident_url(incident)
        message = (
            _manual_opened(incident, url) if kind == "opened" else _manual_ended(incident, url)
        )
        await self.queue(db, channels, lambda _: _rekeyed(message))


def _rekeyed(message: Notification) -> Notification:
    return replace(message, idempotency_key=messages.new_key())


# -- manual incidents: no monitor to name, the operator's own words instead ----------


def _manual_extra(incident: Incident) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "manual": True,
        "component_ids": list(incident.component_ids),
        "page": incident.page,
        "component_status": incident.component_status,
    }
    update = incident.latest_update
    if update is not None:
        extra.update(phase=update.phase, message=update.message, update_id=update.id)
    return extra


def _of_manual(incident: Incident, message: Notification) -> Notification:
    """A message about a manual incident names no monitor (it has none)."""
    if not incident.manual:
        return message
    return replace(
        message,
        monitor_id=None,
        monitor_name=None,
        extra={**_manual_extra(incident), **message.extra},
    )


def _linked(text: str, url: str | None) -> str:
    return f"{text}\n{url}" if url else text


def _said(incident: Incident) -> str:
    update = incident.latest_update
    return f"\n{update.phase.capitalize()}: {update.message}" if update is not None else ""


def _manual_opened(incident: Incident, url: str | None) -> Notification:
    title = incident_title(incident)
    started = messages.clock_time(incident.started_at)
    return Notification(
        event="incident_opened",
        idempotency_key=messages.new_key(),
        title=title,
        text=_linked(
            f"{title}: opened {started} (severity {incident.severity}).{_said(incident)}", url
        ),
        status=incident.component_status or messages.status_of(incident.severity),
        severity=incident.severity,
        incident_id=incident.id,
        started_at=incident.started_at,
        url=url,
        created_at=incident.started_at,
        extra=_manual_extra(incident),
    )


def _manual_ended(incident: Incident, url: str | None) -> Notification:
    title = incident_title(incident)
    ended = incident.ended_at or incident.updated_at
    downtime = (ended - incident.started_at) / dt.timedelta(seconds=1)
    took = messages.human_duration(downtime)
    span = f"{messages.clock_time(incident.started_at)} to {messages.clock_time(ended)}"
    return Notification(
        event="incident_ended",
        idempotency_key=messages.new_key(),
        title=f"Resolved: {title}",
        text=_linked(f"{title}: resolved after {took} ({span}).{_said(incident)}", url),
        status="operational",
        severity=incident.severity,
        incident_id=incident.id,
        started_at=incident.started_at,
        ended_at=ended,
        downtime_seconds=downtime,
        url=url,
        created_at=ended,
        extra=_manual_extra(incident),
    )
