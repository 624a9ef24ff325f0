"""Each monitor's phase: spread over its whole interval, the same after a restart.

Issue 11: first runs spread over 10 s put 10,000 monitors at 60 s into the same ten
seconds of every minute. A monitor's phase is now a hash of its id, counted on the
wall clock. Time is a ``FakeClock``; checks take no time on it, so every check
starts exactly when it is due.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

import pytest
from helpers import run_for, run_until_done

from uplight.checks import CheckContext, CheckType
from uplight.clock import FakeClock
from uplight.config import MonitorConfig, parse_config
from uplight.models import CheckResult
from uplight.monitoring.scheduler import Scheduler, phase_fraction

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)  # on a whole minute
MINUTE = 60.0


class Stamp(CheckType):
    """Records the wall-clock second each check starts at."""

    name = "stamp"

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.starts: dict[str, list[float]] = defaultdict(list)

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        self.starts[context.monitor_id].append(self.clock.now().timestamp())
        return CheckResult.up()


def monitors(count: int, interval: float = MINUTE) -> list[MonitorConfig]:
    base = MonitorConfig.model_validate({"id": "m", "name": "M", "type": "stamp"})
    return [base.model_copy(update={"id": f"m{i}", "interval": interval}) for i in range(count)]


async def run(
    clock: FakeClock, targets: list[MonitorConfig], seconds: float, **options: Any
) -> dict[str, list[float]]:
    stamp = Stamp(clock)
    scheduler = Scheduler(targets, {"stamp": stamp}, clock=clock, **options)
    scheduler.start()
    await run_for(clock, seconds)
    await run_until_done(clock, scheduler.stop())
    return stamp.starts


def second_of(timestamp: float, interval: float = MINUTE) -> float:
    return timestamp % interval


async def test_a_thousand_monitors_spread_over_the_whole_minute() -> None:
    clock = FakeClock(T0)
    starts = await run(clock, monitors(1000), 2 * MINUTE)
    firsts = [runs[0] for runs in starts.values()]
    assert len(firsts) == 1000
    assert all(T0.timestamp() <= t < T0.timestamp() + MINUTE for t in firsts)
    # Every second of the minute is used, and none holds more than 3 % of the checks
    # (an even spread is 1.7 %; the old default put them all in the first ten).
    per_second = Counter(int(second_of(t)) for t in firsts)
    assert len(per_second) == 60
    assert max(per_second.values()) <= 30
    # Each loop keeps its phase: the next run is one interval later, to the microsecond.
    for runs in starts.values():
        assert len(runs) == 2
        assert runs[1] - runs[0] == pytest.approx(MINUTE, abs=1e-6)


async def test_the_phase_is_the_same_after_a_restart() -> None:
    targets = monitors(50)
    clock = FakeClock(T0)
    before = await run(clock, targets, MINUTE)
    clock.advance(seconds=1234.567)  # the process restarts at an odd moment
    restarted_at = clock.now().timestamp()
    after = await run(clock, targets, MINUTE)  # a new Scheduler
    for monitor in targets:
        (first,) = before[monitor.id]
        (again,) = after[monitor.id]
        assert second_of(again) == pytest.approx(second_of(first), abs=1e-6)
        assert restarted_at <= again < restarted_at + MINUTE  # within one interval
        expected = phase_fraction(monitor.id) * MINUTE
        assert second_of(first) == pytest.approx(expected, abs=1e-6)


async def test_the_phase_is_the_same_whatever_the_other_monitors() -> None:
    targets = monitors(20)
    alone = await run(FakeClock(T0), targets[3:4], MINUTE)
    crowded = await run(FakeClock(T0), list(reversed(targets)), MINUTE)
    assert alone["m3"] == crowded["m3"]


def test_the_phase_is_a_stable_hash_of_the_id() -> None:
    # Not Python's hash(), which is salted per process: these values never change.
    assert phase_fraction("homepage") == pytest.approx(0.8452, abs=1e-4)
    assert phase_fraction("homepage") == phase_fraction("homepage")
    assert phase_fraction("homepage") != phase_fraction("homepage2")
    assert all(0 <= phase_fraction(f"m{i}") < 1 for i in range(1000))


async def test_a_cap_at_least_the_interval_changes_nothing() -> None:
    targets = monitors(30)
    default = await run(FakeClock(T0), targets, MINUTE)
    capped = await run(FakeClock(T0), targets, MINUTE, max_jitter=3600.0)
    assert capped == default


async def test_max_jitter_zero_starts_every_monitor_at_once() -> None:
    starts = await run(FakeClock(T0), monitors(30), 1.0, max_jitter=0.0)
    assert {runs[0] for runs in starts.values()} == {T0.timestamp()}


def test_the_config_leaves_max_jitter_unset_unless_given() -> None:
    def jitter(text: str) -> float | None:
        return parse_config(text, {}).scheduler.max_jitter

    assert jitter("") is None
    assert jitter('[scheduler]\nmax_jitter = "10s"\n') == 10.0
    assert jitter('[scheduler]\nmax_jitter = "0s"\n') == 0.0
