"""The server's side of probes: each location's assignment, and the results probes push.

Rules (docs/probes.md):

- a probe token is bound to one location; it reads that location's assignment and
  pushes results only for monitors assigned to it (``NOT_ASSIGNED`` otherwise);
- clock skew: a result checked more than ``MAX_AHEAD`` after the server received it is
  refused (``CLOCK_SKEW``: the probe's clock is wrong, and a result from the future
  would outvote every real one); one checked more than ``MAX_AGE`` before is refused
  (``TOO_OLD``); anything between is stored with the probe's own time;
- a result id is the probe's: a resend of a stored one is answered ``stored`` and not
  stored again, so a probe may send at least once and the server keeps it once;
- each result stored now is a vote in the join (``join.py``) when it is fresh; the
  joined result goes to the monitor's listeners like a check's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable

from ..clock import Clock
from ..config import MonitorConfig
from ..db.store import Store
from ..models import CheckResult, CheckStatus, ResultRecord
from . import store as probe_store
from .join import LocationJoin, LocationState
from .models import (
    Assignment,
    BatchAnswer,
    ProbeResult,
    ResultBatch,
    ResultError,
    ResultOutcome,
    assigned,
)

log = logging.getLogger(__name__)

MAX_AHEAD = dt.timedelta(seconds=60)
MAX_AGE = dt.timedelta(days=7)

Publish = Callable[[str, CheckResult], Awaitable[object]]


class ProbeService:
    def __init__(
        self,
        store: Store,
        monitors: Iterable[MonitorConfig],
        server_location: str,
        *,
        clock: Clock,
        publish: Publish,
    ) -> None:
        self._store = store
        self._clock = clock
        self._publish = publish
        self.join = LocationJoin(monitors, server_location)
        self._assignments: dict[str, Assignment] = {}
        self.accepted = 0  # results stored from probes, for /metrics
        self.refused = 0

    async def start(self) -> None:
        """Load each location's newest result within the widest window: a restart keeps
        the votes that are still fresh."""
        widest = max((m.window() for m in self.join.monitors()), default=0.0)
        if not widest:
            return
        since = self._clock.now() - dt.timedelta(seconds=widest)
        for row in await probe_store.latest_since(self._store, since):
            self.join.remember(_state(row), row.monitor_id)

    def assignment(self, location: str) -> Assignment:
        """What a probe at ``location`` checks; its version changes with the config."""
        found = self._assignments.get(location)
        if found is None:
            monitors = [assigned(m) for m in self.join.assigned(location)]
            text = json.dumps([m.model_dump() for m in monitors], sort_keys=True, default=str)
            version = hashlib.sha256(text.encode()).hexdigest()[:16]
            found = self._assignments[location] = Assignment(
                location=location, version=version, monitors=monitors
            )
        return found

    async def accept(self, location: str, batch: ResultBatch) -> BatchAnswer:
        now = self._clock.now()
        mine = {m.id for m in self.join.assigned(location)}
        outcomes: dict[int, ResultOutcome] = {}
        rows: list[tuple[int, probe_store.LocationResult]] = []
        for index, item in enumerate(batch.results):
            error = _refusal(item, mine, location, now)
            if error is not None:
                outcomes[index] = ResultOutcome(id=item.id, stored=False, error=error)
                continue
            rows.append((index, _row(location, item)))
        stored = await probe_store.insert_results(self._store, [r for _, r in rows], now)
        new = []
        for (index, row), fresh in zip(rows, stored, strict=True):
            outcomes[index] = ResultOutcome(id=row.result_id, stored=True)
            if fresh:
                new.append(row)
        refused = sum(not o.stored for o in outcomes.values())
        self.accepted += len(new)
        self.refused += refused
        for row in sorted(new, key=lambda r: r.checked_at):
            await self._vote(row, now)
        return BatchAnswer(
            accepted=len(rows),
            refused=refused,
            results=[outcomes[i] for i in range(len(batch.results))],
        )

    async def record_local(self, monitor: MonitorConfig, record: ResultRecord) -> None:
        """The server's own check of a joined monitor: a result of its own location."""
        result = record.result
        row = probe_store.LocationResult(
            location=self.join.server_location,
            result_id=uuid.uuid4().hex,
            monitor_id=monitor.id,
            checked_at=record.checked_at,
            status=result.status.value,
            latency=result.latency,
            message=result.message,
            error_reason=record.error_reason,
        )
        await probe_store.insert_results(self._store, [row], self._clock.now())
        await self._vote(row, self._clock.now())

    def location_facts(self) -> list[tuple[str, str, bool]]:
        """(monitor, location, down) for each location's result that votes now (/metrics)."""
        now = self._clock.now()
        found = []
        for monitor in self.join.monitors():
            window = monitor.window()
            for location, seen in self.join.states(monitor.id).items():
                if seen is not None and seen.fresh(now, window):
                    found.append((monitor.id, location, seen.status is CheckStatus.DOWN))
        return found

    async def prune(self, before: dt.datetime) -> int:
        return await probe_store.prune(self._store, before)

    async def _vote(self, row: probe_store.LocationResult, now: dt.datetime) -> None:
        joined = self.join.observe(row.monitor_id, _state(row), now)
        if joined is None:
            return
        try:
            await self._publish(row.monitor_id, joined)
        except Exception:
            log.exception("joined result of monitor %s was not recorded", row.monitor_id)


def _refusal(
    item: ProbeResult, mine: set[str], location: str, now: dt.datetime
) -> ResultError | None:
    if item.monitor_id not in mine:
        return ResultError(
            code="NOT_ASSIGNED",
            message=f"monitor {item.monitor_id!r} is not assigned to location {location!r}",
        )
    if item.checked_at - now > MAX_AHEAD:
        return ResultError(
            code="CLOCK_SKEW",
            message=f"checked_at is more than {MAX_AHEAD.seconds}s ahead of the server's clock",
        )
    if now - item.checked_at > MAX_AGE:
        return ResultError(
            code="TOO_OLD", message=f"checked_at is more than {MAX_AGE.days} days ago"
        )
    return None


def _row(location: str, item: ProbeResult) -> probe_store.LocationResult:
    return probe_store.LocationResult(
        location=location,
        result_id=item.id,
        monitor_id=item.monitor_id,
        checked_at=item.checked_at.astimezone(dt.UTC),
        status=item.status,
        latency=item.latency,
        message=item.message,
        error_reason=item.error_reason,
    )


def _state(row: probe_store.LocationResult) -> LocationState:
    return LocationState(
        row.location, CheckStatus(row.status), row.checked_at, row.message, row.latency
    )
