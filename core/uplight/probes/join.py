"""The join: a monitor checked from several locations has one state.

It is ``down`` when at least ``quorum`` locations saw it down within the window,
``degraded`` when at least ``quorum`` saw it down or degraded, otherwise ``up``; so one
bad network path opens no incident. A location counts with its newest result checked
within ``quorum_window`` of now; an older one (a probe gone quiet, a spool sent late) is
history, not a vote. Each fresh result from any location yields one joined result, which
is the monitor's result for everything downstream: storage, thresholds, incidents,
notifications, pages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..config import MonitorConfig
from ..models import CheckResult, CheckStatus


@dataclass(frozen=True, slots=True)
class LocationState:
    """A location's newest result of one monitor."""

    location: str
    status: CheckStatus
    checked_at: dt.datetime
    message: str
    latency: float | None = None

    def fresh(self, now: dt.datetime, window: float) -> bool:
        return (now - self.checked_at).total_seconds() <= window


def join_statuses(statuses: Iterable[CheckStatus], quorum: int) -> CheckStatus:
    """The joined status of the locations' fresh statuses."""
    seen = list(statuses)
    down = sum(s is CheckStatus.DOWN for s in seen)
    if down >= quorum:
        return CheckStatus.DOWN
    if down + sum(s is CheckStatus.DEGRADED for s in seen) >= quorum:
        return CheckStatus.DEGRADED
    return CheckStatus.UP


class LocationJoin:
    """Each joined monitor's newest result per location, in memory (loaded at start)."""

    def __init__(self, monitors: Iterable[MonitorConfig], server_location: str) -> None:
        self.server_location = server_location
        self._monitors = {m.id: m for m in monitors if m.joined(server_location)}
        self._latest: dict[str, dict[str, LocationState]] = {}

    def monitor(self, monitor_id: str) -> MonitorConfig | None:
        """The monitor if its state is joined from locations, else None."""
        return self._monitors.get(monitor_id)

    def monitors(self) -> list[MonitorConfig]:
        return list(self._monitors.values())

    def assigned(self, location: str) -> list[MonitorConfig]:
        """The monitors a probe at ``location`` checks."""
        return [m for m in self._monitors.values() if location in (m.locations or ())]

    def remember(self, state: LocationState, monitor_id: str) -> bool:
        """Keep ``state`` if it is its location's newest; True when it was."""
        if monitor_id not in self._monitors:
            return False
        by_location = self._latest.setdefault(monitor_id, {})
        known = by_location.get(state.location)
        if known is not None and known.checked_at > state.checked_at:
            return False
        by_location[state.location] = state
        return True

    def observe(
        self, monitor_id: str, state: LocationState, now: dt.datetime
    ) -> CheckResult | None:
        """Fold one location's result in; the joined result it makes, or None when it
        is not a vote (not the newest of its location, or checked outside the window)."""
        monitor = self._monitors.get(monitor_id)
        if monitor is None or not self.remember(state, monitor_id):
            return None
        if not state.fresh(now, monitor.window()):
            return None
        return self.joined(monitor, now, latency=state.latency)

    def states(self, monitor_id: str) -> Mapping[str, LocationState | None]:
        """Each of the monitor's locations and its newest result (None: none yet)."""
        monitor = self._monitors.get(monitor_id)
        if monitor is None:
            return {}
        known = self._latest.get(monitor_id, {})
        return {name: known.get(name) for name in monitor.locations or ()}

    def joined(
        self, monitor: MonitorConfig, now: dt.datetime, latency: float | None = None
    ) -> CheckResult:
        window = monitor.window()
        known = self._latest.get(monitor.id, {})
        fresh = {
            name: s
            for name, s in known.items()
            if s.fresh(now, window) and name in (monitor.locations or ())
        }
        quorum = monitor.needed()
        status = join_statuses((s.status for s in fresh.values()), quorum)
        seeing = sum(s.status is status for s in fresh.values())
        parts = []
        for name in monitor.locations or ():
            state = fresh.get(name)
            if state is None:
                parts.append(f"{name}: no recent result")
            elif state.status is CheckStatus.UP:
                parts.append(f"{name}: up")
            else:
                parts.append(f"{name}: {state.status.value} ({state.message or 'no message'})")
        summary = (
            f"{status.value} at {seeing} of {len(monitor.locations or ())} locations"
            f" (quorum {quorum}): " + "; ".join(parts)
        )
        details = {
            "locations": {
                name: {"status": s.status.value, "checked_at": s.checked_at.isoformat()}
                for name, s in fresh.items()
            }
        }
        return CheckResult(status, latency, summary, details)
