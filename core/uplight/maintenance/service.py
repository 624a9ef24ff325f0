"""Maintenance windows: the lifecycle, driven by the clock, and recurring windows.

Statuses move ``scheduled → active`` at ``starts_at`` and ``→ completed`` at
``ends_at`` (``completed_at = ends_at``) by themselves: a background task wakes
at the next boundary (every few seconds at most) and every write applies due
transitions first, so what is stored agrees with the clock. An operator can
cancel (the row stays, for audit), complete now (``completed_at = now``;
``ends_at`` keeps the plan) or purge (deleted for good).

``[[maintenance]]`` entries in the config are materialised as ordinary windows
ahead of time (see ``maintenance.recurring``) at start and on every tick. At
start, future windows of an entry that changed or was removed are replaced;
ones that started, ended or were cancelled stay.

While a window is live and the clock is inside it, ``is_active(monitor_id)`` is
true for its components: the scheduler flags their results as taken during
maintenance.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import aiosqlite

from ..clock import Clock
from ..config import Config
from ..db.store import Store
from ..tasks import cancel_and_wait
from . import store as queries
from .lifecycle import (
    MAX_DURATION,
    MaintenanceError,
    clock_status,
    due_status,
    to_ms_precision,
    validate_window,
)
from .models import StoredWindow, WindowFields, WindowPosition, position_of
from .recurring import fingerprint, insert_occurrences, planned_occurrences

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_TICK_SECONDS = 5.0


class WindowNotFound(Exception):
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class WindowPage:
    items: list[StoredWindow]
    next: WindowPosition | None  # where the next page starts; None on the last page


class MaintenanceService:
    def __init__(self, store: Store, config: Config, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._monitor_ids = {m.id for m in config.monitors}
        self._entries = tuple(config.maintenance)
        self._live: tuple[StoredWindow, ...] = ()
        self._by_monitor: dict[str, list[tuple[dt.datetime, dt.datetime]]] = {}
        self._written = 0  # sequence of write jobs, to keep the newest live view
        self._shown = 0
        self._known: set[tuple[str, dt.datetime]] = set()  # materialised or skipped
        self._task: asyncio.Task[None] | None = None

    # -- the scheduler's question -------------------------------------------------

    def is_active(self, monitor_id: str) -> bool:
        """Whether a live window covers ``monitor_id`` now. Sync: no database access."""
        now = self.clock.now()
        return any(start <= now < end for start, end in self._by_monitor.get(monitor_id, ()))

    def active_windows(self) -> list[StoredWindow]:
        now = self.clock.now()
        return [w for w in self._live if w.starts_at <= now < w.ends_at]

    # -- running ------------------------------------------------------------------

    async def start(self) -> None:
        """After the store is open: replace stale config windows, catch up, start ticking."""
        removed = await self._write(self._delete_stale_config_windows)
        if removed:
            log.info("replaced %d future maintenance windows of changed config entries", removed)
        await self.tick()
        self._task = asyncio.create_task(self._run(), name="uplight-maintenance")

    async def load_live(self) -> None:
        """The live windows as the database holds them, nothing applied or materialised:
        a follower's view (docs/deploy.md, "Several servers"), where the leader runs the
        lifecycle and every write."""
        self._set_live(await self.store.write(queries.live_windows))

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def tick(self) -> None:
        """Materialise what the config schedules, then apply due transitions."""
        await self._materialise(self.clock.now())
        await self.refresh()

    async def refresh(self) -> None:
        """Apply due transitions now if any are due (no write when none are: every
        write goes through this service, so the live windows in memory are current)."""
        now = self.clock.now()
        if any(due_status(w, now) for w in self._live):
            await self._write(lambda db, now: _nothing())

    def seconds_to_next_boundary(self) -> float:
        now = self.clock.now()
        ahead = [
            moment
            for w in self._live
            for moment in ((w.starts_at, w.ends_at) if w.status == "scheduled" else (w.ends_at,))
            if moment > now
        ]
        if not ahead:
            return MAX_TICK_SECONDS
        return min(MAX_TICK_SECONDS, max(0.05, (min(ahead) - now).total_seconds()))

    async def _run(self) -> None:
        while True:
            delay = MAX_TICK_SECONDS
            try:
                await self.tick()
                delay = self.seconds_to_next_boundary()
            except Exception:
                log.exception("maintenance tick failed")
            await asyncio.sleep(delay)

    async def _write(self, work: Callable[[aiosqlite.Connection, dt.datetime], Awaitable[T]]) -> T:
        """One transaction: due transitions, ``work``, then the live windows it leaves."""

        async def job(db: aiosqlite.Connection) -> tuple[T, list[StoredWindow], int]:
            now = self.clock.now()
            await _apply_transitions(db, now)
            result = await work(db, now)
            live = await queries.live_windows(db)
            self._written += 1
            return result, live, self._written

        result, live, sequence = await self.store.write(job)
        if sequence > self._shown:  # a later write may have finished first
            self._shown = sequence
            self._set_live(live)
        return result

    def _set_live(self, live: Sequence[StoredWindow]) -> None:
        by_monitor: dict[str, list[tuple[dt.datetime, dt.datetime]]] = {}
        for window in live:
            for monitor_id in window.component_ids:
                by_monitor.setdefault(monitor_id, []).append((window.starts_at, window.ends_at))
        self._live = tuple(live)
        self._by_monitor = by_monitor

    # -- operations ---------------------------------------------------------------

    async def get(self, window_id: int) -> StoredWindow:
        await self.refresh()
        window = await queries.get_window(self.store, window_id)
        if window is None:
            raise WindowNotFound(window_id)
        return window

    async def list_windows(
        self,
        *,
        status: str | None = None,
        after: WindowPosition | None = None,
        limit: int = 50,
    ) -> WindowPage:
        """Newest start first, except ``upcoming`` (scheduled with a start still ahead):
        soonest first, so its first page is what happens next."""
        await self.refresh()
        upcoming = status == "upcoming"
        # One more than asked tells whether there is a next page without counting.
        found = await queries.list_windows(
            self.store,
            status="scheduled" if upcoming else status,
            starts_after=self.clock.now() if upcoming else None,
            after=after,
            soonest_first=upcoming,
            limit=limit + 1,
        )
        items = found[:limit]
        more = len(found) > limit and bool(items)
        return WindowPage(items, position_of(items[-1]) if more else None)

    async def windows_touching(self, monitor_id: str, *, limit: int = 25) -> list[StoredWindow]:
        """Up to ``limit`` windows covering the monitor, newest start first; windows that
        have started are chosen before those still ahead (the console's monitor page)."""
        await self.refresh()
        return await queries.recent_windows_touching(
            self.store, [monitor_id], now=self.clock.now(), limit=limit
        )

    async def schedule(self, fields: WindowFields, *, created_by: str) -> StoredWindow:
        fields = self._normalised(fields)
        validate_window(fields, self._monitor_ids)

        async def insert(db: aiosqlite.Connection, now: dt.datetime) -> StoredWindow:
            status = clock_status(fields.starts_at, fields.ends_at, now)
            window_id = await queries.insert_window(
                db,
                fields,
                status=status,
                now=now,
                created_by=created_by,
                completed_at=fields.ends_at if status == "completed" else None,
            )
            assert window_id is not None
            return await _reread(db, window_id)

        return await self._write(insert)

    async def update(self, window_id: int, changes: dict[str, Any]) -> StoredWindow:
        """Apply the given fields (omitted ones stay) and re-validate the whole window
        (component ids only when ``changes`` has them).

        An active window given an ``ends_at`` at or before now is completed now
        (``ends_at = completed_at = now``), never retroactively: its results up to
        now were flagged as in maintenance, and the record must agree with them.

        A cancelled window keeps its record but may be retitled and redescribed
        (``"[cancelled] PG cutover"``); a completed one cannot change.
        """

        async def rewrite(db: aiosqlite.Connection, now: dt.datetime) -> StoredWindow:
            window = await _existing(db, window_id)
            if window.status == "completed":
                raise MaintenanceError(
                    "MAINTENANCE_COMPLETED",
                    f"maintenance window {window_id} is completed and cannot be changed",
                )
            if window.status == "cancelled":
                return await self._annotate_cancelled(db, window, changes, now)
            if not changes:
                return window
            fields = self._normalised(dataclasses.replace(window.fields, **changes))
            validate_window(fields, self._monitor_ids, check_components="component_ids" in changes)
            if window.status == "active" and fields.ends_at <= now:
                # Validated as sent first (an end before the start is still an
                # error), then clamped: the window ends at this moment.
                fields = dataclasses.replace(fields, ends_at=to_ms_precision(now))
                if fields.ends_at <= fields.starts_at:  # started this very millisecond
                    raise MaintenanceError(
                        "INVALID_TIME_RANGE", "must be after starts_at", field="ends_at"
                    )
            status = clock_status(fields.starts_at, fields.ends_at, now)
            await queries.rewrite_window(
                db,
                window_id,
                fields,
                status=status,
                completed_at=fields.ends_at if status == "completed" else None,
                now=now,
            )
            return await _reread(db, window_id)

        return await self._write(rewrite)

    async def _annotate_cancelled(
        self,
        db: aiosqlite.Connection,
        window: StoredWindow,
        changes: dict[str, Any],
        now: dt.datetime,
    ) -> StoredWindow:
        """Title and description of a cancelled window; anything else is refused, though a
        field sent back unchanged (a client echoing the whole window) is not a change."""
        stored = window.fields
        wanted = self._normalised(dataclasses.replace(stored, **changes))
        moved = [
            name
            for name in ("severity", "component_ids", "starts_at", "ends_at")
            if getattr(wanted, name) != getattr(stored, name)
        ]
        if moved:
            raise MaintenanceError(
                "MAINTENANCE_CANCELLED",
                "cannot change once the window is cancelled; only title and description can",
                field=moved[0],
            )
        if (wanted.title, wanted.description) == (stored.title, stored.description):
            return window
        await queries.set_window_text(
            db, window.id, title=wanted.title, description=wanted.description, now=now
        )
        return await _reread(db, window.id)

    async def cancel(self, window_id: int) -> StoredWindow:
        """Cancel a scheduled or active window; cancelling again changes nothing."""

        async def cancel(db: aiosqlite.Connection, now: dt.datetime) -> StoredWindow:
            window = await _existing(db, window_id)
            if window.status == "cancelled":
                return window
            if window.status == "completed":
                raise MaintenanceError(
                    "MAINTENANCE_COMPLETED",
                    f"maintenance window {window_id} is already completed; purge it to delete it",
                )
            await queries.mark_cancelled(db, window_id, now)
            return await _reread(db, window_id)

        return await self._write(cancel)

    async def complete(self, window_id: int) -> StoredWindow:
        """End an active window now; completing again changes nothing."""

        async def complete(db: aiosqlite.Connection, now: dt.datetime) -> StoredWindow:
            window = await _existing(db, window_id)
            if window.status == "completed":
                return window
            if window.status == "cancelled":
                raise MaintenanceError(
                    "MAINTENANCE_CANCELLED", f"maintenance window {window_id} is cancelled"
                )
            if window.status == "scheduled":
                raise MaintenanceError(
                    "MAINTENANCE_NOT_STARTED",
                    f"maintenance window {window_id} has not started; cancel it instead",
                )
            await queries.mark_completed(db, window_id, completed_at=now, now=now)
            return await _reread(db, window_id)

        return await self._write(complete)

    async def purge(self, window_id: int) -> None:
        """Delete for good. A config occurrence still ahead is materialised again:
        cancel one to skip it."""

        async def purge(db: aiosqlite.Connection, now: dt.datetime) -> StoredWindow:
            window = await _existing(db, window_id)
            await queries.delete_window(db, window_id)
            return window

        window = await self._write(purge)
        if window.config_id is not None:
            self._known = {key for key in self._known if key[0] != window.config_id}

    def _normalised(self, fields: WindowFields) -> WindowFields:
        return dataclasses.replace(
            fields,
            component_ids=tuple(dict.fromkeys(fields.component_ids)),
            starts_at=to_ms_precision(fields.starts_at.astimezone(dt.UTC)),
            ends_at=to_ms_precision(fields.ends_at.astimezone(dt.UTC)),
        )

    # -- recurring windows from the config ----------------------------------------

    async def _delete_stale_config_windows(self, db: aiosqlite.Connection, now: dt.datetime) -> int:
        """Remove config windows that have not started yet and no longer match their entry
        (the entry changed or is gone). Started, ended and cancelled ones stay: history."""
        marks = {entry.id: fingerprint(entry) for entry in self._entries}
        stale = [
            w.id
            for w in await queries.planned_config_windows(db, now)
            if marks.get(w.config_id) != w.fingerprint
        ]
        for window_id in stale:
            await queries.delete_window(db, window_id)
        return len(stale)

    async def _materialise(self, now: dt.datetime) -> None:
        wanted = {
            entry.id: [
                start
                for start in planned_occurrences(entry, now)
                if (entry.id, start) not in self._known
            ]
            for entry in self._entries
        }
        # The key set only has to remember what a pass could plan again.
        horizon = now - MAX_DURATION
        self._known = {key for key in self._known if key[1] > horizon}
        if not any(wanted.values()):
            return
        entries = {entry.id: entry for entry in self._entries}

        async def insert(db: aiosqlite.Connection, at: dt.datetime) -> int:
            created = 0
            for entry_id, starts in wanted.items():
                if starts:
                    created += await insert_occurrences(db, entries[entry_id], starts, at)
            return created

        created = await self._write(insert)
        # Only once committed: a failed pass plans the same occurrences again.
        self._known.update(
            (entry_id, start) for entry_id, starts in wanted.items() for start in starts
        )
        if created:
            log.info("materialised %d maintenance windows from the config", created)


async def _nothing() -> None:
    return None


async def _apply_transitions(db: aiosqlite.Connection, now: dt.datetime) -> None:
    """Bring stored statuses in line with the clock. A window that ran out ends at its
    planned ``ends_at``, not at the moment we notice."""
    for window in await queries.live_windows(db):
        status = due_status(window, now)
        if status == "active":
            await queries.mark_active(db, window.id, now)
        elif status == "completed":
            await queries.mark_completed(db, window.id, completed_at=window.ends_at, now=now)


async def _existing(db: aiosqlite.Connection, window_id: int) -> StoredWindow:
    window = await queries.read_window(db, window_id)
    if window is None:
        raise WindowNotFound(window_id)
    return window


async def _reread(db: aiosqlite.Connection, window_id: int) -> StoredWindow:
    window = await queries.read_window(db, window_id)
    assert window is not None
    return window
