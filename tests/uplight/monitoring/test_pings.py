"""The ping service: tokens to monitors, a plugin's faults on a ping, the state kept.

Fake check types stand in for third-party ones: the service must hold for any check
type that sets ``accepts_pings``, not only the built-in ``push``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from uplight.checks import CheckContext, CheckType, Ping
from uplight.clock import FakeClock
from uplight.config import MonitorConfig
from uplight.models import CheckResult, CheckStatus, ResultRecord
from uplight.monitoring.pings import PingService, PingSetupError, token_index
from uplight.schema import build_store

T0 = dt.datetime(2024, 6, 3, 12, 0, tzinfo=dt.UTC)
TOKEN = "a-token-of-twenty-chars-or-more"


class Beacon(CheckType):
    name = "beacon"
    accepts_pings = True
    behaviour: Any = None  # what on_ping does, set by each test

    def ping_token(self, options: Any) -> str:
        return options["token"]

    def on_ping(self, options: Any, ping: Ping, context: CheckContext) -> Any:
        return self.behaviour(ping, context) if self.behaviour else CheckResult.up(ping.kind)

    async def check(self, options: Any, context: CheckContext) -> CheckResult:
        return CheckResult.up("")


def monitor(monitor_id: str, token: str, kind: str = "beacon") -> MonitorConfig:
    return MonitorConfig(id=monitor_id, name=monitor_id, type=kind, options={"token": token})


def test_two_monitors_with_one_token_is_an_error_naming_both() -> None:
    beacon = Beacon()
    with pytest.raises(PingSetupError, match="'a' and 'b' have the same ping token") as info:
        token_index([monitor("a", TOKEN), monitor("b", TOKEN)], {"beacon": beacon})
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize("token", ["short", "has/a/slash/in/it/twenty", "x" * 201, 42])
def test_a_token_that_cannot_route_pings_is_an_error(token: Any) -> None:
    with pytest.raises(PingSetupError, match="monitor 'a': its ping token must be") as info:
        token_index([monitor("a", token)], {"beacon": Beacon()})
    assert str(token) not in str(info.value)


def test_only_check_types_that_accept_pings_are_routed() -> None:
    class Plain(Beacon):
        name = "plain"
        accepts_pings = False

    index = token_index(
        [monitor("a", TOKEN), monitor("b", TOKEN, "plain"), monitor("c", TOKEN, "unknown")],
        {"beacon": Beacon(), "plain": Plain()},
    )
    assert [m.id for m in index.values()] == ["a"]


class Recorder:
    def __init__(self) -> None:
        self.results: list[tuple[str, CheckResult, str | None]] = []

    async def __call__(self, monitor_id: str, result: CheckResult, reason: str | None) -> None:
        self.results.append((monitor_id, result, reason))


async def test_a_plugin_fault_on_a_ping_is_a_down_result(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    beacon = Beacon()
    clock = FakeClock(T0)
    record = Recorder()
    target = monitor("a", TOKEN)
    async with build_store(tmp_path / "db.sqlite") as store:
        service = PingService(store, [target], {"beacon": beacon}, clock=clock, record=record)
        await service.start()
        assert service.find(TOKEN) is target
        assert service.find(TOKEN + "x") is None

        def boom(ping: Ping, context: CheckContext) -> Any:
            raise RuntimeError("exploded")

        def leaves(ping: Ping, context: CheckContext) -> Any:
            raise SystemExit(3)

        async def waits(ping: Ping, context: CheckContext) -> Any:
            return CheckResult.up("never")

        cases = [
            (boom, "check plugin 'beacon' failed on a ping: RuntimeError: exploded", "exception"),
            (leaves, "check plugin 'beacon' failed on a ping: SystemExit: 3", "exception"),
            (lambda p, c: "yes", "returned str, not a CheckResult", "invalid_result"),
            (waits, "returned coroutine, not a CheckResult", "invalid_result"),
        ]
        for behaviour, words, reason in cases:
            beacon.behaviour = behaviour
            await service.receive(target, "success", None, "")
            monitor_id, result, why = record.results[-1]
            assert (monitor_id, result.status, why) == ("a", CheckStatus.DOWN, reason)
            assert words in result.message
        # The ping itself still counted: the state moved on.
        assert service.state("a").last_success == T0
        beacon.behaviour = lambda ping, context: None
        count = len(record.results)
        await service.receive(target, "start", None, "")
        assert len(record.results) == count  # None records nothing
    assert TOKEN not in caplog.text


async def test_the_state_is_kept_and_a_restart_is_marked(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    target = monitor("a", TOKEN)
    check_types = {"beacon": Beacon()}
    async with build_store(tmp_path / "db.sqlite") as store:
        service = PingService(store, [target], check_types, clock=clock, record=Recorder())
        await service.start()
        first = service.state("a")
        assert (first.watched_since, first.resumed_at, first.offline_since) == (T0, T0, None)
        await service.receive(target, "start", None, "")
        clock.advance(minutes=1)
        await service.receive(target, "success", None, "")
        clock.advance(minutes=1)
        await service.receive(target, "start", None, "")
        clock.advance(minutes=1)
        await service.receive(target, "fail", 2, "")
        clock.advance(minutes=1)
        await service.receive(target, "start", None, "")
        # A check's result, the last sign of life before the restart.
        store.add_result(ResultRecord("a", T0 + dt.timedelta(minutes=5), CheckResult.up("")))
    clock.advance(hours=1)
    async with build_store(tmp_path / "db.sqlite") as store:
        service = PingService(store, [target], check_types, clock=clock, record=Recorder())
        await service.start()
        state = service.state("a")
        assert state.watched_since == T0
        assert state.last_success == T0 + dt.timedelta(minutes=1)
        assert state.last_failure == T0 + dt.timedelta(minutes=3)
        assert state.last_start == T0 + dt.timedelta(minutes=4)
        assert state.offline_since == T0 + dt.timedelta(minutes=5)
        assert state.resumed_at == T0 + dt.timedelta(minutes=64)
        assert service.state("unknown") is None


async def test_pings_wait_for_the_state_to_load(tmp_path: Path) -> None:
    """A ping that arrives while a reload is starting the new runtime waits, then counts."""
    clock = FakeClock(T0)
    target = monitor("a", TOKEN)
    record = Recorder()
    async with build_store(tmp_path / "db.sqlite") as store:
        service = PingService(store, [target], {"beacon": Beacon()}, clock=clock, record=record)
        early = asyncio.create_task(service.receive(target, "success", None, ""))
        await asyncio.sleep(0)
        assert not early.done()
        await service.start()
        await early
        assert [r[1].message for r in record.results] == ["success"]
