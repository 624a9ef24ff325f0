"""Issue 10, point 2: a check that blocks the event loop is named, and costs no other
monitor a false ``down``.

A blocking check is simulated on the fake clock the way it happens on the real
one: it moves time forward inside one step (``clock.advance`` without an await),
so every timer that fell due meanwhile fires only when the step ends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import pytest
from helpers import run_for, run_until_done, settle

from uplight.checks import CheckContext, CheckType
from uplight.clock import FakeClock
from uplight.config import MonitorConfig
from uplight.models import CheckResult, CheckStatus, ResultRecord
from uplight.monitoring.scheduler import Scheduler
from uplight.monitoring.watchdog import LoopWatchdog

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


class Blocker(CheckType):
    """``time.sleep`` inside ``async def check``: holds the loop for each of ``blocks``,
    with a short await between them."""

    name = "blocker"

    def __init__(self, clock: FakeClock, *blocks: float) -> None:
        self.clock = clock
        self.blocks = blocks

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        for index, seconds in enumerate(self.blocks):
            if index:
                await self.clock.sleep_until(self.clock.monotonic() + 0.05)
            self.clock.advance(seconds=seconds)
        return CheckResult.up("slept", sum(self.blocks))


class Punctual(CheckType):
    """Keeps its own timeout, as the http check does: after a stall, the timeout it set
    has run out by the time its answer is read."""

    name = "punctual"

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.starts: list[float] = []

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        start = self.clock.monotonic()
        self.starts.append(start)
        await self.clock.sleep_until(start + 0.1)  # the answer arrives after 100 ms
        if self.clock.monotonic() - start > context.timeout:
            return CheckResult.down(f"timed out after {context.timeout:g}s")
        return CheckResult.up("answered", 0.1)


class Parsing(Punctual):
    """Reading its answer takes a few passes of the loop: after a stall, the scheduler's
    own timer, due at the same moment, wins."""

    name = "parsing"

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        self.starts.append(self.clock.monotonic())
        await self.clock.sleep_until(self.clock.monotonic() + 0.1)
        for _ in range(10):
            await asyncio.sleep(0)
        return CheckResult.up("parsed", 0.1)


def monitor(monitor_id: str, type_name: str, interval: float, timeout: float) -> MonitorConfig:
    base = MonitorConfig.model_validate(
        {"id": monitor_id, "name": monitor_id, "type": type_name, "interval": "1m"}
    )
    return base.model_copy(update={"interval": interval, "timeout": timeout})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture(autouse=True)
async def no_leftover_tasks() -> AsyncIterator[None]:
    yield
    await settle()
    current = asyncio.current_task()
    assert {t for t in asyncio.all_tasks() if t is not current and not t.done()} == set()


class Recorder:
    def __init__(self) -> None:
        self.records: dict[str, list[ResultRecord]] = defaultdict(list)

    def __call__(self, monitor: MonitorConfig, record: ResultRecord) -> None:
        self.records[monitor.id].append(record)


def scheduler_with(
    clock: FakeClock, blocker: Blocker, recorder: Recorder, blocker_timeout: float = 1.0
) -> Scheduler:
    types: dict[str, CheckType] = {
        "punctual": Punctual(clock),
        "parsing": Parsing(clock),
        "blocker": blocker,
    }
    monitors = [  # the victims start first: their checks are in flight when it blocks
        monitor("api", "punctual", interval=30.0, timeout=1.0),
        monitor("db", "parsing", interval=30.0, timeout=1.0),
        monitor("slow", "blocker", interval=60.0, timeout=blocker_timeout),
    ]
    return Scheduler(monitors, types, max_jitter=0, listeners=[recorder], clock=clock)


async def test_a_blocked_loop_costs_only_the_check_that_blocked_it(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="uplight.monitoring")
    recorder = Recorder()
    scheduler = scheduler_with(clock, Blocker(clock, 5.0), recorder)
    scheduler.start()
    await run_for(clock, 10.0)
    await run_until_done(clock, scheduler.stop())

    # The victims' first runs ended with the stall, their own timeout (api) or the
    # scheduler's (db) run out: not believed, run again at once, and up.
    for monitor_id in ("api", "db"):
        [record] = recorder.records[monitor_id]
        assert record.result.status is CheckStatus.UP, record
        assert record.error_reason is None
        assert record.checked_at == T0 + dt.timedelta(seconds=5)  # the re-run's start
        assert scheduler.states[monitor_id].stall_reruns == 1
        assert scheduler.states[monitor_id].uncounted == 0
    types = scheduler._check_types
    assert isinstance(types["punctual"], Punctual) and isinstance(types["parsing"], Parsing)
    assert types["punctual"].starts == [0.0, 5.0]
    assert types["parsing"].starts == [0.0, 5.0]

    # The one that blocked the loop overran its timeout, though it returned "up".
    [blamed] = recorder.records["slow"]
    assert blamed.result.status is CheckStatus.DOWN
    assert blamed.error_reason == "timeout"
    assert blamed.result.message == (
        "blocker check did not finish within 1s: it held the event loop for 5.0s"
    )

    # Named in the log, counted, and listed for the dashboard.
    assert (
        "monitor slow (check type 'blocker') held the event loop for 5.00s: its check blocks"
        " (see 'Isolating an untrusted check type' in docs/plugins.md)"
    ) in caplog.messages
    assert (
        "monitor api: monitor slow (blocker check) held the event loop for 5.0s during its"
        " check; its down result is not believed, the check runs again"
    ) in caplog.messages
    watchdog = scheduler.watchdog
    assert watchdog.stalls == {"blocker": 1}
    assert watchdog.stall_seconds == {"blocker": 5.0}
    [stall] = watchdog.recent
    assert (stall.monitor_id, stall.check_type, stall.seconds) == ("slow", "blocker", 5.0)
    assert stall.at == T0 + dt.timedelta(seconds=5)


async def test_a_run_stalled_twice_is_not_counted(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    # Blocks 5 s, then 5 s again while the victims run their checks a second time
    # (with a timeout long enough not to be cut off between the two).
    scheduler = scheduler_with(clock, Blocker(clock, 5.0, 5.0), recorder, blocker_timeout=20.0)
    scheduler.start()
    await run_for(clock, 20.0)
    await run_until_done(clock, scheduler.stop())

    for monitor_id in ("api", "db"):
        assert recorder.records[monitor_id] == []  # neither down nor anything else
        state = scheduler.states[monitor_id]
        assert (state.stall_reruns, state.uncounted) == (1, 1)
        assert state.checks == {}
    assert (
        "monitor api: monitor slow (blocker check) held the event loop for 5.0s during its"
        " check again; this run is not counted"
    ) in caplog.messages
    assert scheduler.watchdog.stalls == {"blocker": 2}
    # Within its 20 s timeout, its result stands; the log named it twice.
    assert [r.result.status for r in recorder.records["slow"]] == [CheckStatus.UP]


async def test_a_stall_outside_any_check_is_seen_by_the_tick(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    scheduler = scheduler_with(clock, Blocker(clock), recorder)
    scheduler.start()
    await run_for(clock, 0.05)
    # A notifier or a renderer blocking: no check step to blame.
    asyncio.get_running_loop().call_soon(lambda: clock.advance(seconds=3))
    await run_for(clock, 5.0)
    await run_until_done(clock, scheduler.stop())

    for monitor_id in ("api", "db"):
        [record] = recorder.records[monitor_id]
        assert record.result.status is CheckStatus.UP
        assert scheduler.states[monitor_id].stall_reruns == 1
    assert scheduler.watchdog.stalls == {"unknown": 1}
    [stall] = scheduler.watchdog.recent
    assert stall.monitor_id is None and stall.check_type is None
    # Seen from the tick due at 0.5 s: the part of the stall after it.
    assert stall.started == 0.5 and stall.ended == pytest.approx(3.05)
    assert any("outside any check step" in m for m in caplog.messages)


@pytest.mark.parametrize(("timeout", "reruns"), [(10.0, 0), (1.0, 1)])
async def test_a_real_outage_during_a_stall_is_still_down(
    clock: FakeClock, timeout: float, reruns: int
) -> None:
    """A stall too short to explain the timeout does not excuse it: 0.6 s of a 10 s
    timeout leaves the check 9.4 s, enough to answer. Of a 1 s timeout it leaves
    0.4 s: the check runs again, and hangs again, this time with the loop its own."""

    class Hanging(CheckType):
        name = "hanging"

        async def check(self, options: Any, context: CheckContext) -> CheckResult:
            await asyncio.Event().wait()
            return CheckResult.up()

    recorder = Recorder()
    types: dict[str, CheckType] = {"hanging": Hanging(), "blocker": Blocker(clock, 0.6)}
    monitors = [
        monitor("down", "hanging", interval=30.0, timeout=timeout),
        monitor("slow", "blocker", interval=60.0, timeout=1.0),
    ]
    scheduler = Scheduler(monitors, types, max_jitter=0, listeners=[recorder], clock=clock)
    scheduler.start()
    await run_for(clock, 15.0)
    await run_until_done(clock, scheduler.stop())
    [record] = recorder.records["down"]
    assert record.error_reason == "timeout"
    assert record.result.message == f"hanging check did not finish within {timeout:g}s"
    assert scheduler.states["down"].stall_reruns == reruns
    assert record.checked_at == T0 + dt.timedelta(seconds=reruns * 1.1)
    # The short blocker held the loop 0.6 s, within its timeout: its result stands.
    assert [r.result.status for r in recorder.records["slow"]] == [CheckStatus.UP]
    assert scheduler.watchdog.stalls == {"blocker": 1}


async def test_the_step_timer_passes_values_exceptions_and_cancellation_through(
    clock: FakeClock,
) -> None:
    watchdog = LoopWatchdog(clock)
    timer = watchdog.timer("m", "t")

    async def answer() -> int:
        await asyncio.sleep(0)
        clock.advance(seconds=0.1)
        await asyncio.sleep(0)
        return 42

    assert await timer.run(answer()) == 42
    assert timer.busy == pytest.approx(0.1)
    assert watchdog.stalls == {}  # 0.1 s is below the threshold

    async def failing() -> None:
        await asyncio.sleep(0)
        raise KeyError("x")

    with pytest.raises(KeyError):
        await timer.run(failing())

    cancelled: list[bool] = []

    async def waiting() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    task = asyncio.create_task(timer.run(waiting()))
    await settle()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled == [True]
