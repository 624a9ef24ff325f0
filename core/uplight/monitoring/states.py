"""Every monitor's current state, as other monitors' checks and the operator see it.

Fed by every result (a scheduler listener), so it always holds each monitor's
newest result and since when its results have had that status. ``since`` is kept
in the database (``state_store``): written within a second of a change, and on
stop, so a restart keeps it; at start the newest stored result gives each
monitor's status before its first check, and ``since`` is known when the stored
row agrees with it (otherwise ``None``: not known, never guessed).

A monitor is in maintenance when a live window covers it, or when its check type
derives maintenance from the monitors it references (``CheckType.in_maintenance``:
a group whose members all are). The scheduler flags results with this, and the
notification router asks it.

A monitor whose options reference others (``CheckType.references``) is checked
again at once when one of them changes status or enters or leaves maintenance, as
its results say (``Rechecks``); its own interval still applies. It is not checked
before each of them has a result or is in maintenance (``awaiting_references``):
until then it has no data. It also holds the states operators set on the monitors
whose check type ``accepts_state``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from ..checks import CheckType, MonitorState, OperatorState
from ..config import MonitorConfig
from ..db.store import Store
from ..models import CheckStatus, ResultRecord
from ..tasks import cancel_and_wait
from . import state_store
from .store import latest_statuses

log = logging.getLogger(__name__)

FLUSH_EVERY = 1.0  # seconds: as check results are


class MonitorStates:
    def __init__(
        self,
        store: Store,
        monitors: Iterable[MonitorConfig],
        check_types: Mapping[str, CheckType],
        *,
        windows: Callable[[str], bool] = lambda monitor_id: False,
    ) -> None:
        self._store = store
        self._monitors = {m.id: m for m in monitors}
        self._check_types = check_types
        self._windows = windows  # whether a live maintenance window covers the monitor
        self._last: dict[str, ResultRecord] = {}
        self._status: dict[str, CheckStatus] = {}
        self._since: dict[str, dt.datetime] = {}
        self._checked_at: dict[str, dt.datetime] = {}
        self._flagged: dict[str, bool] = {}  # its newest result's in_maintenance
        self._operator: dict[str, OperatorState] = {}
        self._dirty: dict[str, state_store.StatusRow] = {}
        self._task: asyncio.Task[None] | None = None
        self.references = {m.id: self._referenced(m) for m in self._monitors.values()}
        self.dependents: dict[str, list[str]] = {}
        for monitor_id, named in self.references.items():
            for other in named:
                self.dependents.setdefault(other, []).append(monitor_id)
        # Called with the id of a monitor to check again (a referenced monitor changed).
        self.recheck: Callable[[str], None] = lambda monitor_id: None

    def _referenced(self, monitor: MonitorConfig) -> tuple[str, ...]:
        check_type = self._check_types.get(monitor.type)
        if check_type is None:
            return ()
        try:
            named = check_type.references(monitor.options)
            found = [i for ids in named.values() for i in ids]
        except Exception:
            # The config loader called it already; a plugin that fails now loses only
            # its own monitor's view of the others.
            log.exception("check type %r: references() failed for %s", monitor.type, monitor.id)
            return ()
        # Config refused unknown ids and cycles; only configured monitors have a state.
        return tuple(i for i in dict.fromkeys(found) if i in self._monitors and i != monitor.id)

    # -- running ----------------------------------------------------------------------

    async def start(self) -> None:
        """Load what the database knows (before any check), start writing changes."""
        await self.load()
        self._task = asyncio.create_task(self._flush_loop(), name="uplight-monitor-states")

    async def load(self) -> None:
        """What the database knows; again when this server takes the lead from another
        (docs/deploy.md, "Several servers"), whose changes it has not seen."""
        ids = list(self._monitors)
        stored = {row.monitor_id: row for row in await state_store.load_statuses(self._store)}
        for monitor_id, latest in (await latest_statuses(self._store, ids)).items():
            self._status[monitor_id] = latest.status
            self._checked_at[monitor_id] = latest.checked_at
            row = stored.get(monitor_id)
            if row is not None and row.status == latest.status.value:
                self._since[monitor_id] = row.since
        operator: dict[str, OperatorState] = {}
        for op in await state_store.load_operator_states(self._store):
            if op.monitor_id in self._monitors:
                operator[op.monitor_id] = OperatorState(
                    CheckStatus(op.status), op.message, op.set_at, op.set_by
                )
        self._operator = operator  # whole: one another leader cleared is gone here too

    async def stop(self) -> None:
        """Write what changed since the last flush; the store must still be open."""
        await cancel_and_wait(self._task)
        self._task = None
        await self.flush()

    async def flush(self) -> None:
        if not self._dirty:
            return
        rows, self._dirty = self._dirty, {}
        try:
            await state_store.save_statuses(self._store, rows.values())
        except Exception:
            log.exception("saving %d monitor states failed; retrying", len(rows))
            for monitor_id, row in rows.items():
                self._dirty.setdefault(monitor_id, row)  # a newer change wins

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            await self.flush()

    # -- fed by every result ----------------------------------------------------------

    def observe(self, monitor: MonitorConfig, record: ResultRecord) -> None:
        """A scheduler listener: the monitor's newest result."""
        monitor_id = monitor.id
        status = record.result.status
        self._last[monitor_id] = record
        self._checked_at[monitor_id] = record.checked_at
        changed = self._status.get(monitor_id) is not status
        if changed:
            self._status[monitor_id] = status
            self._since[monitor_id] = record.checked_at
            self._dirty[monitor_id] = state_store.StatusRow(
                monitor_id, status.value, record.checked_at
            )
        flagged = record.in_maintenance
        if self._flagged.get(monitor_id, flagged) is not flagged:
            changed = True
        self._flagged[monitor_id] = flagged
        if changed:
            for dependent in self.dependents.get(monitor_id, ()):
                self.recheck(dependent)

    # -- what the others see ----------------------------------------------------------

    def last(self, monitor_id: str) -> ResultRecord | None:
        """Its newest result since this process started (None before its first)."""
        return self._last.get(monitor_id)

    def state(self, monitor_id: str) -> MonitorState:
        return MonitorState(
            status=self._status.get(monitor_id),
            in_maintenance=self.in_maintenance(monitor_id),
            since=self._since.get(monitor_id),
            checked_at=self._checked_at.get(monitor_id),
        )

    def referenced_states(self, monitor_id: str) -> dict[str, MonitorState]:
        """The current state of each monitor ``monitor_id`` references (for its check)."""
        return {other: self.state(other) for other in self.references.get(monitor_id, ())}

    def awaiting_references(self, monitor_id: str) -> bool:
        """Whether a monitor it references has had no result yet (and is not in
        maintenance): its check would judge a state nobody knows, so it waits."""
        return any(
            self._status.get(other) is None and not self.in_maintenance(other)
            for other in self.references.get(monitor_id, ())
        )

    def in_maintenance(self, monitor_id: str) -> bool:
        """A live window covers it, or its check type derives maintenance from the
        monitors it references. Synchronous: the scheduler asks before every check."""
        return self._in_maintenance(monitor_id, frozenset())

    def _in_maintenance(self, monitor_id: str, visiting: frozenset[str]) -> bool:
        if self._windows(monitor_id):
            return True
        named = self.references.get(monitor_id)
        if not named or monitor_id in visiting:
            return False  # a cycle only a misbehaving plugin could make: no maintenance
        monitor = self._monitors[monitor_id]
        check_type = self._check_types.get(monitor.type)
        if check_type is None:
            return False
        inner = visiting | {monitor_id}
        states = {
            other: MonitorState(
                status=self._status.get(other),
                in_maintenance=self._in_maintenance(other, inner),
                since=self._since.get(other),
                checked_at=self._checked_at.get(other),
            )
            for other in named
        }
        try:
            return bool(check_type.in_maintenance(monitor.options, states))
        except Exception:
            log.exception("check type %r: in_maintenance() failed for %s", monitor.type, monitor_id)
            return False

    # -- set by the operator ----------------------------------------------------------

    def operator_state(self, monitor_id: str) -> OperatorState | None:
        """For a monitor whose check type accepts an operator-set state (the default one
        until somebody sets it); None for any other."""
        check_type = self._check_types.get(self._monitors[monitor_id].type)
        if check_type is None or not check_type.accepts_state:
            return None
        return self._operator.get(monitor_id, OperatorState())

    def set_operator_state(self, monitor_id: str, state: OperatorState) -> None:
        self._operator[monitor_id] = state


class Rechecks:
    """Checks a monitor again now, once however many of its references changed while
    it waited: a request made during a run starts one more after it."""

    def __init__(self, run: Callable[[str], Awaitable[Any]]) -> None:
        self._run = run
        self._waiting: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False

    def request(self, monitor_id: str) -> None:
        if self._stopped or monitor_id in self._waiting:
            return
        self._waiting.add(monitor_id)
        task = asyncio.create_task(self._recheck(monitor_id), name=f"recheck:{monitor_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _recheck(self, monitor_id: str) -> None:
        await asyncio.sleep(0)  # let the listeners of the change that asked for it finish
        self._waiting.discard(monitor_id)
        try:
            await self._run(monitor_id)
        except Exception:
            log.exception("checking monitor %s again failed", monitor_id)

    async def stop(self) -> None:
        self._stopped = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
