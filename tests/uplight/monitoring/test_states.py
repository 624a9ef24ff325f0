"""Monitors' current states across restarts (a real SQLite file, a new Runtime each
time): a manual monitor keeps the state its operator set, every monitor keeps since
when it has had its status, and a group waits for its members' first results."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from uplight.checks import OperatorState
from uplight.config import Config
from uplight.db.sql import from_millis, to_millis
from uplight.models import CheckStatus
from uplight.plugins import PluginRegistry
from uplight.runtime import Runtime

CONFIG = """
[[monitors]]
id = "storage"
name = "Model storage"
type = "manual"
interval = "1h"
[[monitors]]
id = "spare"
name = "Spare storage"
type = "manual"
interval = "1h"
[[monitors]]
id = "both"
name = "Both"
type = "group"
members = ["storage", "spare"]
interval = "1h"
"""


@asynccontextmanager
async def running(config: Config, registry: PluginRegistry) -> AsyncIterator[Runtime]:
    runtime = Runtime(config, registry)
    await runtime.start()
    await runtime.scheduler.stop()  # checks run when a test asks
    try:
        yield runtime
    finally:
        await runtime.stop()


def ms(value: object) -> object:
    # Stored in milliseconds: compare at that precision.
    return from_millis(to_millis(value)) if value is not None else None  # type: ignore[arg-type]


async def test_a_manual_state_survives_a_restart(
    make_config: Callable[[str], Config], registry: PluginRegistry
) -> None:
    config = make_config(CONFIG)
    async with running(config, registry) as runtime:
        assert runtime.states.operator_state("storage") == OperatorState()
        view = await runtime.monitors.set_state(
            "storage", CheckStatus.DOWN, "array degraded beyond repair", set_by="ops"
        )
        assert view.last is not None and view.last.result.status is CheckStatus.DOWN
        set_at = view.operator_state.set_at if view.operator_state else None

    async with running(config, registry) as runtime:
        state = runtime.states.operator_state("storage")
        assert state == OperatorState(
            CheckStatus.DOWN, "array degraded beyond repair", ms(set_at), "ops"
        )
        # Its checks report it, on its interval as at once.
        record = await runtime.scheduler.run_once("storage")
        assert record is not None
        assert record.result.status is CheckStatus.DOWN
        assert record.result.message == "array degraded beyond repair"
        # The other one was never set: operational by default.
        record = await runtime.scheduler.run_once("spare")
        assert record is not None and record.result.status is CheckStatus.UP
        assert record.result.message == "operational (no state set yet)"


async def test_since_survives_a_restart(
    make_config: Callable[[str], Config], registry: PluginRegistry
) -> None:
    config = make_config(CONFIG)
    async with running(config, registry) as runtime:
        first = await runtime.monitors.set_state("storage", CheckStatus.DEGRADED, "", set_by="ops")
        await runtime.scheduler.run_once("storage")
        await runtime.scheduler.run_once("storage")
        state = runtime.states.state("storage")
        assert first.last is not None and state.since == first.last.checked_at
        assert state.status is CheckStatus.DEGRADED

    async with running(config, registry) as runtime:
        # Before its first check since the restart: what the database says.
        state = runtime.states.state("storage")
        assert state.status is CheckStatus.DEGRADED
        assert state.since == ms(first.last.checked_at)
        assert state.checked_at is not None and state.checked_at > state.since
        record = await runtime.scheduler.run_once("storage")  # the same status: no change
        assert record is not None
        assert runtime.states.state("storage").since == ms(first.last.checked_at)
        # A monitor never checked has no status, and no since.
        assert runtime.states.state("spare").status is None
        assert runtime.states.state("spare").since is None


async def test_a_group_waits_for_its_members_first_results(
    make_config: Callable[[str], Config], registry: PluginRegistry
) -> None:
    async with running(make_config(CONFIG), registry) as runtime:
        assert runtime.states.awaiting_references("both")
        assert await runtime.scheduler.run_once("both") is None
        await runtime.scheduler.run_once("storage")
        assert await runtime.scheduler.run_once("both") is None  # "spare" still unknown
        await runtime.scheduler.run_once("spare")
        record = await runtime.scheduler.run_once("both")
        assert record is not None and record.result.message == "all 2 members up"
        overview = await runtime.monitors.get_monitor("both")
        assert overview.summary == {"members": ["storage", "spare"]}


async def test_an_isolated_group_gets_the_same_states(
    make_config: Callable[[str], Config], registry: PluginRegistry
) -> None:
    # In a worker process (`[scheduler] isolate`), the states travel with the context.
    config = make_config('[scheduler]\nisolate = ["group"]\n' + CONFIG)
    async with running(config, registry) as runtime:
        await runtime.monitors.set_state("storage", CheckStatus.DOWN, "gone", set_by="ops")
        await runtime.scheduler.run_once("spare")
        record = await runtime.scheduler.run_once("both")
        assert record is not None and record.error_reason is None, record
        assert record.result.status is CheckStatus.DEGRADED
        assert record.result.message == "1 of 2 members not up: storage down"
