"""The operator's view of the monitors, and the states operators set on manual ones.

``list_monitors`` / ``get_monitor`` compose, for the admin API and the CLI, what
uplight knows of each monitor: its config (type, thresholds), its current state
(``states.py``), its newest result (from memory, or the database before its first
check since start-up), the pages it is on and its open incident.

``set_state`` sets the state of a monitor whose check type accepts one (``manual``):
saved before it returns, then the monitor is checked at once so the new state is
recorded as a result like any other (history, incidents, notifications).

For the console's monitor page: ``results`` pages through a monitor's stored
results (newest first), ``check_now`` runs its check once out of turn (recorded
like any other; its own rhythm is untouched), ``ping_url`` gives a push monitor's
heartbeat URL, secret token included, to an operator who asked for it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..checks import CheckType, MonitorState, OperatorState
from ..clock import Clock
from ..config import Config, MonitorConfig
from ..db.sql import from_millis, to_millis
from ..db.store import Store
from ..models import CheckStatus, ResultRecord
from . import state_store
from .pings import monitor_token, ping_url
from .states import MonitorStates
from .store import StoredResult, latest_results, recent_results

# A page cursor's skip counts results in one millisecond: more is no real cursor.
MAX_SKIP = 1000


class MonitorNotFound(Exception):
    def __init__(self, monitor_id: str) -> None:
        super().__init__(f"no monitor {monitor_id!r}")
        self.monitor_id = monitor_id


class MonitorNotManual(Exception):
    """Its state comes from its checks: only a check type that accepts one takes a state."""

    def __init__(self, monitor: MonitorConfig) -> None:
        super().__init__(
            f"monitor {monitor.id!r} is a {monitor.type!r} monitor: its state comes from its"
            " checks; only a monitor of a type that takes a set state (manual) can be set"
        )
        self.monitor_id = monitor.id


class MonitorNotCheckable(Exception):
    """Its results do not come from running its check now: a push monitor's come from
    its pings, a manual monitor's from the state set on it, a group's from its members."""

    def __init__(self, monitor: MonitorConfig, why: str) -> None:
        super().__init__(f"monitor {monitor.id!r} is a {monitor.type!r} monitor: {why}")
        self.monitor_id = monitor.id


class MonitorNotPush(Exception):
    def __init__(self, monitor: MonitorConfig) -> None:
        super().__init__(
            f"monitor {monitor.id!r} is a {monitor.type!r} monitor; only monitors of a type"
            " that receives pings (push) have a ping URL"
        )
        self.monitor_id = monitor.id


@dataclass(frozen=True, slots=True)
class ResultPosition:
    """Where a page of results ended: the results at or before ``at_ms`` (unix
    milliseconds), less the first ``skip`` of those at exactly ``at_ms`` (several
    results can share a millisecond, and none may be skipped or shown twice)."""

    at_ms: int
    skip: int = 0


@dataclass(frozen=True, slots=True)
class ResultPage:
    items: list[ResultRecord]  # newest first
    next: ResultPosition | None  # where the next (older) page starts; None on the last


@dataclass(frozen=True, slots=True)
class OpenIncident:
    id: int
    severity: str
    started_at: dt.datetime


@dataclass(frozen=True, slots=True)
class MonitorOverview:
    monitor: MonitorConfig
    state: MonitorState
    last: ResultRecord | None  # its newest result, None when it has none
    pages: tuple[str, ...]  # slugs of the pages that show it
    open_incident: OpenIncident | None
    operator_state: OperatorState | None  # a manual monitor's, else None
    summary: dict[str, Any] = field(default_factory=dict)  # CheckType.public_summary


OpenIncidents = Callable[[], Awaitable[Mapping[str, OpenIncident]]]


class MonitorService:
    def __init__(
        self,
        config: Config,
        check_types: Mapping[str, CheckType],
        store: Store,
        states: MonitorStates,
        *,
        clock: Clock,
        check_now: Callable[[str], Awaitable[Any]],
        pages_by_monitor: Callable[[], Mapping[str, Sequence[str]]] = dict,
        open_incidents: OpenIncidents | None = None,
    ) -> None:
        self._config = config
        self._check_types = check_types
        self._store = store
        self._states = states
        self._clock = clock
        self._check_now = check_now  # the scheduler's run_once: the result is recorded
        self._pages_by_monitor = pages_by_monitor
        self._open_incidents = open_incidents
        self._writing = asyncio.Lock()  # one set_state at a time

    # -- reads ------------------------------------------------------------------------

    async def list_monitors(self) -> list[MonitorOverview]:
        """Every monitor of the config, in its order."""
        return await self._overviews(self._config.monitors)

    async def get_monitor(self, monitor_id: str) -> MonitorOverview:
        return (await self._overviews([self._monitor(monitor_id)]))[0]

    async def _overviews(self, monitors: Sequence[MonitorConfig]) -> list[MonitorOverview]:
        last = {m.id: r for m in monitors if (r := self._states.last(m.id)) is not None}
        missing = [m.id for m in monitors if m.id not in last]
        if missing:
            # Not checked since start-up: the database has its newest result.
            for monitor_id, stored in (await latest_results(self._store, missing)).items():
                last[monitor_id] = _record(stored)
        pages = self._pages_by_monitor()
        incidents = await self._open_incidents() if self._open_incidents is not None else {}
        return [
            MonitorOverview(
                monitor=m,
                state=self._states.state(m.id),
                last=last.get(m.id),
                pages=tuple(pages.get(m.id, ())),
                open_incident=incidents.get(m.id),
                operator_state=self._states.operator_state(m.id),
                summary=self._summary(m),
            )
            for m in monitors
        ]

    def _summary(self, monitor: MonitorConfig) -> dict[str, Any]:
        check_type = self._check_types.get(monitor.type)
        if check_type is None:
            return {}
        try:
            summary = check_type.public_summary(monitor.options)
        except Exception:
            return {}  # a plugin's fault must not cost the operator the whole list
        return summary if isinstance(summary, dict) else {}

    async def results(
        self,
        monitor_id: str,
        *,
        before: ResultPosition | None = None,
        since: dt.datetime | None = None,
        limit: int = 50,
    ) -> ResultPage:
        """A monitor's stored results, newest first, from ``before`` on (and not older
        than ``since``), ``limit`` at most."""
        self._monitor(monitor_id)
        skip = min(before.skip, MAX_SKIP) if before is not None else 0
        found = await recent_results(
            self._store,
            monitor_id,
            # One more than asked tells whether there is a next page without counting.
            limit=limit + skip + 1,
            since=since,
            until=from_millis(before.at_ms) if before is not None else None,
        )
        if before is not None:
            found = _skipped(found, before.at_ms, skip)
        items = [_record(r) for r in found[:limit]]
        if len(found) <= limit or not items:
            return ResultPage(items, None)
        at = to_millis(items[-1].checked_at)
        shown = sum(1 for r in items if to_millis(r.checked_at) == at)
        if before is not None and at == before.at_ms:
            shown += skip
        return ResultPage(items, ResultPosition(at, shown))

    async def check_now(self, monitor_id: str) -> ResultRecord | None:
        """Run the monitor's check once now, recorded like any scheduled check (its
        loop keeps its rhythm). None when the run was not counted or not made (see
        ``Scheduler.run_once``)."""
        monitor = self._monitor(monitor_id)
        why = self.why_not_checkable(monitor_id)
        if why:
            raise MonitorNotCheckable(monitor, why)
        record: ResultRecord | None = await self._check_now(monitor_id)
        # On disk when the operator's answer comes: the page they go back to reads it.
        await self._store.flush()
        return record

    def why_not_checkable(self, monitor_id: str) -> str:
        """Why running the monitor's check now makes no result of its own ("" when it
        does): a push monitor's results come from its pings, a manual monitor's from
        the state set on it, a group's from its members."""
        monitor = self._monitor(monitor_id)
        if monitor.joined(self._config.server.location):
            # Run here, its result would be this location's alone, not the join's.
            return "its state joins the results of its locations (docs/probes.md)"
        check_type = self._check_types.get(monitor.type)
        return _why_not_checkable(monitor, check_type) if check_type is not None else ""

    def ping_url(self, monitor_id: str) -> str:
        """A push monitor's heartbeat URL: it holds the secret token, so only for an
        operator who asked (``uplight monitors ping-url`` prints the same)."""
        monitor = self._monitor(monitor_id)
        check_type = self._check_types.get(monitor.type)
        if check_type is None or not check_type.accepts_pings:
            raise MonitorNotPush(monitor)
        token = monitor_token(monitor, check_type)
        return ping_url(self._config.server.public_base_url, token)

    def _monitor(self, monitor_id: str) -> MonitorConfig:
        monitor = self._config.monitor(monitor_id)
        if monitor is None:
            raise MonitorNotFound(monitor_id)
        return monitor

    # -- the operator's word ----------------------------------------------------------

    async def set_state(
        self, monitor_id: str, status: CheckStatus, message: str, *, set_by: str
    ) -> MonitorOverview:
        """Set a manual monitor's state: saved, then checked and recorded at once."""
        monitor = self._monitor(monitor_id)
        check_type = self._check_types.get(monitor.type)
        if check_type is None or not check_type.accepts_state:
            raise MonitorNotManual(monitor)
        async with self._writing:
            now = self._clock.now()
            row = state_store.OperatorRow(monitor_id, status.value, message, now, set_by)
            await state_store.save_operator_state(self._store, row)
            self._states.set_operator_state(monitor_id, OperatorState(status, message, now, set_by))
            # Inside the lock: each state set is recorded, in the order it was set.
            await self._check_now(monitor_id)
        return await self.get_monitor(monitor_id)


def _record(stored: StoredResult) -> ResultRecord:
    return ResultRecord(
        stored.monitor_id,
        stored.checked_at,
        stored.result,
        stored.error_reason,
        stored.in_maintenance,
    )


def _skipped(found: list[StoredResult], at_ms: int, skip: int) -> list[StoredResult]:
    """``found`` less the first ``skip`` results at exactly ``at_ms`` (shown already)."""
    kept: list[StoredResult] = []
    for stored in found:
        if skip and to_millis(stored.checked_at) == at_ms:
            skip -= 1
            continue
        kept.append(stored)
    return kept


def _why_not_checkable(monitor: MonitorConfig, check_type: CheckType) -> str:
    if check_type.accepts_pings:
        return "its results come from its pings (and the silence between them), not from a check"
    if check_type.accepts_state:
        return "its state is the one set on it; set its state instead"
    try:
        references = check_type.references(monitor.options)
    except Exception:
        references = {}  # the config loaded it: a fault here is no reason to refuse
    if references:
        return "its state follows the monitors it references; check those instead"
    return ""
