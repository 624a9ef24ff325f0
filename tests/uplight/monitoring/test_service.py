"""The monitor service's reads and actions for the console's monitor page: results
paged newest first (several in one millisecond included), a check run out of turn,
refused where a check does not make the results, a push monitor's ping URL, and the
maintenance windows touching a monitor."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from uplight.clock import FakeClock
from uplight.config import Config
from uplight.maintenance.models import WindowFields
from uplight.models import CheckResult, CheckStatus, ResultRecord
from uplight.monitoring.service import (
    MonitorNotCheckable,
    MonitorNotFound,
    MonitorNotPush,
    ResultPosition,
)
from uplight.plugins import PluginRegistry
from uplight.runtime import Runtime

TOKEN = "a-push-token-of-enough-length-0123"
CONFIG = f"""
[[monitors]]
id = "web"
name = "Web"
type = "http"
url = "http://127.0.0.1:9/"
interval = "1h"
timeout = "1s"
[[monitors]]
id = "storage"
name = "Storage"
type = "manual"
interval = "1h"
[[monitors]]
id = "both"
name = "Both"
type = "group"
members = ["web", "storage"]
interval = "1h"
[[monitors]]
id = "nightly"
name = "Nightly backup"
type = "push"
token = "{TOKEN}"
period = "1d"
grace = "1h"
interval = "1m"
[server]
public_base_url = "https://status.example.org"
"""
T0 = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


@asynccontextmanager
async def running(config: Config, registry: PluginRegistry) -> AsyncIterator[Runtime]:
    runtime = Runtime(config, registry, clock=FakeClock(T0 + dt.timedelta(hours=1)))
    await runtime.start()
    await runtime.scheduler.stop()  # checks run when a test asks
    try:
        yield runtime
    finally:
        await runtime.stop()


@pytest.fixture
def config(make_config: Callable[[str], Config]) -> Config:
    return make_config(CONFIG)


def stored(runtime: Runtime, *times: tuple[dt.datetime, str]) -> None:
    for at, message in times:
        runtime.store.add_result(ResultRecord("web", at, CheckResult.up(message, 0.01)))


async def test_results_page_newest_first_without_losing_a_shared_millisecond(
    config: Config, registry: PluginRegistry
) -> None:
    async with running(config, registry) as runtime:
        minute = dt.timedelta(minutes=1)
        # Three results in one millisecond straddle the first page's end.
        stored(runtime, (T0, "a"), (T0 + minute, "b"), (T0 + minute, "c"), (T0 + minute, "d"))
        stored(runtime, (T0 + 2 * minute, "e"), (T0 + 3 * minute, "f"))
        await runtime.store.flush()
        service = runtime.monitors
        for limit in range(1, 8):
            seen: list[str] = []
            before: ResultPosition | None = None
            while True:
                page = await service.results("web", before=before, limit=limit)
                assert len(page.items) <= limit
                seen += [r.result.message for r in page.items]
                if page.next is None:
                    break
                before = page.next
            assert seen == ["f", "e", "d", "c", "b", "a"], limit
        first = await service.results("web", limit=4)
        assert first.next == ResultPosition(int((T0 + minute).timestamp() * 1000), 2)
        assert all(isinstance(r, ResultRecord) for r in first.items)
        recent = await service.results("web", since=T0 + 2 * minute, limit=10)
        assert [r.result.message for r in recent.items] == ["f", "e"] and recent.next is None
        # Exactly a page's worth: no next page.
        exact = await service.results("web", limit=6)
        assert len(exact.items) == 6 and exact.next is None
        with pytest.raises(MonitorNotFound):
            await service.results("nope")


async def test_check_now_records_a_result_and_refuses_derived_monitors(
    config: Config, registry: PluginRegistry
) -> None:
    async with running(config, registry) as runtime:
        service = runtime.monitors
        record = await service.check_now("web")
        assert record is not None and record.result.status is CheckStatus.DOWN  # nothing on :9
        await runtime.store.flush()
        [newest] = (await service.results("web", limit=1)).items
        assert newest.checked_at == record.checked_at
        for monitor_id, words in (
            ("storage", "set its state instead"),
            ("both", "check those instead"),
            ("nightly", "come from its pings"),
        ):
            with pytest.raises(MonitorNotCheckable, match=words):
                await service.check_now(monitor_id)
        with pytest.raises(MonitorNotFound):
            await service.check_now("nope")


async def test_check_now_leaves_the_monitors_rhythm_alone(
    config: Config, registry: PluginRegistry
) -> None:
    runtime = Runtime(config, registry, clock=FakeClock(T0))
    await runtime.start()
    try:
        await asyncio.sleep(0)  # the loops take their first due time
        state = runtime.scheduler.states["web"]
        due = state.next_due
        assert due is not None
        await runtime.monitors.check_now("web")
        await asyncio.sleep(0)
        assert state.next_due == due and state.checks["down"] == 1
    finally:
        await runtime.stop()


async def test_ping_url_only_for_a_push_monitor(config: Config, registry: PluginRegistry) -> None:
    async with running(config, registry) as runtime:
        assert runtime.monitors.ping_url("nightly") == f"https://status.example.org/ping/{TOKEN}"
        with pytest.raises(MonitorNotPush, match="only monitors of a type that receives pings"):
            runtime.monitors.ping_url("web")


async def test_windows_touching_a_monitor(config: Config, registry: PluginRegistry) -> None:
    async with running(config, registry) as runtime:
        now = runtime.clock.now()

        def window(title: str, ids: tuple[str, ...], hours: int) -> WindowFields:
            starts = now + dt.timedelta(hours=hours)
            return WindowFields(title, None, "info", ids, starts, starts + dt.timedelta(hours=1))

        service = runtime.maintenance
        await service.schedule(window("Web only", ("web",), 1), created_by="t")
        await service.schedule(window("Both", ("web", "storage"), 2), created_by="t")
        await service.schedule(window("Storage only", ("storage",), 3), created_by="t")
        touching = await service.windows_touching("web")
        assert [w.title for w in touching] == ["Both", "Web only"]
        assert [w.title for w in await service.windows_touching("web", limit=1)] == ["Web only"]
        assert await service.windows_touching("nightly") == []
