"""The clocks: the system one, and the fake one tests move by hand."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest
from helpers import run_for, settle

from uplight.clock import Clock, FakeClock, SystemClock

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


async def test_the_system_clock_sleeps_until_a_monotonic_deadline() -> None:
    clock: Clock = SystemClock()
    assert clock.now().tzinfo is dt.UTC
    deadline = clock.monotonic() + 0.02
    await clock.sleep_until(deadline)
    # asyncio may wake a timer up to its clock resolution early, never later than due.
    assert time.monotonic() >= deadline - 1e-3
    before = clock.monotonic()
    await clock.sleep_until(before - 5)  # already passed: returns at once
    assert clock.monotonic() - before < 5


async def test_sleepers_wake_in_deadline_order_when_the_clock_passes_them() -> None:
    clock = FakeClock(T0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, deadline: float) -> None:
        await clock.sleep_until(deadline)
        woke.append((name, clock.monotonic()))

    tasks = [
        asyncio.ensure_future(sleeper(name, deadline))
        for name, deadline in [("c", 3.0), ("a", 1.0), ("b", 2.0), ("b2", 2.0)]
    ]
    await settle()
    assert woke == [] and clock.next_deadline() == 1.0
    clock.advance(seconds=0.5)
    await settle()
    assert woke == []
    clock.advance(seconds=2.0)  # one jump past two deadlines: both wake, in order
    await settle()
    assert woke == [("a", 2.5), ("b", 2.5), ("b2", 2.5)]
    await run_for(clock, 1.0)  # stepping stops at the deadline itself
    assert woke[-1] == ("c", 3.0)
    assert clock.monotonic() == 3.5
    assert clock.now() == T0 + dt.timedelta(seconds=3.5)
    await asyncio.gather(*tasks)


async def test_a_cancelled_sleep_is_forgotten() -> None:
    clock = FakeClock(T0)
    task = asyncio.ensure_future(clock.sleep_until(10.0))
    await settle()
    assert clock.next_deadline() == 10.0
    task.cancel()
    await settle()
    assert clock.next_deadline() is None
    clock.advance(seconds=20)  # nothing to wake, nothing raises
    assert task.cancelled()


async def test_a_passed_deadline_still_yields() -> None:
    clock = FakeClock(T0)
    ran: list[str] = []

    async def other() -> None:
        ran.append("other")

    task = asyncio.ensure_future(other())
    await clock.sleep_until(0.0)
    assert ran == ["other"]
    await task


def test_set_moves_the_wall_clock_only() -> None:
    clock = FakeClock(T0)
    clock.advance(minutes=1)
    clock.set(T0 - dt.timedelta(days=1))  # an operator set the time back
    assert clock.now() == T0 - dt.timedelta(days=1)
    assert clock.monotonic() == 60.0
    assert clock.advance(hours=1) == T0 - dt.timedelta(days=1) + dt.timedelta(hours=1)
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance(seconds=-1)
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance_to(1.0)
