"""Time as a dependency, so lifecycles and loops driven by the clock can be tested.

A clock answers what time it is (``now`` for timestamps, ``monotonic`` for
durations and due times) and waits (``sleep_until`` a monotonic deadline). The
deadline is absolute so that a wait started late still ends on time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds that only go forward, for due times and durations (not wall time)."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Return once ``monotonic()`` reaches ``deadline``; always yields to the loop."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep_until(self, deadline: float) -> None:
        # asyncio's default loop keeps time with time.monotonic, so this is exact.
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))


class FakeClock:
    """A clock tests move by hand; moving it wakes the sleepers whose deadline passed.

    Monotonic time starts at 0. Only ``advance`` and ``advance_to`` move it (and the
    wall clock with it); ``set`` adjusts the wall clock alone, as an operator setting
    the system time would.
    """

    def __init__(self, start: dt.datetime | None = None) -> None:
        # The wall time at monotonic 0: ``now`` derives from it, so the two never drift.
        self._epoch = start or dt.datetime.now(dt.UTC).replace(microsecond=0)
        self._monotonic = 0.0
        # (deadline, arrival, waker): equal deadlines wake in the order they slept.
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()

    def now(self) -> dt.datetime:
        return self._epoch + dt.timedelta(seconds=self._monotonic)

    def monotonic(self) -> float:
        return self._monotonic

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._monotonic:
            await asyncio.sleep(0)
            return
        waker: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._arrivals), waker))
        await waker

    def next_deadline(self) -> float | None:
        """The earliest deadline someone is still sleeping until, if any."""
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)  # a sleep that was cancelled
        return self._sleepers[0][0] if self._sleepers else None

    def set(self, value: dt.datetime) -> None:
        self._epoch = value - dt.timedelta(seconds=self._monotonic)

    def advance(self, **delta: float) -> dt.datetime:
        """Move time forward by a ``timedelta(**delta)``."""
        return self.advance_to(self._monotonic + dt.timedelta(**delta).total_seconds())

    def advance_to(self, monotonic: float) -> dt.datetime:
        """Move time forward to exactly ``monotonic`` (a deadline, say)."""
        if monotonic < self._monotonic:
            raise ValueError("monotonic time does not go back; set() moves the wall clock")
        self._monotonic = monotonic
        while self._sleepers and self._sleepers[0][0] <= monotonic:
            _, _, waker = heapq.heappop(self._sleepers)
            if not waker.done():
                waker.set_result(None)
        return self.now()
