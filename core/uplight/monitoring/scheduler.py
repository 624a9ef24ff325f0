"""Runs each monitor's check on its interval and isolates plugin faults.

One loop per monitor, a global semaphore as the concurrency cap, start times
spread with jitter, missed ticks skipped rather than piled up. A check that
raises, overruns its timeout or returns garbage becomes a ``down`` result with a
message saying so; nothing a plugin does stops the scheduler or another monitor.

Every reading of time and every wait (due times, lag, timeouts, the grace given
to a cancelled check) goes through the injected clock, so tests drive it.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import math
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..checks import CheckContext, CheckType
from ..clock import Clock, SystemClock
from ..config import MonitorConfig
from ..models import CheckResult, CheckStatus, ResultRecord

log = logging.getLogger(__name__)

ResultListener = Callable[[MonitorConfig, ResultRecord], Awaitable[None] | None]
MAX_MESSAGE = 2000
# How long a cancelled check may take to unwind before it counts as abandoned.
CANCEL_GRACE = 0.1


@dataclass
class MonitorState:
    """What the scheduler knows about one monitor, read by metrics and the dashboard."""

    monitor: MonitorConfig
    last: ResultRecord | None = None
    last_lag: float = 0.0
    last_started: float | None = None  # unix seconds
    next_due: float | None = None  # the clock's monotonic seconds
    running: bool = False
    skipped_ticks: int = 0
    checks: Counter[str] = field(default_factory=Counter)  # by result status
    errors: Counter[str] = field(default_factory=Counter)  # by error reason


@dataclass
class SchedulerStats:
    started_at: float | None = None
    last_tick: float | None = None  # unix seconds of the latest check start
    max_lag: float = 0.0
    abandoned_tasks: int = 0


class Scheduler:
    def __init__(
        self,
        monitors: Iterable[MonitorConfig],
        check_types: dict[str, CheckType],
        *,
        max_concurrency: int = 32,
        max_jitter: float = 10.0,
        listeners: Iterable[ResultListener] = (),
        in_maintenance: Callable[[str], bool] = lambda monitor_id: False,
        rng: random.Random | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.states = {m.id: MonitorState(m) for m in monitors}
        self._check_types = check_types
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._max_jitter = max_jitter
        self._listeners = list(listeners)
        self._in_maintenance = in_maintenance
        self._rng = rng or random.Random()
        self._clock: Clock = clock or SystemClock()
        self._tasks: list[asyncio.Task[None]] = []
        # Checks that ignored cancellation: kept referenced until they finish.
        self._abandoned: set[asyncio.Task[Any]] = set()
        # Checks cancelled because their loop was: ``stop`` waits for them.
        self._cancelled: set[asyncio.Task[Any]] = set()
        self.stats = SchedulerStats()

    @property
    def running(self) -> bool:
        return any(not t.done() for t in self._tasks)

    def add_listener(self, listener: ResultListener) -> None:
        self._listeners.append(listener)

    def start(self) -> None:
        self.stats.started_at = self._clock.now().timestamp()
        for state in self.states.values():
            delay = self._rng.uniform(0, min(self._max_jitter, state.monitor.interval))
            self._tasks.append(
                asyncio.create_task(self._loop(state, delay), name=f"monitor:{state.monitor.id}")
            )

    async def stop(self, grace: float = 1.0) -> None:
        """Cancel the loops and every in-flight check; return when they are gone.

        A check that ignores its cancellation gets ``grace`` seconds to end, then is
        left behind (counted in ``stats.abandoned_tasks``) so that stopping is bounded.
        """
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        waiting = {t for t in self._abandoned | self._cancelled if not t.done()}
        if waiting:
            still = await self._wait_until(waiting, self._clock.monotonic() + grace)
            self.stats.abandoned_tasks += len(still & self._cancelled)
            for task in still:
                log.warning("a check ignored its cancellation and is still running: %r", task)

    async def _loop(self, state: MonitorState, delay: float) -> None:
        interval = state.monitor.interval
        due = self._clock.monotonic() + delay
        while True:
            state.next_due = due
            await self._clock.sleep_until(due)
            async with self._semaphore:
                lag = max(0.0, self._clock.monotonic() - due)
                state.last_lag = lag
                self.stats.max_lag = max(self.stats.max_lag * 0.9, lag)
                try:
                    await self._run_and_record(state)
                except Exception:
                    # run_check turns plugin faults into results; this is a bug of ours,
                    # and it must not end this monitor's checks for good.
                    log.exception("scheduler error for monitor %s", state.monitor.id)
            now = self._clock.monotonic()
            due += interval
            if due <= now:
                # Missed ticks are skipped, not piled up: run at the next tick still ahead.
                missed = math.floor((now - due) / interval) + 1
                state.skipped_ticks += missed
                due += missed * interval

    async def run_once(self, monitor_id: str) -> ResultRecord:
        """Run one monitor's check now and hand the result to the listeners."""
        return await self._run_and_record(self.states[monitor_id])

    async def _run_and_record(self, state: MonitorState) -> ResultRecord:
        monitor = state.monitor
        state.running = True
        state.last_started = self.stats.last_tick = self._clock.now().timestamp()
        try:
            record = await self.run_check(monitor)
        finally:
            state.running = False
        state.last = record
        state.checks[record.result.status.value] += 1
        if record.error_reason:
            state.errors[record.error_reason] += 1
        for listener in self._listeners:
            try:
                outcome = listener(monitor, record)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:
                log.exception("result listener %r failed for monitor %s", listener, monitor.id)
        return record

    async def run_check(self, monitor: MonitorConfig) -> ResultRecord:
        """One check under a hard timeout, with every plugin fault turned into a result."""
        checked_at = self._clock.now()
        try:
            in_maintenance = bool(self._in_maintenance(monitor.id))
        except Exception:
            log.exception("maintenance lookup failed for monitor %s", monitor.id)
            in_maintenance = False
        check_type = self._check_types.get(monitor.type)
        if check_type is None:
            result = CheckResult.down(f"unknown check type {monitor.type!r}")
            return ResultRecord(monitor.id, checked_at, result, "exception", in_maintenance)
        context = CheckContext(monitor_id=monitor.id, timeout=monitor.timeout)
        started = self._clock.monotonic()
        # Called inside the task, so a check that raises before its first await (or is
        # not even a coroutine function) is caught like any other fault.
        task = asyncio.create_task(_call_check(check_type, monitor.options, context))
        # The check gets its own timeout; the grace lets it report a precise message first.
        limit = monitor.timeout + min(1.0, max(0.05, monitor.timeout * 0.1))
        try:
            unfinished = await self._wait_until({task}, started + limit)
        except asyncio.CancelledError:
            task.cancel()
            if not task.done():
                self._cancelled.add(task)
                task.add_done_callback(self._cancelled.discard)
            task.add_done_callback(_consume)
            raise
        elapsed = self._clock.monotonic() - started
        reason: str | None = None
        if unfinished:
            task.cancel()
            await self._reap(task)
            reason = "timeout"
            result = CheckResult.down(f"check did not finish within {monitor.timeout:g}s", elapsed)
        elif task.cancelled():
            reason = "exception"
            result = CheckResult.down("check was cancelled", elapsed)
        elif (exc := task.exception()) is not None:
            reason = "exception"
            what = _describe(exc)
            log.warning("check type %r raised for monitor %s: %s", monitor.type, monitor.id, what)
            result = CheckResult.down(
                f"check plugin {monitor.type!r} failed: {what}"[:MAX_MESSAGE], elapsed
            )
        else:
            try:
                result, problem = _validated(task.result(), monitor.type)
            except Exception as exc:  # e.g. a message whose __str__ raises
                result = CheckResult.down("")
                problem = (
                    f"check plugin {monitor.type!r} returned a result that cannot be read: "
                    f"{type(exc).__name__}"
                )
            if problem:
                reason = "invalid_result"
                log.warning("monitor %s: %s", monitor.id, problem)
                result = CheckResult.down(problem, elapsed)
        return ResultRecord(monitor.id, checked_at, result, reason, in_maintenance)

    async def _reap(self, task: asyncio.Task[Any]) -> None:
        """Give a cancelled check a moment to unwind; abandon it if it does not."""
        try:
            await self._wait_until({task}, self._clock.monotonic() + CANCEL_GRACE)
        finally:
            self._abandon(task)

    async def _wait_until(
        self, tasks: set[asyncio.Task[Any]], deadline: float
    ) -> set[asyncio.Task[Any]]:
        """Wait until the tasks are done or the clock reaches ``deadline``; return the
        ones still running. Like ``asyncio.wait`` with a timeout, on this clock."""
        pending = {t for t in tasks if not t.done()}
        if not pending:
            return pending
        timer = asyncio.ensure_future(self._clock.sleep_until(deadline))
        try:
            while pending and not timer.done():
                await asyncio.wait({*pending, timer}, return_when=asyncio.FIRST_COMPLETED)
                pending = {t for t in pending if not t.done()}
        finally:
            timer.cancel()
        return pending

    def _abandon(self, task: asyncio.Task[Any]) -> None:
        if task.done():
            _consume(task)
            return
        self.stats.abandoned_tasks += 1
        self._abandoned.add(task)
        task.add_done_callback(self._abandoned.discard)
        task.add_done_callback(_consume)


async def _call_check(check_type: CheckType, options: Any, context: CheckContext) -> Any:
    outcome = check_type.check(options, context)
    if inspect.isawaitable(outcome):
        outcome = await outcome
    return outcome


def _describe(exc: BaseException) -> str:
    try:
        return f"{type(exc).__name__}: {exc}"
    except Exception:  # an exception whose __str__ raises too
        return type(exc).__name__


def _consume(task: asyncio.Task[Any]) -> None:
    # Retrieve the outcome so asyncio does not log "exception was never retrieved".
    if not task.cancelled():
        task.exception()


def _validated(value: Any, type_name: str) -> tuple[CheckResult, str | None]:
    """Check a plugin's return value; a garbage value is reported, never trusted."""
    bad = CheckResult.down("")
    if not isinstance(value, CheckResult):
        return bad, (
            f"check plugin {type_name!r} returned {type(value).__name__}, not a CheckResult"
        )
    try:
        status = CheckStatus(value.status)
    except ValueError:
        return bad, f"check plugin {type_name!r} returned an unknown status {value.status!r}"
    latency = value.latency
    if latency is not None and (
        isinstance(latency, bool)
        or not isinstance(latency, int | float)
        or not math.isfinite(latency)
        or latency < 0
    ):
        return bad, f"check plugin {type_name!r} returned an invalid latency {latency!r}"
    if not isinstance(value.details, dict):
        return bad, f"check plugin {type_name!r} returned details that are not a table"
    try:
        json.dumps(value.details, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return bad, f"check plugin {type_name!r} returned details that are not JSON: {exc}"
    message = value.message if isinstance(value.message, str) else str(value.message)
    return CheckResult(status, latency, message[:MAX_MESSAGE], value.details), None
