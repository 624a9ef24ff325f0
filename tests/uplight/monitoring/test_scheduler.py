"""The scheduler: timing, the concurrency cap, and isolation from faulty plugins.

Time is a ``FakeClock`` the tests move (``run_for``, ``run_until_done``), and the
fake checks wait on it too: runs, lags and skipped ticks are asserted exactly,
and nothing waits for wall-clock time except the one test of the system clock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
import sys
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import pytest
from helpers import run_for, run_until_done, settle

from uplight.checks import CheckContext, CheckType
from uplight.clock import FakeClock
from uplight.config import MonitorConfig
from uplight.models import CheckResult, CheckStatus, ResultRecord
from uplight.monitoring.scheduler import CANCEL_GRACE, NO_ERRORS, Scheduler, phase_fraction

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


async def pause(clock: FakeClock, seconds: float) -> None:
    """A check or listener taking its time, on the test's clock."""
    await clock.sleep_until(clock.monotonic() + seconds)


def ticks(first: float, interval: float, until: float) -> list[float]:
    """The due times of a loop that is never late: ``first``, then every ``interval``."""
    due, out = first, []
    while due <= until:
        out.append(due)
        due += interval  # summed as the scheduler sums them, so floats compare equal
    return out


# -- fake check types ---------------------------------------------------------------------


class ClockedCheck(CheckType):
    """A check type that takes its time on the test's clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock


class OkCheck(ClockedCheck):
    name = "ok"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        return CheckResult.up("fine", 0.001, monitor=context.monitor_id)


class RaisingCheck(ClockedCheck):
    name = "raising"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        raise RuntimeError("kaput")


class SyncRaisingCheck(ClockedCheck):
    """Forgot ``async``: the call itself raises, before there is anything to await."""

    name = "sync-raising"

    def check(self, options: Any, context: CheckContext) -> CheckResult:  # type: ignore[override]
        raise ValueError("not even a coroutine")


class HangingCheck(ClockedCheck):
    """Hangs on something no clock moves: only the scheduler's timeout ends it."""

    name = "hanging"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        await asyncio.Event().wait()
        return CheckResult.up("never")


class StubbornCheck(ClockedCheck):
    """Catches the cancellation and keeps going for a while (bounded, so tests end)."""

    name = "stubborn"
    linger = 0.3

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.finished_at: list[float] = []

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await pause(self.clock, self.linger)
        self.finished_at.append(self.clock.monotonic())
        return CheckResult.up("too late")


class StrCheck(ClockedCheck):
    name = "str"

    async def check(self, options: Any, context: CheckContext) -> Any:
        return "all good"


class WeirdStatusCheck(ClockedCheck):
    name = "weird-status"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        return CheckResult("weird", 0.1, "hmm")  # type: ignore[arg-type]


class NonJsonDetailsCheck(ClockedCheck):
    name = "non-json"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        return CheckResult.up("ok", 0.1, thing=object())


class NegativeLatencyCheck(ClockedCheck):
    name = "negative-latency"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        return CheckResult.up("ok", -1.0)


class SlowCheck(ClockedCheck):
    """Slow but within its timeout: a normal result."""

    name = "slow"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        await pause(self.clock, 0.3)
        return CheckResult.degraded("slow but fine", 0.3)


CHECK_TYPES: list[type[ClockedCheck]] = [
    OkCheck,
    RaisingCheck,
    SyncRaisingCheck,
    HangingCheck,
    StubbornCheck,
    StrCheck,
    WeirdStatusCheck,
    NonJsonDetailsCheck,
    NegativeLatencyCheck,
    SlowCheck,
]


def check_types(clock: FakeClock) -> dict[str, CheckType]:
    return {cls.name: cls(clock) for cls in CHECK_TYPES}


def monitor(
    monitor_id: str, type_name: str, interval: float = 1.0, timeout: float = 0.5, **extra: Any
) -> MonitorConfig:
    """A validated monitor, then sub-second timings the config would refuse."""
    base = MonitorConfig.model_validate(
        {
            "id": monitor_id,
            "name": monitor_id.title(),
            "type": type_name,
            "interval": "1s",
            "timeout": "500ms",
        }
    )
    return base.model_copy(update={"interval": interval, "timeout": timeout, **extra})


def other_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()}


@pytest.fixture(autouse=True)
async def no_leftover_tasks() -> AsyncIterator[None]:
    yield
    await settle()  # a timer cancelled on the last step ends on the next pass
    assert other_tasks() == set(), "a test left tasks running"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


class Recorder:
    """A listener that keeps every record, with the clock's time it arrived."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.records: dict[str, list[ResultRecord]] = defaultdict(list)
        self.times: dict[str, list[float]] = defaultdict(list)

    def __call__(self, monitor: MonitorConfig, record: ResultRecord) -> None:
        assert record.monitor_id == monitor.id
        self.records[monitor.id].append(record)
        self.times[monitor.id].append(self.clock.monotonic())


# -- run_check: one check, each kind of fault ----------------------------------------------

FAULTS = [
    ("raising", "exception", "check plugin 'raising' failed: RuntimeError: kaput"),
    ("sync-raising", "exception", "check plugin 'sync-raising' failed: ValueError: not even a"),
    # Issue 10, point 4: a timeout names the check type.
    ("hanging", "timeout", "hanging check did not finish within 0.2s"),
    ("stubborn", "timeout", "stubborn check did not finish within 0.2s"),
    ("str", "invalid_result", "check plugin 'str' returned str, not a CheckResult"),
    ("weird-status", "invalid_result", "check plugin 'weird-status' returned an unknown status"),
    ("non-json", "invalid_result", "check plugin 'non-json' returned details that are not JSON"),
    ("negative-latency", "invalid_result", "returned an invalid latency -1.0"),
]
# A 0.2 s timeout is enforced with a 0.05 s grace for the check's own message.
LIMIT = 0.25


@pytest.mark.parametrize(("type_name", "reason", "message"), FAULTS)
async def test_run_check_turns_a_fault_into_a_down_result(
    clock: FakeClock, type_name: str, reason: str, message: str
) -> None:
    types = check_types(clock)
    target = monitor("faulty", type_name, interval=1.0, timeout=0.2)
    scheduler = Scheduler([target], types, clock=clock)
    record = await run_until_done(clock, scheduler.run_check(target))
    took = clock.monotonic()

    assert record.monitor_id == "faulty"
    assert record.checked_at == T0
    assert record.result.status is CheckStatus.DOWN
    assert record.error_reason == reason
    assert message in record.result.message
    assert record.result.details == {}
    assert record.in_maintenance is False
    if reason == "timeout":
        assert record.result.latency == LIMIT  # cut off at the limit, not a moment later
    else:
        assert took == 0.0  # a fault is reported at once, not at the timeout
    stubborn = types["stubborn"]
    assert isinstance(stubborn, StubbornCheck)
    if type_name == "stubborn":
        # Cancelled at the limit, it ignores that: run_check gives it the grace, then
        # returns while it lingers on.
        assert took == pytest.approx(LIMIT + CANCEL_GRACE, abs=1e-9)
        assert stubborn.finished_at == []
        assert scheduler.stats.abandoned_tasks == 1
        await run_until_done(clock, scheduler.stop())  # waits for it to end
        assert stubborn.finished_at == [pytest.approx(LIMIT + stubborn.linger, abs=1e-9)]
        assert clock.monotonic() == stubborn.finished_at[0]
    else:
        if reason == "timeout":
            assert took == LIMIT  # the hanging check ended as soon as it was cancelled
        await run_until_done(clock, scheduler.stop())
        assert clock.monotonic() == took  # nothing left to wait for
    assert scheduler.stats.abandoned_tasks == (1 if type_name == "stubborn" else 0)


async def test_run_check_passes_good_results_through(clock: FakeClock) -> None:
    target = monitor("slow", "slow", interval=2.0, timeout=1.0)
    ok = monitor("ok", "ok")
    scheduler = Scheduler(
        [target, ok],
        check_types(clock),
        in_maintenance=lambda monitor_id: monitor_id == "slow",
        clock=clock,
    )
    record = await run_until_done(clock, scheduler.run_check(target))
    assert clock.monotonic() == 0.3  # as long as the check took, within its 1 s timeout
    assert record.result == CheckResult(CheckStatus.DEGRADED, 0.3, "slow but fine", {})
    assert record.error_reason is None
    assert record.in_maintenance is True
    assert record.checked_at == T0  # when it started

    record = await run_until_done(clock, scheduler.run_check(ok))
    assert record.result == CheckResult(CheckStatus.UP, 0.001, "fine", {"monitor": "ok"})
    assert record.in_maintenance is False
    assert record.checked_at == T0 + dt.timedelta(seconds=0.3)


async def test_on_the_system_clock_a_hanging_check_is_cut_off() -> None:
    """No clock given: the real one, and a check that really hangs still ends."""
    target = monitor("hanging", "hanging", timeout=0.05)
    scheduler = Scheduler([target], check_types(FakeClock()))
    record = await asyncio.wait_for(scheduler.run_check(target), timeout=10)
    assert record.error_reason == "timeout"
    assert record.result.message == "hanging check did not finish within 0.05s"
    # Measured on the real clock: at least the limit (0.05 s and its 0.05 s grace).
    latency = record.result.latency
    assert latency is not None and latency >= 0.1 - 1e-3
    await scheduler.stop()
    assert scheduler.stats.abandoned_tasks == 0


async def test_a_long_message_is_cut() -> None:
    class Chatty(CheckType):
        name = "chatty"

        async def check(self, options: Any, context: CheckContext) -> CheckResult:
            raise RuntimeError("x" * 10_000)

    scheduler = Scheduler([], {"chatty": Chatty()})
    record = await scheduler.run_check(monitor("chatty", "chatty"))
    assert record.error_reason == "exception"
    assert len(record.result.message) == 2000


async def test_a_raising_maintenance_lookup_costs_nothing(clock: FakeClock) -> None:
    def broken(monitor_id: str) -> bool:
        raise KeyError(monitor_id)

    target = monitor("ok", "ok", interval=0.2, timeout=0.1)
    recorder = Recorder(clock)
    scheduler = Scheduler(
        [target],
        check_types(clock),
        max_jitter=0,
        in_maintenance=broken,
        listeners=[recorder],
        clock=clock,
    )
    scheduler.start()
    await run_for(clock, 0.5)
    assert scheduler.running
    await run_until_done(clock, scheduler.stop())
    records = recorder.records["ok"]
    assert [r.checked_at for r in records] == [
        T0 + dt.timedelta(seconds=t) for t in ticks(0.0, 0.2, 0.5)
    ]
    assert len(records) == 3
    assert all(r.result.status is CheckStatus.UP for r in records)
    assert all(r.in_maintenance is False for r in records)


# -- the running scheduler ------------------------------------------------------------------


async def test_faulty_plugins_cost_only_their_own_checks(clock: FakeClock) -> None:
    faulty = [type_name for type_name, _, _ in FAULTS]
    monitors = [monitor("ok", "ok", interval=0.2, timeout=0.1)]
    monitors += [monitor(name, name, interval=0.3, timeout=0.2) for name in faulty]
    recorder = Recorder(clock)
    types = check_types(clock)
    scheduler = Scheduler(
        monitors,
        types,
        max_jitter=0.05,
        listeners=[recorder],
        clock=clock,
    )
    phase = {m.id: phase_fraction(m.id) * 0.05 for m in monitors}  # the cap, from each id
    scheduler.start()
    await run_for(clock, 1.5)
    assert scheduler.running
    stopping = clock.monotonic()
    await run_until_done(clock, scheduler.stop())
    assert not scheduler.running

    # The ok monitor ran at every one of its ticks, never late, never held up.
    oks = recorder.records["ok"]
    assert recorder.times["ok"] == ticks(phase["ok"], 0.2, 1.5)
    assert len(oks) == 8
    assert [r.checked_at for r in oks] == [
        T0 + dt.timedelta(seconds=t) for t in ticks(phase["ok"], 0.2, 1.5)
    ]
    assert all(r.result.status is CheckStatus.UP and r.error_reason is None for r in oks)
    assert scheduler.states["ok"].checks == {"up": 8}
    # No error, no counter of its own: the shared empty one (memory at 10,000 monitors).
    assert scheduler.states["ok"].errors is NO_ERRORS and NO_ERRORS == {}
    assert scheduler.stats.max_lag == 0.0  # no check anywhere waited for another

    reasons = {type_name: reason for type_name, reason, _ in FAULTS}
    for name in faulty:
        records = recorder.records[name]
        assert records, f"{name} produced no result"
        assert all(r.result.status is CheckStatus.DOWN for r in records), name
        assert {r.error_reason for r in records} == {reasons[name]}, name
        state = scheduler.states[name]
        assert state.checks == {"down": len(records)}
        assert state.errors == {reasons[name]: len(records)}
        if reasons[name] != "timeout":  # reported at once, at every tick
            assert recorder.times[name] == ticks(phase[name], 0.3, 1.5), name
            assert state.skipped_ticks == 0
    # A hanging check is cut off at its limit, within its interval: no tick is lost.
    hanging = [t + LIMIT for t in ticks(phase["hanging"], 0.3, 1.5 - LIMIT)]
    assert recorder.times["hanging"] == pytest.approx(hanging, abs=1e-9)
    assert len(hanging) == 5
    assert scheduler.states["hanging"].skipped_ticks == 0
    # A stubborn one also takes the cancel grace (0.35 s): it misses one tick in two.
    stubborn = [t + LIMIT + CANCEL_GRACE for t in ticks(phase["stubborn"], 0.6, 1.5)]
    assert recorder.times["stubborn"] == pytest.approx(stubborn[:2], abs=1e-9)
    assert scheduler.states["stubborn"].skipped_ticks == 2
    # Its third run was in its grace when stopped: three left behind, and stop
    # waited exactly until the last of them gave up.
    assert scheduler.stats.abandoned_tasks == 3
    check = types["stubborn"]
    assert isinstance(check, StubbornCheck)
    assert len(check.finished_at) == 3
    assert clock.monotonic() == check.finished_at[-1]
    assert clock.monotonic() - stopping < 1.0  # within the default stop grace


async def test_missed_ticks_are_skipped_not_piled_up(clock: FakeClock) -> None:
    class Sluggish(ClockedCheck):
        name = "sluggish"

        def __init__(self, clock: FakeClock) -> None:
            super().__init__(clock)
            self.starts: list[float] = []

        async def check(self, options: Any, context: CheckContext) -> CheckResult:
            self.starts.append(self.clock.monotonic())
            await pause(self.clock, 2.5)  # 2.5 intervals
            return CheckResult.up("late", 2.5)

    sluggish = Sluggish(clock)
    target = monitor("sluggish", "sluggish", interval=1.0, timeout=5.0)
    recorder = Recorder(clock)
    scheduler = Scheduler(
        [target], {"sluggish": sluggish}, max_jitter=0, listeners=[recorder], clock=clock
    )
    scheduler.start()
    await run_for(clock, 14.0)
    state = scheduler.states["sluggish"]
    # Each run takes 2.5 s; the next starts at the next tick still ahead (3 s on),
    # on the tick, not late. Piling up would have started 15 runs.
    assert sluggish.starts == [0.0, 3.0, 6.0, 9.0, 12.0]
    assert recorder.times["sluggish"] == [2.5, 5.5, 8.5, 11.5]
    assert state.skipped_ticks == 8  # ticks 1, 2, 4, 5, 7, 8, 10, 11
    assert state.last_lag == 0.0
    assert state.running
    await run_until_done(clock, scheduler.stop())
    assert clock.monotonic() == 14.0  # stopping cancels the run in flight at once
    assert state.skipped_ticks == 8


async def test_concurrency_cap_holds(clock: FakeClock) -> None:
    class Counting(ClockedCheck):
        name = "counting"

        def __init__(self, clock: FakeClock) -> None:
            super().__init__(clock)
            self.active = 0
            self.peak = 0
            self.runs = 0

        async def check(self, options: Any, context: CheckContext) -> CheckResult:
            self.active += 1
            self.peak = max(self.peak, self.active)
            try:
                await pause(self.clock, 1.0)
            finally:
                self.active -= 1
            self.runs += 1
            return CheckResult.up("counted", 1.0)

    counting = Counting(clock)
    lags: dict[str, list[float]] = defaultdict(list)
    monitors = [monitor(f"m{i}", "counting", interval=2.0, timeout=1.5) for i in range(6)]
    scheduler = Scheduler(
        monitors, {"counting": counting}, max_concurrency=2, max_jitter=0, clock=clock
    )
    scheduler.add_listener(lambda m, r: lags[m.id].append(scheduler.states[m.id].last_lag))
    scheduler.start()
    await run_for(clock, 10.0)
    await run_until_done(clock, scheduler.stop())
    assert counting.peak == 2
    # Two at a time, 1 s each: two runs end every second, never the uncapped three.
    assert counting.runs == 20
    assert counting.active == 0
    # All six were due at 0: the second pair waited 1 s for a slot, the third 2 s.
    assert {m: values[0] for m, values in lags.items()} == {
        "m0": 0.0,
        "m1": 0.0,
        "m2": 1.0,
        "m3": 1.0,
        "m4": 2.0,
        "m5": 2.0,
    }
    # Later runs wait for a slot only when another pair holds it: the lag is the rest
    # of that pair's run, measured from the tick.
    assert sorted({value for values in lags.values() for value in values[1:]}) == [0.0, 1.0]
    assert scheduler.stats.max_lag > 0  # the queue at the semaphore is visible


async def test_an_explicit_max_jitter_caps_the_first_wait(clock: FakeClock) -> None:
    starts: dict[str, float] = {}

    class Stamp(CheckType):
        name = "stamp"

        async def check(self, options: Any, context: CheckContext) -> CheckResult:
            starts.setdefault(context.monitor_id, clock.monotonic())
            return CheckResult.up()

    monitors = [monitor(f"m{i}", "stamp", interval=10.0, timeout=1.0) for i in range(6)]
    monitors.append(monitor("short", "stamp", interval=0.2, timeout=0.1))
    scheduler = Scheduler(monitors, {"stamp": Stamp()}, max_jitter=0.6, clock=clock)
    scheduler.start()
    await run_for(clock, 0.8)
    await run_until_done(clock, scheduler.stop())

    # First runs spread over the cap from the start, each at its id's fraction of it.
    offsets = [starts[m.id] for m in monitors[:6]]
    assert offsets == [phase_fraction(m.id) * 0.6 for m in monitors[:6]]
    assert max(offsets) - min(offsets) > 0.2
    # A cap longer than the interval changes nothing: the phase on the wall clock.
    second = T0.timestamp() + starts["short"]
    assert second % 0.2 == pytest.approx(phase_fraction("short") * 0.2, abs=1e-6)


async def test_waiting_monitors_hold_no_task_each(clock: FakeClock) -> None:
    starts: dict[str, list[float]] = defaultdict(list)

    class Stamp(CheckType):
        name = "stamp"

        async def check(self, options: Any, context: CheckContext) -> CheckResult:
            starts[context.monitor_id].append(clock.monotonic())
            return CheckResult.up()

    # 300 hourly monitors (about one every 12 s) and one every second.
    monitors = [monitor(f"m{i}", "stamp", interval=3600.0, timeout=1.0) for i in range(300)]
    monitors.append(monitor("fast", "stamp", interval=1.0, timeout=0.5))
    scheduler = Scheduler(monitors, {"stamp": Stamp()}, clock=clock)
    scheduler.start()
    await run_for(clock, 30.5)
    # Between runs nothing but the dispatcher, its timer and the loop watchdog: no
    # task per monitor.
    names = {t.get_name() for t in other_tasks()}
    assert {"scheduler", "uplight-loop-watchdog"} < names
    assert len(names) == 3
    # Each run of the fast one is scheduled while the dispatcher sleeps toward an
    # hourly one's time, further away: it wakes the dispatcher and runs on time.
    fast = starts.pop("fast")
    assert len(fast) == 31
    assert [b - a for a, b in itertools.pairwise(fast)] == pytest.approx([1.0] * 30)
    assert all(len(times) == 1 for times in starts.values())
    first = {m.id: scheduler.first_delay(m, T0.timestamp()) for m in monitors[:300]}
    assert set(starts) == {m for m, delay in first.items() if delay <= 30.5}
    await run_until_done(clock, scheduler.stop())
    assert not scheduler.running


async def test_listeners_are_isolated_and_async_ones_awaited(clock: FakeClock) -> None:
    calls: list[str] = []

    def broken(monitor: MonitorConfig, record: ResultRecord) -> None:
        calls.append("broken")
        raise RuntimeError("listener bug")

    async def slow(monitor: MonitorConfig, record: ResultRecord) -> None:
        await pause(clock, 0.01)
        calls.append("async")

    async def broken_async(monitor: MonitorConfig, record: ResultRecord) -> None:
        await asyncio.sleep(0)
        raise ValueError("async listener bug")

    def plain(monitor: MonitorConfig, record: ResultRecord) -> None:
        calls.append("sync")

    target = monitor("ok", "ok", interval=0.2, timeout=0.1)
    scheduler = Scheduler(
        [target], check_types(clock), listeners=[broken, slow], max_jitter=0, clock=clock
    )
    scheduler.add_listener(broken_async)
    scheduler.add_listener(plain)

    record = await run_until_done(clock, scheduler.run_once("ok"))
    assert record.result.status is CheckStatus.UP
    assert calls == ["broken", "async", "sync"]  # the async one finished before run_once did
    assert clock.monotonic() == 0.01  # and run_once waited for it
    assert scheduler.states["ok"].last == record

    calls.clear()
    scheduler.start()
    await run_for(clock, 0.7)
    assert scheduler.running
    await run_until_done(clock, scheduler.stop())
    runs = scheduler.states["ok"].checks["up"] - 1
    assert runs == 4  # at 0, 0.2, 0.4 and 0.6 s after the start
    assert calls.count("broken") == runs
    assert calls.count("sync") == runs
    assert calls.count("async") == runs


async def test_stop_cancels_checks_in_flight(clock: FakeClock) -> None:
    entered = asyncio.Event()
    cancelled: list[str] = []

    class Sleeper(CheckType):
        name = "sleeper"

        async def check(self, options: Any, context: CheckContext) -> CheckResult:
            entered.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(context.monitor_id)
                raise
            return CheckResult.up()

    target = monitor("sleeper", "sleeper", interval=120.0, timeout=60.0)
    recorder = Recorder(clock)
    scheduler = Scheduler(
        [target], {"sleeper": Sleeper()}, max_jitter=0, listeners=[recorder], clock=clock
    )
    scheduler.start()
    await settle()
    assert entered.is_set()
    assert scheduler.states["sleeper"].running
    stopping = asyncio.ensure_future(scheduler.stop())
    await settle()
    assert stopping.done()  # without the clock moving at all
    await stopping
    assert clock.monotonic() == 0.0
    assert cancelled == ["sleeper"]
    assert recorder.records == {}  # a cancelled run records nothing
    assert scheduler.stats.abandoned_tasks == 0
    assert not scheduler.running
    await scheduler.stop()  # stopping twice is harmless


async def test_stop_gives_up_on_a_check_that_never_ends(clock: FakeClock) -> None:
    release = asyncio.Event()
    cancellations = 0

    class Immortal(CheckType):
        name = "immortal"

        async def check(self, options: Any, context: CheckContext) -> CheckResult:
            nonlocal cancellations
            while not release.is_set():
                try:
                    await release.wait()
                except asyncio.CancelledError:
                    cancellations += 1  # ignores every cancellation until released
            return CheckResult.up()

    target = monitor("immortal", "immortal", interval=60.0, timeout=30.0)
    scheduler = Scheduler([target], {"immortal": Immortal()}, max_jitter=0, clock=clock)
    scheduler.start()
    try:
        await run_for(clock, 0.1)
        assert scheduler.states["immortal"].running
        stopping = asyncio.ensure_future(scheduler.stop(grace=0.5))
        await run_for(clock, 0.49)
        assert not stopping.done()  # the grace is not over
        await run_for(clock, 0.01)
        assert stopping.done()  # bounded, though the check lives on
        await stopping
        assert cancellations == 1
        assert scheduler.stats.abandoned_tasks == 1
        assert other_tasks()
    finally:
        # Let it end so the test leaves nothing behind, even when it fails: the
        # event loop's own teardown would wait for it forever.
        release.set()
    await settle()
    assert other_tasks() == set()


async def test_an_unreadable_result_or_unknown_type_is_a_down_result() -> None:
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("cannot print me")

    class BadMessage(CheckType):
        name = "bad-message"

        async def check(self, options: Any, context: CheckContext) -> CheckResult:
            return CheckResult.up(Unprintable(), 0.1)  # type: ignore[arg-type]

    scheduler = Scheduler([], {"bad-message": BadMessage()})
    record = await scheduler.run_check(monitor("bad", "bad-message"))
    assert record.result.status is CheckStatus.DOWN
    assert record.error_reason == "invalid_result"
    assert record.result.message == (
        "check plugin 'bad-message' returned a result that cannot be read: RuntimeError"
    )

    record = await scheduler.run_check(monitor("gone", "uninstalled"))
    assert record.result.status is CheckStatus.DOWN
    assert record.error_reason == "exception"
    assert record.result.message == "unknown check type 'uninstalled'"


async def test_an_exception_that_cannot_be_printed_is_still_reported() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    class Raiser(CheckType):
        name = "raiser"

        async def check(self, options: Any, context: CheckContext) -> CheckResult:
            raise Unprintable

    scheduler = Scheduler([], {"raiser": Raiser()})
    record = await scheduler.run_check(monitor("x", "raiser"))
    assert record.error_reason == "exception"
    assert record.result.message == "check plugin 'raiser' failed: Unprintable"


# -- issue 10, point 1: a check that tries to end the process -----------------------------


class ExitingCheck(CheckType):
    """A library calling ``sys.exit()`` is enough."""

    name = "exiting"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        sys.exit(3)


class InterruptingCheck(CheckType):
    name = "interrupting"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        await asyncio.sleep(0)
        raise KeyboardInterrupt


class GeneratorExitCheck(CheckType):
    name = "generator-exit"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        await asyncio.sleep(0)
        raise GeneratorExit


class SyncExitCheck(CheckType):
    """Not even a coroutine: the call itself exits."""

    name = "sync-exit"

    def check(self, options: Any, context: CheckContext) -> CheckResult:  # type: ignore[override]
        raise SystemExit("bye")


class UnreadableExit(CheckType):
    """Returns a result whose message exits when the scheduler reads it."""

    name = "unreadable-exit"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        class Message:
            def __str__(self) -> str:
                raise SystemExit(4)

        return CheckResult.up(Message(), 0.1)  # type: ignore[arg-type]


EXITS = [
    ("exiting", "exception", "check plugin 'exiting' failed: SystemExit: 3"),
    ("interrupting", "exception", "check plugin 'interrupting' failed: KeyboardInterrupt"),
    ("generator-exit", "exception", "check plugin 'generator-exit' failed: GeneratorExit"),
    ("sync-exit", "exception", "check plugin 'sync-exit' failed: SystemExit: bye"),
    (
        "unreadable-exit",
        "invalid_result",
        "check plugin 'unreadable-exit' returned a result that cannot be read: SystemExit",
    ),
]


@pytest.mark.parametrize(("type_name", "reason", "message"), EXITS)
async def test_a_check_that_exits_is_a_down_result_and_the_scheduler_goes_on(
    clock: FakeClock, type_name: str, reason: str, message: str
) -> None:
    types: dict[str, CheckType] = {
        "ok": OkCheck(clock),
        "exiting": ExitingCheck(),
        "interrupting": InterruptingCheck(),
        "generator-exit": GeneratorExitCheck(),
        "sync-exit": SyncExitCheck(),
        "unreadable-exit": UnreadableExit(),
    }
    monitors = [monitor("ok", "ok", interval=0.2, timeout=0.1), monitor("bad", type_name)]
    recorder = Recorder(clock)
    scheduler = Scheduler(monitors, types, max_jitter=0, listeners=[recorder], clock=clock)
    scheduler.start()
    await run_for(clock, 2.5)
    assert scheduler.running
    await run_until_done(clock, scheduler.stop())

    assert recorder.times["ok"] == ticks(0.0, 0.2, 2.5)  # every tick, never held up
    bad = recorder.records["bad"]
    assert recorder.times["bad"] == ticks(0.0, 1.0, 2.5)  # reported at once, every tick
    assert all(r.result.status is CheckStatus.DOWN for r in bad)
    assert {r.error_reason for r in bad} == {reason}
    assert {r.result.message for r in bad} == {message}


# -- issue 10, point 3: checks that swallow their cancellation are capped ----------------------


async def test_abandoned_checks_are_capped_per_monitor(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    class Immortalish(StubbornCheck):
        """Ignores its cancellation for 2 s, far past its 0.3 s interval."""

        name = "immortalish"
        linger = 2.0

        def __init__(self, clock: FakeClock) -> None:
            super().__init__(clock)
            self.starts: list[float] = []

        async def check(self, options: Any, context: CheckContext) -> CheckResult:
            self.starts.append(self.clock.monotonic())
            return await super().check(options, context)

    caplog.set_level(logging.INFO, logger="uplight.monitoring.scheduler")
    check = Immortalish(clock)
    types: dict[str, CheckType] = {"immortalish": check, "ok": OkCheck(clock)}
    target = monitor("stuck", "immortalish", interval=0.3, timeout=0.2)
    ok = monitor("ok", "ok", interval=0.3, timeout=0.2)
    recorder = Recorder(clock)
    scheduler = Scheduler([target, ok], types, max_jitter=0, listeners=[recorder], clock=clock)
    state = scheduler.states["stuck"]
    peak = 0

    scheduler.start()
    for _ in range(80):  # 4 s, in steps of 50 ms
        await run_for(clock, 0.05)
        peak = max(peak, len(state.abandoned))
    await run_until_done(clock, scheduler.stop())
    await run_for(clock, 2.0)  # the ones stop gave up on end too

    # Each run is cut off at 0.25 s and left behind 0.1 s later, its next tick missed:
    # runs at 0, 0.6 and 1.2 s leave three behind; then the runs wait, skipped, until
    # the first ends (cancelled at 0.25 s, it lingers 2 s), and resume at the next tick.
    assert check.starts[:4] == pytest.approx([0.0, 0.6, 1.2, 2.4])
    assert peak == 3
    assert len(recorder.records["stuck"]) == len(check.starts)
    assert {r.error_reason for r in recorder.records["stuck"]} == {"timeout"}
    # The skipped ticks are counted: 0.3, 0.9 and 1.5 (overrun), 1.8 and 2.1 (held back).
    assert state.skipped_ticks >= 5
    assert recorder.times["ok"] == ticks(0.0, 0.3, 4.0)  # the others never notice
    held = [r.getMessage() for r in caplog.records if "still running" in r.getMessage()]
    assert held[0] == (
        "monitor stuck: 3 of its 'immortalish' checks ignored their cancellation and are"
        " still running; its checks are skipped until one of them ends"
    )
    assert any("stuck: an abandoned check ended; its checks resume" in m for m in caplog.messages)


async def test_a_check_raising_cancelled_error_itself_is_a_down_result(clock: FakeClock) -> None:
    """Only the scheduler's own cancellation stays a cancellation."""

    class SelfCancelling(CheckType):
        name = "self-cancelling"

        async def check(self, options: Any, context: CheckContext) -> CheckResult:
            raise asyncio.CancelledError

    scheduler = Scheduler([], {"self-cancelling": SelfCancelling()}, clock=clock)
    record = await run_until_done(clock, scheduler.run_check(monitor("x", "self-cancelling")))
    assert record.error_reason == "exception"
    assert record.result.message == (
        "check plugin 'self-cancelling' failed: it was cancelled, not by the scheduler"
    )
