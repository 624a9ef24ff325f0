"""Runs each monitor's check on its interval and isolates plugin faults.

One dispatcher keeps every monitor's next due time in a heap and starts a task
for a run when it falls due (a sleeping task per monitor cost about 1.6 KB each, 16
MB at 10,000); a global semaphore is the concurrency cap, each monitor runs at its
own phase of its interval (``phase_fraction``), missed ticks are skipped rather
than piled up. A check that raises (``SystemExit`` and ``KeyboardInterrupt``
included), overruns its timeout or returns garbage becomes a ``down`` result with
a message saying so; nothing a plugin does stops the scheduler or another monitor:

- a check that blocks the event loop is named by the watchdog (``watchdog.py``),
  and a ``down`` result of another monitor whose run the stall covered is not
  believed: that check is run again at once, and if a stall it did not cause
  covers the second run too, the run is not counted (no result, a warning);
- a monitor with ``MAX_ABANDONED`` checks still running after they ignored their
  cancellation skips its runs until one of them ends;
- check types named in ``[scheduler] isolate`` run in worker processes
  (``isolation.py``).

Every reading of time and every wait (due times, lag, timeouts, the grace given
to a cancelled check) goes through the injected clock, so tests drive it.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import inspect
import itertools
import logging
import math
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..checks import CheckContext, CheckType, OperatorState, PingState
from ..checks import MonitorState as ReferencedState
from ..clock import Clock, SystemClock
from ..config import MonitorConfig
from ..models import CheckResult, CheckStatus, ResultRecord
from .faults import MAX_MESSAGE, call_check, describe, guarded, validated
from .isolation import IsolatedChecks
from .watchdog import LoopWatchdog, Stall

log = logging.getLogger(__name__)

ResultListener = Callable[[MonitorConfig, ResultRecord], Awaitable[None] | None]
# How long a cancelled check may take to unwind before it counts as abandoned.
CANCEL_GRACE = 0.1
# Checks of one monitor left running after they ignored their cancellation; at
# this many its runs are skipped, so a check that swallows cancellation cannot
# pile up one task per interval without bound.
MAX_ABANDONED = 3


def phase_fraction(monitor_id: str) -> float:
    """Where in its interval a monitor runs, in [0, 1): a hash of its id.

    Stable across restarts and processes (Python's ``hash`` of a string is salted
    per process), and spread evenly: monitors fall due across the whole interval
    rather than together.
    """
    digest = hashlib.blake2b(monitor_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class _NoErrors(Counter[str]):
    """The empty error counter every state shares until its first error: most monitors
    never have one (88 bytes a monitor at 10,000). Never changed."""

    def __setitem__(self, key: str, value: int) -> None:
        raise TypeError("the shared empty error counter is never changed")


NO_ERRORS: Counter[str] = _NoErrors()


@dataclass(slots=True)
class MonitorState:
    """What the scheduler knows about one monitor, read by metrics and the dashboard.

    Slotted, and no set of its own until a check is abandoned: 10,000 of them are
    kept (705 -> 440 bytes each)."""

    monitor: MonitorConfig
    last: ResultRecord | None = None
    last_lag: float = 0.0
    last_started: float | None = None  # unix seconds
    next_due: float | None = None  # the clock's monotonic seconds
    running: bool = False
    skipped_ticks: int = 0
    checks: Counter[str] = field(default_factory=Counter)  # by result status
    # By error reason: the shared NO_ERRORS until its first error, then its own.
    errors: Counter[str] = field(default_factory=lambda: NO_ERRORS)
    # Its checks that ignored their cancellation and are still running.
    abandoned: set[asyncio.Task[Any]] | frozenset[asyncio.Task[Any]] = frozenset()
    held_back: bool = False  # skipping runs: MAX_ABANDONED checks still running
    stall_reruns: int = 0  # down results run again: another check's stall covered them
    uncounted: int = 0  # runs not counted: a stall it did not cause covered the re-run too


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
        max_jitter: float | None = None,
        listeners: Iterable[ResultListener] = (),
        in_maintenance: Callable[[str], bool] = lambda monitor_id: False,
        clock: Clock | None = None,
        isolate: Iterable[str] = (),
        ping_state: Callable[[str], PingState | None] = lambda monitor_id: None,
        referenced_states: Callable[[str], Mapping[str, ReferencedState]] = lambda i: {},
        operator_state: Callable[[str], OperatorState | None] = lambda monitor_id: None,
        awaiting_references: Callable[[str], bool] = lambda monitor_id: False,
        unscheduled: Iterable[str] = (),
    ) -> None:
        self.states = {m.id: MonitorState(m) for m in monitors}
        # Monitors whose results come only through ``record`` (a joined monitor's).
        self._unscheduled = frozenset(unscheduled)
        self._check_types = check_types
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._max_jitter = max_jitter
        self._listeners = list(listeners)
        self._in_maintenance = in_maintenance
        self._ping_state = ping_state  # what a push monitor's check judges
        # What a group's check judges: the states of the monitors it references.
        self._referenced_states = referenced_states
        self._operator_state = operator_state  # what a manual monitor's check reports
        # A group is not checked before its members have a state: it would judge nothing.
        self._awaiting_references = awaiting_references
        self._clock: Clock = clock or SystemClock()
        # (due, order, state): each scheduled monitor's next run; equal due times run
        # in the order they were scheduled.
        self._due: list[tuple[float, int, MonitorState]] = []
        self._order = itertools.count()
        self._dispatcher: asyncio.Task[None] | None = None
        # The dispatcher's current wait, and until when: a run scheduled earlier
        # than that cancels the wait so the dispatcher looks again.
        self._wait: asyncio.Future[Any] | None = None
        self._waiting_until = math.inf
        self._runs: set[asyncio.Task[None]] = set()  # runs started and not yet ended
        # Checks that ignored cancellation: kept referenced until they finish.
        self._abandoned: set[asyncio.Task[Any]] = set()
        # Checks cancelled because their run was: ``stop`` waits for them.
        self._cancelled: set[asyncio.Task[Any]] = set()
        self.stats = SchedulerStats()
        self.watchdog = LoopWatchdog(self._clock)
        self.isolation = IsolatedChecks(check_types, isolate)

    @property
    def running(self) -> bool:
        return self._dispatcher is not None and not self._dispatcher.done()

    def add_listener(self, listener: ResultListener) -> None:
        self._listeners.append(listener)

    def start(self) -> None:
        now = self.stats.started_at = self._clock.now().timestamp()
        self.watchdog.start()
        started = self._clock.monotonic()
        for state in self.states.values():
            if state.monitor.id not in self._unscheduled:
                self._schedule(state, started + self.first_delay(state.monitor, now))
        self._dispatcher = asyncio.create_task(self._dispatch(), name="scheduler")

    def first_delay(self, monitor: MonitorConfig, now: float) -> float:
        """Seconds from ``now`` (unix) to the monitor's first run; its later runs keep the phase.

        By default the phase is the monitor's fraction of its interval counted on the
        wall clock, so monitors spread evenly over their interval and each keeps the
        same second of it across restarts. ``max_jitter`` shorter than the interval
        caps the first wait instead: first runs spread over it, counted from this
        start (0: all at once); a cap of at least the interval changes nothing.
        """
        interval = monitor.interval
        fraction = phase_fraction(monitor.id)
        if self._max_jitter is not None and self._max_jitter < interval:
            return fraction * self._max_jitter
        return (fraction * interval - now) % interval

    async def stop(self, grace: float = 1.0) -> None:
        """Cancel the loops and every in-flight check; return when they are gone.

        A check that ignores its cancellation gets ``grace`` seconds to end, then is
        left behind (counted in ``stats.abandoned_tasks``) so that stopping is bounded.
        """
        tasks = [*self._runs, *([self._dispatcher] if self._dispatcher else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._dispatcher = None
        self._due.clear()
        await self.watchdog.stop()
        await self.isolation.close()
        waiting = {t for t in self._abandoned | self._cancelled if not t.done()}
        if waiting:
            still = await self._wait_until(waiting, self._clock.monotonic() + grace)
            self.stats.abandoned_tasks += len(still & self._cancelled)
            for task in still:
                log.warning("a check ignored its cancellation and is still running: %r", task)

    def _schedule(self, state: MonitorState, due: float) -> None:
        state.next_due = due
        heapq.heappush(self._due, (due, next(self._order), state))
        if due < self._waiting_until and self._wait is not None:
            self._wait.cancel()  # the dispatcher sleeps past this run: wake it

    async def _dispatch(self) -> None:
        """Start each run when it falls due; sleep until the next one."""
        loop = asyncio.get_running_loop()
        while True:
            now = self._clock.monotonic()
            while self._due and self._due[0][0] <= now:
                due, _, state = heapq.heappop(self._due)
                run = asyncio.create_task(self._run(state, due), name=f"monitor:{state.monitor.id}")
                self._runs.add(run)
                run.add_done_callback(self._runs.discard)
            self._waiting_until = self._due[0][0] if self._due else math.inf
            if self._waiting_until == math.inf:
                self._wait = loop.create_future()  # until something is scheduled
            else:
                self._wait = asyncio.ensure_future(self._clock.sleep_until(self._waiting_until))
            try:
                # Returns when the wait ends or is cancelled by ``_schedule``; raises
                # only when the dispatcher itself is cancelled.
                await asyncio.wait({self._wait})
            finally:
                self._wait.cancel()
                self._wait = None
                self._waiting_until = math.inf

    async def _run(self, state: MonitorState, due: float) -> None:
        """One due run of a monitor, then its next one scheduled at the same phase."""
        if self._held_back(state):
            state.skipped_ticks += 1
        else:
            async with self._semaphore:
                lag = max(0.0, self._clock.monotonic() - due)
                state.last_lag = lag
                self.stats.max_lag = max(self.stats.max_lag * 0.9, lag)
                try:
                    await self._run_and_record(state)
                except Exception:
                    # run_check turns plugin faults into results; this is a bug of
                    # ours, and it must not end this monitor's checks for good.
                    log.exception("scheduler error for monitor %s", state.monitor.id)
        interval = state.monitor.interval
        now = self._clock.monotonic()
        due += interval
        if due <= now:
            # Missed ticks are skipped, not piled up: run at the next tick still ahead.
            missed = math.floor((now - due) / interval) + 1
            state.skipped_ticks += missed
            due += missed * interval
        self._schedule(state, due)

    def _held_back(self, state: MonitorState) -> bool:
        monitor = state.monitor
        if len(state.abandoned) >= MAX_ABANDONED:
            if not state.held_back:
                log.warning(
                    "monitor %s: %d of its %r checks ignored their cancellation and are"
                    " still running; its checks are skipped until one of them ends",
                    monitor.id,
                    len(state.abandoned),
                    monitor.type,
                )
            state.held_back = True
        elif state.held_back:
            state.held_back = False
            log.info("monitor %s: an abandoned check ended; its checks resume", monitor.id)
        return state.held_back

    async def run_once(self, monitor_id: str) -> ResultRecord | None:
        """Run one monitor's check now and hand the result to the listeners; None when
        the run was not counted (event loop stalls it did not cause covered it) or not
        made (a monitor it references has no state yet)."""
        return await self._run_and_record(self.states[monitor_id])

    async def _run_and_record(self, state: MonitorState) -> ResultRecord | None:
        monitor = state.monitor
        if self._awaiting_references(monitor.id):
            return None  # no data yet, as before any monitor's first check
        state.running = True
        state.last_started = self.stats.last_tick = self._clock.now().timestamp()
        try:
            record, stall = await self._attempt(monitor)
            if stall is not None:
                # Not the monitor's truth: the loop was not its to use. Ask again.
                state.stall_reruns += 1
                log.info(
                    "monitor %s: %s; its down result is not believed, the check runs again",
                    monitor.id,
                    _blame(stall),
                )
                record, stall = await self._attempt(monitor)
            if stall is not None:
                state.uncounted += 1
                log.warning(
                    "monitor %s: %s again; this run is not counted", monitor.id, _blame(stall)
                )
                return None
        finally:
            state.running = False
        await self._publish(state, record)
        return record

    async def record(
        self, monitor_id: str, result: CheckResult, reason: str | None = None
    ) -> ResultRecord:
        """Hand a result that did not come from a scheduled check (a heartbeat) to the
        listeners, as if a check had returned it now: stored, counted, watched.
        ``reason``: the error reason when a plugin misbehaved."""
        state = self.states[monitor_id]
        monitor = state.monitor
        record = ResultRecord(
            monitor.id, self._clock.now(), result, reason, self._maintenance(monitor)
        )
        await self._publish(state, record)
        return record

    async def _publish(self, state: MonitorState, record: ResultRecord) -> None:
        monitor = state.monitor
        state.last = record
        state.checks[record.result.status.value] += 1
        if record.error_reason:
            if state.errors is NO_ERRORS:
                state.errors = Counter()
            state.errors[record.error_reason] += 1
        for listener in self._listeners:
            try:
                outcome = listener(monitor, record)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:
                log.exception("result listener %r failed for monitor %s", listener, monitor.id)

    async def run_check(self, monitor: MonitorConfig) -> ResultRecord:
        """One check under a hard timeout, with every plugin fault turned into a result."""
        return (await self._attempt(monitor))[0]

    async def _attempt(self, monitor: MonitorConfig) -> tuple[ResultRecord, Stall | None]:
        """One check, and the stall that makes its ``down`` result unbelievable, if any."""
        check_type = self._check_types.get(monitor.type)
        if check_type is None:
            result = CheckResult.down(f"unknown check type {monitor.type!r}")
            record = ResultRecord(
                monitor.id, self._clock.now(), result, "exception", self._maintenance(monitor)
            )
            return record, None
        context = CheckContext(
            monitor_id=monitor.id,
            timeout=monitor.timeout,
            now=self._clock.now(),
            pings=self._ping_state(monitor.id),
            monitor_states=self._referenced_states(monitor.id),
            operator_state=self._operator_state(monitor.id),
        )
        if monitor.type not in self.isolation:
            return await self._timed(
                monitor, lambda: call_check(check_type, monitor.options, context)
            )
        # Waiting for the type's worker (one check at a time) is not the check's time.
        async with self.isolation.slot(monitor.type) as worker:
            return await self._timed(monitor, lambda: worker.run(monitor.options, context))

    def _maintenance(self, monitor: MonitorConfig) -> bool:
        try:
            return bool(self._in_maintenance(monitor.id))
        except Exception:
            log.exception("maintenance lookup failed for monitor %s", monitor.id)
            return False

    async def _timed(
        self, monitor: MonitorConfig, call: Callable[[], Coroutine[Any, Any, Any]]
    ) -> tuple[ResultRecord, Stall | None]:
        checked_at = self._clock.now()
        in_maintenance = self._maintenance(monitor)
        timer = self.watchdog.timer(monitor.id, monitor.type)
        started = self._clock.monotonic()
        # Called inside the task, so a check that raises before its first await (or is
        # not even a coroutine function) is caught like any other fault.
        task = asyncio.create_task(guarded(timer.run(call())))
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
        self.watchdog.observe()  # a stall our timer woke up from before the tick did
        elapsed = self._clock.monotonic() - started
        foreign, stall = self.watchdog.foreign_stall(monitor.id, started, started + elapsed)
        result, reason = self._judge(monitor, task, unfinished, timer.busy, limit, elapsed)
        if unfinished:
            task.cancel()
            await self._reap(task, monitor.id)
        record = ResultRecord(monitor.id, checked_at, result, reason, in_maintenance)
        # Believed unless a stall it did not cause took so much of its time that,
        # without it, the check would still have been within its timeout.
        believed = result.status is not CheckStatus.DOWN or stall is None
        if believed or elapsed - foreign >= monitor.timeout:
            return record, None
        return record, stall

    def _judge(
        self,
        monitor: MonitorConfig,
        task: asyncio.Task[Any],
        unfinished: set[asyncio.Task[Any]],
        busy: float,
        limit: float,
        elapsed: float,
    ) -> tuple[CheckResult, str | None]:
        """The result a finished (or cut off) check stands for, and its error reason.

        ``busy``: how long the check's own steps held the event loop. One that held it
        past its limit overran, even if it finished in the step that did.
        """
        kind = monitor.type
        if unfinished or busy > limit:
            held = (
                f": it held the event loop for {busy:.1f}s"
                if busy > self.watchdog.threshold
                else ""
            )
            message = f"{kind} check did not finish within {monitor.timeout:g}s{held}"
            return CheckResult.down(message, elapsed), "timeout"
        if task.cancelled():
            # Not by us (that would have been a timeout): it raised CancelledError itself.
            message = f"check plugin {kind!r} failed: it was cancelled, not by the scheduler"
            return CheckResult.down(message, elapsed), "exception"
        if (exc := task.exception()) is not None:
            what = describe(exc)
            log.warning("check type %r raised for monitor %s: %s", kind, monitor.id, what)
            message = f"check plugin {kind!r} failed: {what}"[:MAX_MESSAGE]
            return CheckResult.down(message, elapsed), "exception"
        try:
            result, problem = validated(task.result(), kind)
        except (Exception, SystemExit, KeyboardInterrupt, GeneratorExit) as exc:
            # e.g. a message whose __str__ raises: plugin code, run in our task
            result = CheckResult.down("")
            problem = (
                f"check plugin {kind!r} returned a result that cannot be read: {type(exc).__name__}"
            )
        if problem:
            log.warning("monitor %s: %s", monitor.id, problem)
            return CheckResult.down(problem, elapsed), "invalid_result"
        return result, None

    async def _reap(self, task: asyncio.Task[Any], monitor_id: str) -> None:
        """Give a cancelled check a moment to unwind; abandon it if it does not."""
        try:
            await self._wait_until({task}, self._clock.monotonic() + CANCEL_GRACE)
        finally:
            self._abandon(task, monitor_id)

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

    def _abandon(self, task: asyncio.Task[Any], monitor_id: str) -> None:
        if task.done():
            _consume(task)
            return
        self.stats.abandoned_tasks += 1
        self._abandoned.add(task)
        task.add_done_callback(self._abandoned.discard)
        task.add_done_callback(_consume)
        if (state := self.states.get(monitor_id)) is not None:
            if not isinstance(state.abandoned, set):
                state.abandoned = set()
            state.abandoned.add(task)
            task.add_done_callback(state.abandoned.discard)


def _blame(stall: Stall) -> str:
    culprit = "a task outside any check"
    if stall.monitor_id is not None:
        culprit = f"monitor {stall.monitor_id} ({stall.check_type} check)"
    return f"{culprit} held the event loop for {stall.seconds:.1f}s during its check"


def _consume(task: asyncio.Task[Any]) -> None:
    # Retrieve the outcome so asyncio does not log "exception was never retrieved".
    if not task.cancelled():
        task.exception()
