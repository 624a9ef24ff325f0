"""Watches the event loop for stalls, and knows which check caused each one.

A check that blocks (``time.sleep`` or a blocking socket inside ``async def
check``) holds the whole event loop: every other check's timeout runs out while
it holds it, and so would their monitors' truth. Two ways to see a stall:

- every check runs one step at a time through a :class:`StepTimer`: a step that
  runs longer than the threshold held the loop for that long, and its monitor is
  the culprit (logged as a warning naming the monitor and the check type);
- a tick every ``period`` measures its own lateness: lateness past the threshold
  that no check step explains is a stall with no known culprit (a notifier, a
  renderer, a task a check spawned and did not await).

The scheduler asks :meth:`LoopWatchdog.foreign_stall` how much of a run's window
stalls caused by someone else covered, so that their timeouts are not blamed on
the monitor that suffered them. Everything is read from the injected clock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
from collections import Counter, deque
from collections.abc import Coroutine, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from ..clock import Clock

log = logging.getLogger(__name__)

T = TypeVar("T")

# A step (or a tick's lateness) at least this long is a stall: long enough that a
# first call's imports or a busy machine's scheduling do not count, short enough
# to catch a blocking request or DNS lookup before it costs others their timeout.
STALL_THRESHOLD = 0.5
TICK = 0.5
RECENT = 20  # stalls the dashboard lists
KEEP = 256  # stalls kept to judge the windows of the runs still in flight
UNKNOWN = "unknown"  # the metrics label of a stall no check step explains


@dataclass(frozen=True)
class Stall:
    started: float  # the clock's monotonic seconds
    ended: float
    at: dt.datetime  # wall time it ended
    monitor_id: str | None  # None: not a check step (the tick saw it)
    check_type: str | None

    @property
    def seconds(self) -> float:
        return self.ended - self.started


class LoopWatchdog:
    def __init__(
        self, clock: Clock, *, threshold: float = STALL_THRESHOLD, period: float = TICK
    ) -> None:
        self._clock = clock
        self.threshold = threshold
        self._period = period
        self._stalls: deque[Stall] = deque(maxlen=KEEP)
        self.stalls: Counter[str] = Counter()  # by check type, UNKNOWN for no culprit
        self.stall_seconds: Counter[str] = Counter()
        self.lag = 0.0  # lateness of the latest tick
        self._expected: float | None = None  # when the pending tick is due
        self._explained_until = -math.inf  # end of the latest stall recorded
        self._task: asyncio.Task[None] | None = None

    @property
    def recent(self) -> list[Stall]:
        """The latest stalls, newest first."""
        return list(reversed(self._stalls))[:RECENT]

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._tick(), name="uplight-loop-watchdog")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._expected = None

    async def _tick(self) -> None:
        while True:
            self._expected = self._clock.monotonic() + self._period
            await self._clock.sleep_until(self._expected)
            self.observe()
            self.lag = max(0.0, self._clock.monotonic() - self._expected)

    def observe(self) -> None:
        """Record the pending tick's lateness as a stall if no check step explains it.

        The tick calls it when it wakes; the scheduler calls it before judging a
        timeout, as its own timer may have woken first after the same stall.
        """
        if self._expected is None:
            return
        now = self._clock.monotonic()
        start = max(self._expected, self._explained_until)
        if now - start >= self.threshold:
            self._record(Stall(start, now, self._clock.now(), None, None))
            log.warning(
                "the event loop was held for %.2fs outside any check step"
                " (a notifier, a renderer or a task a check left running)",
                now - start,
            )

    def timer(self, monitor_id: str, check_type: str) -> StepTimer:
        return StepTimer(self, monitor_id, check_type)

    def _step(self, timer: StepTimer, started: float, ended: float) -> None:
        seconds = ended - started
        timer.busy += seconds
        if seconds < self.threshold:
            return
        self._record(Stall(started, ended, self._clock.now(), timer.monitor_id, timer.check_type))
        log.warning(
            "monitor %s (check type %r) held the event loop for %.2fs: its check blocks"
            " (see 'Isolating an untrusted check type' in docs/plugins.md)",
            timer.monitor_id,
            timer.check_type,
            seconds,
        )

    def _record(self, stall: Stall) -> None:
        self._stalls.append(stall)
        self._explained_until = max(self._explained_until, stall.ended)
        label = stall.check_type or UNKNOWN
        self.stalls[label] += 1
        self.stall_seconds[label] += stall.seconds

    def foreign_stall(
        self, monitor_id: str, since: float, until: float
    ) -> tuple[float, Stall | None]:
        """Seconds of ``[since, until]`` the loop was held by anyone but ``monitor_id``'s
        checks, and the longest such stall."""
        covered = 0.0
        longest: Stall | None = None
        for stall in reversed(self._stalls):
            if stall.ended <= since:
                break  # recorded in the order they ended
            if stall.monitor_id == monitor_id:
                continue
            overlap = min(stall.ended, until) - max(stall.started, since)
            if overlap > 0:
                covered += overlap
                if longest is None or stall.seconds > longest.seconds:
                    longest = stall
        return covered, longest


class StepTimer:
    """Runs one check's coroutine step by step, timing each step on the clock.

    A step is the code a coroutine runs between two awaits that suspend it: while
    it runs, nothing else on the loop does. ``busy`` adds up the steps so far.
    """

    def __init__(self, watchdog: LoopWatchdog, monitor_id: str, check_type: str) -> None:
        self._watchdog = watchdog
        self.monitor_id = monitor_id
        self.check_type = check_type
        self.busy = 0.0

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return await _Stepped(coro, self)


class _Stepped:
    """An awaitable that drives ``coro`` itself, so that it can time each ``send``."""

    def __init__(self, coro: Coroutine[Any, Any, Any], timer: StepTimer) -> None:
        self._coro = coro
        self._timer = timer

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, timer = self._coro, self._timer
        clock = timer._watchdog._clock
        value: Any = None
        error: BaseException | None = None
        while True:
            started = clock.monotonic()
            try:
                yielded = coro.send(value) if error is None else coro.throw(error)
            except StopIteration as stop:
                timer._watchdog._step(timer, started, clock.monotonic())
                return stop.value
            except BaseException:
                timer._watchdog._step(timer, started, clock.monotonic())
                raise
            timer._watchdog._step(timer, started, clock.monotonic())
            try:
                # What the task sends back (a future's result) or throws in (its
                # cancellation) goes to the check, as a plain ``await`` would.
                value, error = (yield yielded), None
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:
                value, error = None, exc
