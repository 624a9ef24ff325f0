"""The incident engine: a per-monitor state machine fed by every check result.

Rules (docs/api/incidents.md says the same for operators):

- A run of ``failure_threshold`` consecutive non-up results (``down`` or
  ``degraded``) opens an incident, for every monitor, on a page or not (where
  it is public is the page service's business), unless the monitor opts out
  with ``incidents = false``. Its severity is ``major`` when the run holds a
  ``down``, else ``minor``; ``started_at`` is the first bad result of the run.
- While it is active, a ``down`` result raises a ``minor`` incident to
  ``major``. The engine never lowers a severity and never sets ``critical``
  (that is the operator's word). When worsening lifts the engine's severity
  above an operator's override, the override is dropped: it was set without
  knowing about the outage.
- ``recovery_threshold`` consecutive up results end it; ``ended_at`` is the
  result that met the threshold.
- Results taken during maintenance never open an incident and break a failure
  run. An incident already active when maintenance starts stays active: up
  results during maintenance count toward its recovery, bad ones reset that
  count but never raise its severity.
- Each transition is one store transaction; ``transition_listeners`` run
  inside it, so an outbox row and the incident commit or roll back together.
  The event carries the result that caused it: its message (scrubbed of the
  monitor's secrets), latency and check type, which notifications say.
- A monitor's state change (up, degraded, down, from one result to the next)
  is logged at ``info`` with that scrubbed message: the log says why.
- At start, active incidents are restored from the database (no duplicate
  after a restart; the counters start from zero). An active incident whose
  monitor is no longer configured is ended then: no result could ever end it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import aiosqlite

from ..clock import Clock, SystemClock
from ..config import MonitorConfig
from ..db.store import Store
from ..models import CheckStatus, ResultRecord
from ..notify.scrub import scrub_reason
from . import store as db_incidents

log = logging.getLogger(__name__)

EventKind = Literal["opened", "severity_changed", "ended"]
SEVERITY_RANK = {"minor": 1, "major": 2, "critical": 3}


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    """One lifecycle transition, handed to the listeners inside its transaction."""

    kind: EventKind
    incident_id: int
    monitor_id: str
    severity: str  # the effective severity after the transition
    previous_severity: str | None  # before it (None when opened)
    at: dt.datetime  # the check result that caused it
    started_at: dt.datetime
    downtime_seconds: float | None = None  # ended only: ended_at - started_at
    # The result that caused it (None: no result did, e.g. its monitor was removed).
    reason: str | None = None  # its message, scrubbed of the monitor's secrets
    latency: float | None = None  # seconds
    check_type: str | None = None


@dataclass(frozen=True, slots=True)
class Cause:
    """What an event says about the result behind it."""

    reason: str | None = None
    latency: float | None = None
    check_type: str | None = None

    @classmethod
    def of(cls, monitor: MonitorConfig, record: ResultRecord) -> Cause:
        result = record.result
        return cls(scrub_reason(result.message, monitor.options), result.latency, monitor.type)


TransitionListener = Callable[[aiosqlite.Connection, IncidentEvent], Awaitable[None]]


@dataclass(slots=True)
class MonitorTracker:
    """What the engine knows about one monitor (the health dashboard shows it)."""

    consecutive_failures: int = 0
    consecutive_successes: int = 0
    run_started_at: dt.datetime | None = None  # first result of the current failure run
    run_has_down: bool = False
    active_incident: int | None = None
    auto_severity: str | None = None  # the engine's severity of the active incident
    last_status: CheckStatus | None = None  # of the last result (the log's state changes)


class IncidentEngine:
    def __init__(
        self,
        store: Store,
        monitors: Iterable[MonitorConfig],
        *,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.monitors = {m.id: m for m in monitors}
        self.clock: Clock = clock or SystemClock()
        self.transition_listeners: list[TransitionListener] = []
        self._trackers = {monitor_id: MonitorTracker() for monitor_id in self.monitors}
        # A monitor's lock exists while a result of it is folded in or waits to be:
        # (lock, how many hold or wait for it); 10,000 idle locks were about 1 MB.
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    def tracker(self, monitor_id: str) -> MonitorTracker:
        return self._trackers.setdefault(monitor_id, MonitorTracker())

    def has_open_incident(self, monitor_id: str) -> bool:
        """Whether the monitor's thresholds hold an incident open (public or private)."""
        tracker = self._trackers.get(monitor_id)
        return tracker is not None and tracker.active_incident is not None

    async def load(self) -> None:
        """Restore active incidents from the store; end those of monitors now gone."""
        for tracker in self._trackers.values():
            tracker.consecutive_failures = tracker.consecutive_successes = 0
            tracker.run_started_at, tracker.run_has_down = None, False
            tracker.active_incident = tracker.auto_severity = tracker.last_status = None
        for incident in await db_incidents.active_incidents(self.store):
            if incident.monitor_id in self.monitors:
                tracker = self.tracker(incident.monitor_id)
                tracker.active_incident = incident.id
                tracker.auto_severity = incident.auto_severity
                continue
            try:
                await self._end(incident.monitor_id, incident.id, self.clock.now())
            except Exception:
                log.exception("could not end incident %d of removed monitor", incident.id)
            else:
                log.info(
                    "ended incident %d: monitor %r is no longer configured",
                    incident.id,
                    incident.monitor_id,
                )

    async def observe(self, monitor: MonitorConfig, record: ResultRecord) -> None:
        """Scheduler listener: fold one result in; a failed transition is retried next result."""
        entry = self._locks.get(monitor.id)
        if entry is None:
            entry = self._locks[monitor.id] = (asyncio.Lock(), [0])
        lock, users = entry
        users[0] += 1
        try:
            async with lock:
                try:
                    await self._observe(monitor, record)
                except Exception:
                    log.exception("incident engine failed on a result of monitor %s", monitor.id)
        finally:
            users[0] -= 1
            if not users[0]:
                del self._locks[monitor.id]

    async def _observe(self, monitor: MonitorConfig, record: ResultRecord) -> None:
        tracker = self.tracker(monitor.id)
        status = record.result.status
        cause: Cause | None = None
        if status is not tracker.last_status:
            cause = Cause.of(monitor, record)
            _log_change(monitor, tracker.last_status, record, cause)
            tracker.last_status = status
        if status is CheckStatus.UP:
            tracker.consecutive_failures = 0
            tracker.run_started_at, tracker.run_has_down = None, False
            tracker.consecutive_successes += 1
            if (
                tracker.active_incident is not None
                and tracker.consecutive_successes >= monitor.recovery_threshold
            ):
                cause = cause or Cause.of(monitor, record)
                await self._end(monitor.id, tracker.active_incident, record.checked_at, cause)
            return
        tracker.consecutive_successes = 0
        if record.in_maintenance:
            # Planned work: it neither opens nor worsens anything, and a failure
            # run does not carry over across it.
            tracker.consecutive_failures = 0
            tracker.run_started_at, tracker.run_has_down = None, False
            return
        if tracker.consecutive_failures == 0:
            tracker.run_started_at = record.checked_at
        tracker.consecutive_failures += 1
        tracker.run_has_down = tracker.run_has_down or status is CheckStatus.DOWN
        if tracker.active_incident is None:
            if tracker.consecutive_failures >= monitor.failure_threshold and monitor.incidents:
                severity = "major" if tracker.run_has_down else "minor"
                cause = cause or Cause.of(monitor, record)
                await self._open(
                    monitor, severity, tracker.run_started_at, record.checked_at, cause
                )
        elif status is CheckStatus.DOWN and tracker.auto_severity == "minor":
            cause = cause or Cause.of(monitor, record)
            await self._raise(
                monitor.id, tracker.active_incident, "major", record.checked_at, cause
            )

    # -- transitions: one transaction each, listeners inside ---------------------

    async def _notify(self, db: aiosqlite.Connection, event: IncidentEvent) -> None:
        for listener in self.transition_listeners:
            await listener(db, event)

    async def _open(
        self,
        monitor: MonitorConfig,
        severity: str,
        started_at: dt.datetime | None,
        at: dt.datetime,
        cause: Cause,
    ) -> None:
        started = started_at or at

        async def write(db: aiosqlite.Connection) -> int:
            incident_id = await db_incidents.insert_incident(
                db,
                monitor_id=monitor.id,
                monitor_name=monitor.name,
                severity=severity,
                started_at=started,
                at=at,
            )
            event = IncidentEvent(
                "opened",
                incident_id,
                monitor.id,
                severity,
                None,
                at,
                started,
                **_fields(cause),
            )
            await self._notify(db, event)
            return incident_id

        incident_id = await self.store.write(write)
        tracker = self.tracker(monitor.id)
        tracker.active_incident, tracker.auto_severity = incident_id, severity
        log.info("incident %d opened: %s (%s): %s", incident_id, monitor.id, severity, cause.reason)

    async def _raise(
        self, monitor_id: str, incident_id: int, severity: str, at: dt.datetime, cause: Cause
    ) -> None:
        async def write(db: aiosqlite.Connection) -> None:
            current = await db_incidents.incident_in(db, incident_id)
            if current is None:
                return
            previous = current.severity
            clear = SEVERITY_RANK[previous] < SEVERITY_RANK[severity]
            await db_incidents.set_auto_severity(
                db, incident_id, severity, at, clear_override=clear
            )
            if clear:
                event = IncidentEvent(
                    "severity_changed",
                    incident_id,
                    monitor_id,
                    severity,
                    previous,
                    at,
                    current.started_at,
                    **_fields(cause),
                )
                await self._notify(db, event)

        await self.store.write(write)
        self.tracker(monitor_id).auto_severity = severity
        log.info("incident %d raised to %s", incident_id, severity)

    async def _end(
        self, monitor_id: str, incident_id: int, at: dt.datetime, cause: Cause | None = None
    ) -> None:
        async def write(db: aiosqlite.Connection) -> None:
            current = await db_incidents.incident_in(db, incident_id)
            if current is None or current.ended_at is not None:
                return
            # A clock a little behind the first result must not make downtime negative.
            ended = max(at, current.started_at)
            await db_incidents.mark_ended(db, incident_id, ended)
            event = IncidentEvent(
                "ended",
                incident_id,
                monitor_id,
                current.severity,
                current.severity,
                ended,
                current.started_at,
                (ended - current.started_at).total_seconds(),
                **_fields(cause or Cause()),
            )
            await self._notify(db, event)

        await self.store.write(write)
        tracker = self.tracker(monitor_id)
        tracker.active_incident = tracker.auto_severity = None
        log.info("incident %d ended", incident_id)


def _fields(cause: Cause) -> dict[str, Any]:
    return {"reason": cause.reason, "latency": cause.latency, "check_type": cause.check_type}


def _log_change(
    monitor: MonitorConfig, before: CheckStatus | None, record: ResultRecord, cause: Cause
) -> None:
    """One ``info`` line per change of a monitor's state, saying why (a first result only
    when it is not up: a start with everything up says nothing)."""
    status = record.result.status
    if before is None and status is CheckStatus.UP:
        return
    was = f" (was {before})" if before is not None else ""
    latency = f", {cause.latency:.3f}s" if cause.latency is not None else ""
    planned = ", in maintenance" if record.in_maintenance else ""
    log.info(
        "monitor %s is %s%s: %s [%s check%s%s]",
        monitor.id,
        str(status),
        was,
        cause.reason or "no message",
        monitor.type,
        latency,
        planned,
    )
