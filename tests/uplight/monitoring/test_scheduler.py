"""The scheduler: timing, the concurrency cap, and isolation from faulty plugins."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import pytest

from uplight.checks import CheckContext, CheckType
from uplight.config import MonitorConfig
from uplight.models import CheckResult, CheckStatus, ResultRecord
from uplight.monitoring.scheduler import Scheduler

# -- fake check types ---------------------------------------------------------------------


class OkCheck(CheckType):
    name = "ok"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        return CheckResult.up("fine", 0.001, monitor=context.monitor_id)


class RaisingCheck(CheckType):
    name = "raising"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        raise RuntimeError("kaput")


class SyncRaisingCheck(CheckType):
    """Forgot ``async``: the call itself raises, before there is anything to await."""

    name = "sync-raising"

    def check(self, options: Any, context: CheckContext) -> CheckResult:  # type: ignore[override]
        raise ValueError("not even a coroutine")


class HangingCheck(CheckType):
    name = "hanging"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        await asyncio.sleep(3600)
        return CheckResult.up("never")


class StubbornCheck(CheckType):
    """Catches the cancellation and keeps going for a while (bounded, so tests end)."""

    name = "stubborn"
    linger = 0.3

    def __init__(self) -> None:
        self.finished = 0

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(self.linger)
        self.finished += 1
        return CheckResult.up("too late")


class StrCheck(CheckType):
    name = "str"

    async def check(self, options: Any, context: CheckContext) -> Any:
        return "all good"


class WeirdStatusCheck(CheckType):
    name = "weird-status"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        return CheckResult("weird", 0.1, "hmm")  # type: ignore[arg-type]


class NonJsonDetailsCheck(CheckType):
    name = "non-json"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        return CheckResult.up("ok", 0.1, thing=object())


class NegativeLatencyCheck(CheckType):
    name = "negative-latency"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        return CheckResult.up("ok", -1.0)


class SlowCheck(CheckType):
    """Slow but within its timeout: a normal result."""

    name = "slow"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        await asyncio.sleep(0.3)
        return CheckResult.degraded("slow but fine", 0.3)


CHECK_TYPES: list[type[CheckType]] = [
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


def check_types() -> dict[str, CheckType]:
    return {cls.name: cls() for cls in CHECK_TYPES}


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
    assert other_tasks() == set(), "a test left tasks running"


class Recorder:
    """A listener that keeps every record, with the monotonic time it arrived."""

    def __init__(self) -> None:
        self.records: dict[str, list[ResultRecord]] = defaultdict(list)
        self.times: dict[str, list[float]] = defaultdict(list)

    def __call__(self, monitor: MonitorConfig, record: ResultRecord) -> None:
        assert record.monitor_id == monitor.id
        self.records[monitor.id].append(record)
        self.times[monitor.id].append(time.monotonic())


# -- run_check: one check, each kind of fault ----------------------------------------------

FAULTS = [
    ("raising", "exception", "check plugin 'raising' failed: RuntimeError: kaput"),
    ("sync-raising", "exception", "check plugin 'sync-raising' failed: ValueError: not even a"),
    ("hanging", "timeout", "check did not finish within 0.2s"),
    ("stubborn", "timeout", "check did not finish within 0.2s"),
    ("str", "invalid_result", "check plugin 'str' returned str, not a CheckResult"),
    ("weird-status", "invalid_result", "check plugin 'weird-status' returned an unknown status"),
    ("non-json", "invalid_result", "check plugin 'non-json' returned details that are not JSON"),
    ("negative-latency", "invalid_result", "returned an invalid latency -1.0"),
]


@pytest.mark.parametrize(("type_name", "reason", "message"), FAULTS)
async def test_run_check_turns_a_fault_into_a_down_result(
    type_name: str, reason: str, message: str
) -> None:
    types = check_types()
    target = monitor("faulty", type_name, interval=1.0, timeout=0.2)
    scheduler = Scheduler([target], types)
    started = time.monotonic()
    record = await scheduler.run_check(target)
    elapsed = time.monotonic() - started

    assert record.monitor_id == "faulty"
    assert record.result.status is CheckStatus.DOWN
    assert record.error_reason == reason
    assert message in record.result.message
    assert record.result.details == {}
    assert record.in_maintenance is False
    if reason == "timeout":
        assert 0.2 <= elapsed < 0.8
        assert record.result.latency == pytest.approx(elapsed, abs=0.15)
    else:
        assert elapsed < 0.2
    await scheduler.stop()  # waits for a check that ignored its cancellation
    if type_name == "stubborn":
        stubborn = types["stubborn"]
        assert isinstance(stubborn, StubbornCheck)
        assert stubborn.finished == 1
        assert scheduler.stats.abandoned_tasks == 1
    else:
        assert scheduler.stats.abandoned_tasks == 0


async def test_run_check_passes_good_results_through() -> None:
    target = monitor("slow", "slow", interval=2.0, timeout=1.0)
    ok = monitor("ok", "ok")
    scheduler = Scheduler(
        [target, ok], check_types(), in_maintenance=lambda monitor_id: monitor_id == "slow"
    )
    started = time.monotonic()
    record = await scheduler.run_check(target)
    assert 0.3 <= time.monotonic() - started < 0.9
    assert record.result == CheckResult(CheckStatus.DEGRADED, 0.3, "slow but fine", {})
    assert record.error_reason is None
    assert record.in_maintenance is True

    record = await scheduler.run_check(ok)
    assert record.result == CheckResult(CheckStatus.UP, 0.001, "fine", {"monitor": "ok"})
    assert record.in_maintenance is False


async def test_a_long_message_is_cut() -> None:
    class Chatty(CheckType):
        name = "chatty"

        async def check(self, options: Any, context: CheckContext) -> CheckResult:
            raise RuntimeError("x" * 10_000)

    scheduler = Scheduler([], {"chatty": Chatty()})
    record = await scheduler.run_check(monitor("chatty", "chatty"))
    assert record.error_reason == "exception"
    assert len(record.result.message) == 2000


async def test_a_raising_maintenance_lookup_costs_nothing() -> None:
    def broken(monitor_id: str) -> bool:
        raise KeyError(monitor_id)

    target = monitor("ok", "ok", interval=0.2, timeout=0.1)
    recorder = Recorder()
    scheduler = Scheduler(
        [target], check_types(), max_jitter=0, in_maintenance=broken, listeners=[recorder]
    )
    scheduler.start()
    await asyncio.sleep(0.5)
    assert scheduler.running
    await scheduler.stop()
    assert len(recorder.records["ok"]) >= 2
    assert all(r.result.status is CheckStatus.UP for r in recorder.records["ok"])
    assert all(r.in_maintenance is False for r in recorder.records["ok"])


# -- the running scheduler ------------------------------------------------------------------


async def test_faulty_plugins_cost_only_their_own_checks() -> None:
    faulty = [type_name for type_name, _, _ in FAULTS]
    monitors = [monitor("ok", "ok", interval=0.2, timeout=0.1)]
    monitors += [monitor(name, name, interval=0.3, timeout=0.2) for name in faulty]
    recorder = Recorder()
    types = check_types()
    scheduler = Scheduler(
        monitors, types, max_jitter=0.05, listeners=[recorder], rng=random.Random(1)
    )
    started = time.monotonic()
    scheduler.start()
    await asyncio.sleep(1.5)
    assert scheduler.running
    stopping = time.monotonic()
    await scheduler.stop()
    stopped = time.monotonic()
    elapsed = stopping - started

    assert stopped - stopping < 0.8  # the stubborn check lingers 0.3 s at most
    assert not scheduler.running
    oks = recorder.records["ok"]
    # One run per 0.2 s from a start within the first 0.05 s.
    assert int((elapsed - 0.05) / 0.2) <= len(oks) <= int(elapsed / 0.2) + 1
    assert all(r.result.status is CheckStatus.UP and r.error_reason is None for r in oks)
    gaps = [b - a for a, b in zip(recorder.times["ok"], recorder.times["ok"][1:], strict=False)]
    assert max(gaps) < 0.35, "the ok monitor was held up by a faulty one"
    reasons = {type_name: reason for type_name, reason, _ in FAULTS}
    for name in faulty:
        records = recorder.records[name]
        assert records, f"{name} produced no result"
        assert all(r.result.status is CheckStatus.DOWN for r in records), name
        assert {r.error_reason for r in records} == {reasons[name]}, name
        state = scheduler.states[name]
        assert state.checks == {"down": len(records)}
        assert state.errors == {reasons[name]: len(records)}
    # Quick faults run at their interval; timeouts (0.25 s and more) at least twice.
    assert len(recorder.records["raising"]) >= 4
    assert len(recorder.records["hanging"]) >= 2
    assert scheduler.states["ok"].checks == {"up": len(oks)}


async def test_missed_ticks_are_skipped_not_piled_up() -> None:
    class Sluggish(CheckType):
        name = "sluggish"
        starts: list[float] = []

        async def check(self, options: Any, context: CheckContext) -> CheckResult:
            self.starts.append(time.monotonic())
            await asyncio.sleep(0.25)  # 2.5 intervals
            return CheckResult.up("late", 0.25)

    sluggish = Sluggish()
    sluggish.starts = []
    target = monitor("sluggish", "sluggish", interval=0.1, timeout=0.5)
    scheduler = Scheduler([target], {"sluggish": sluggish}, max_jitter=0)
    scheduler.start()
    await asyncio.sleep(1.5)
    await scheduler.stop()

    runs = len(sluggish.starts)
    state = scheduler.states["sluggish"]
    # A run takes 0.25 s and the next starts at the next tick ahead: one run per 0.3 s.
    # Piling up would have started 15 runs.
    assert 4 <= runs <= 6
    assert state.skipped_ticks >= 2 * (runs - 1)
    gaps = [b - a for a, b in zip(sluggish.starts, sluggish.starts[1:], strict=False)]
    assert min(gaps) >= 0.25
    assert sum(gaps) / len(gaps) >= 0.28  # waited for the tick, did not start at once


async def test_concurrency_cap_holds() -> None:
    class Counting(CheckType):
        name = "counting"

        def __init__(self) -> None:
            self.active = 0
            self.peak = 0
            self.runs = 0

        async def check(self, options: Any, context: CheckContext) -> CheckResult:
            self.active += 1
            self.peak = max(self.peak, self.active)
            try:
                await asyncio.sleep(0.1)
            finally:
                self.active -= 1
            self.runs += 1
            return CheckResult.up("counted", 0.1)

    counting = Counting()
    monitors = [monitor(f"m{i}", "counting", interval=0.2, timeout=0.15) for i in range(6)]
    scheduler = Scheduler(monitors, {"counting": counting}, max_concurrency=2, max_jitter=0.05)
    scheduler.start()
    await asyncio.sleep(1.0)
    await scheduler.stop()
    assert counting.peak == 2
    # Two at a time, 0.1 s each: about 20 runs in a second, never the uncapped 30.
    assert 12 <= counting.runs <= 21
    assert counting.active == 0
    assert scheduler.stats.max_lag > 0  # the queue at the semaphore is visible


async def test_start_times_are_spread_by_seeded_jitter() -> None:
    starts: dict[str, float] = {}

    class Stamp(CheckType):
        name = "stamp"

        async def check(self, options: Any, context: CheckContext) -> CheckResult:
            starts.setdefault(context.monitor_id, time.monotonic())
            return CheckResult.up()

    monitors = [monitor(f"m{i}", "stamp", interval=10.0, timeout=1.0) for i in range(6)]
    monitors.append(monitor("short", "stamp", interval=0.2, timeout=0.1))
    scheduler = Scheduler(monitors, {"stamp": Stamp()}, max_jitter=0.6, rng=random.Random(42))
    begun = time.monotonic()
    scheduler.start()
    await asyncio.sleep(0.8)
    await scheduler.stop()

    expected_rng = random.Random(42)
    expected = [expected_rng.uniform(0, 0.6) for _ in range(6)]
    expected.append(expected_rng.uniform(0, 0.2))  # the jitter never exceeds the interval
    offsets = [starts[m.id] - begun for m in monitors]
    for got, want in zip(offsets, expected, strict=True):
        assert want - 0.01 <= got <= want + 0.1
    assert max(offsets[:6]) - min(offsets[:6]) > 0.2
    assert offsets[6] <= 0.3


async def test_listeners_are_isolated_and_async_ones_awaited() -> None:
    calls: list[str] = []

    def broken(monitor: MonitorConfig, record: ResultRecord) -> None:
        calls.append("broken")
        raise RuntimeError("listener bug")

    async def slow(monitor: MonitorConfig, record: ResultRecord) -> None:
        await asyncio.sleep(0.01)
        calls.append("async")

    async def broken_async(monitor: MonitorConfig, record: ResultRecord) -> None:
        await asyncio.sleep(0)
        raise ValueError("async listener bug")

    def plain(monitor: MonitorConfig, record: ResultRecord) -> None:
        calls.append("sync")

    target = monitor("ok", "ok", interval=0.2, timeout=0.1)
    scheduler = Scheduler([target], check_types(), listeners=[broken, slow], max_jitter=0)
    scheduler.add_listener(broken_async)
    scheduler.add_listener(plain)

    record = await scheduler.run_once("ok")
    assert record.result.status is CheckStatus.UP
    assert calls == ["broken", "async", "sync"]  # the async one finished before run_once did
    assert scheduler.states["ok"].last == record

    calls.clear()
    scheduler.start()
    await asyncio.sleep(0.7)
    assert scheduler.running
    await scheduler.stop()
    runs = scheduler.states["ok"].checks["up"] - 1
    assert runs >= 3
    assert calls.count("sync") == runs
    assert calls.count("async") == runs


async def test_stop_cancels_checks_in_flight() -> None:
    entered = asyncio.Event()
    cancelled: list[str] = []

    class Sleeper(CheckType):
        name = "sleeper"

        async def check(self, options: Any, context: CheckContext) -> CheckResult:
            entered.set()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled.append(context.monitor_id)
                raise
            return CheckResult.up()

    target = monitor("sleeper", "sleeper", interval=120.0, timeout=60.0)
    recorder = Recorder()
    scheduler = Scheduler([target], {"sleeper": Sleeper()}, max_jitter=0, listeners=[recorder])
    scheduler.start()
    await asyncio.wait_for(entered.wait(), 1.0)
    assert scheduler.states["sleeper"].running
    started = time.monotonic()
    await scheduler.stop()
    assert time.monotonic() - started < 0.3
    assert cancelled == ["sleeper"]
    assert recorder.records == {}  # a cancelled run records nothing
    assert scheduler.stats.abandoned_tasks == 0
    assert not scheduler.running
    await scheduler.stop()  # stopping twice is harmless


async def test_stop_gives_up_on_a_check_that_never_ends() -> None:
    class Immortal(CheckType):
        name = "immortal"

        async def check(self, options: Any, context: CheckContext) -> CheckResult:
            deadline = time.monotonic() + 1.3
            while time.monotonic() < deadline:
                try:
                    await asyncio.sleep(0.05)
                except asyncio.CancelledError:
                    continue  # ignores every cancellation, for 1.3 s
            return CheckResult.up()

    target = monitor("immortal", "immortal", interval=60.0, timeout=30.0)
    scheduler = Scheduler([target], {"immortal": Immortal()}, max_jitter=0)
    scheduler.start()
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await scheduler.stop(grace=0.5)
    assert 0.5 <= time.monotonic() - started < 0.9  # bounded, though the check lives on
    assert scheduler.stats.abandoned_tasks == 1
    assert other_tasks()
    # Let it end so the test leaves nothing behind.
    _, pending = await asyncio.wait(other_tasks(), timeout=2.0)
    assert pending == set()


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
