"""Group monitors end to end: real HTTP servers as members, a real Runtime and SQLite file.

A group is checked again as soon as a member's state changes (its own interval is
an hour here, and the scheduler's loops are stopped: every group result below
comes from a member's change), and it is a monitor like any other: its results
are stored, its thresholds open an incident, a group of groups follows, and a
group whose members are all in maintenance is in maintenance.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
from helpers import wait_for
from servers import HttpServer, Route

from uplight.config import Config
from uplight.maintenance.models import WindowFields
from uplight.models import CheckStatus, ResultRecord, Status
from uplight.monitoring.store import recent_results
from uplight.plugins import PluginRegistry
from uplight.runtime import Runtime

MEMBERS = ("router-a", "router-b", "router-c")


def config_text(servers: dict[str, HttpServer]) -> str:
    text = ""
    for member, server in servers.items():
        text += f"""
[[monitors]]
id = "{member}"
name = "{member}"
type = "http"
url = "{server.url("/")}"
interval = "1h"
timeout = "2s"
"""
    return (
        text
        + """
[[monitors]]
id = "routers"
name = "Routers"
type = "group"
members = ["router-a", "router-b", "router-c"]
interval = "1h"
failure_threshold = 1
[[monitors]]
id = "network"
name = "Network"
type = "group"
members = ["routers"]
interval = "1h"
[[pages]]
slug = "main"
title = "Main"
[[pages.components]]
monitor = "network"
"""
    )


@dataclass
class Setup:
    runtime: Runtime
    servers: dict[str, HttpServer]

    def last(self, monitor_id: str) -> ResultRecord | None:
        return self.runtime.states.last(monitor_id)

    def says(self, monitor_id: str, status: CheckStatus, message: str) -> Callable[[], bool]:
        def met() -> bool:
            last = self.last(monitor_id)
            return last is not None and (last.result.status, last.result.message) == (
                status,
                message,
            )

        return met

    async def check_members(self, *members: str) -> None:
        for member in members or MEMBERS:
            await self.runtime.scheduler.run_once(member)


@pytest.fixture
async def setup(
    make_config: Callable[[str], Config], registry: PluginRegistry
) -> AsyncIterator[Setup]:
    with ExitStack() as stack:
        servers = {m: stack.enter_context(HttpServer({"/": Route(200, "ok")})) for m in MEMBERS}
        runtime = Runtime(make_config(config_text(servers)), registry)
        await runtime.start()
        await runtime.scheduler.stop()  # every check below is asked for
        try:
            yield Setup(runtime, servers)
        finally:
            await runtime.stop()


async def test_a_group_follows_its_real_members(setup: Setup) -> None:
    up = CheckStatus.UP
    await setup.check_members()
    await wait_for(setup.says("routers", up, "all 3 members up"))
    await wait_for(setup.says("network", up, "all 1 members up"))

    setup.servers["router-b"].routes["/"] = Route(503, "busy")
    await setup.check_members("router-b")
    await wait_for(
        setup.says("routers", CheckStatus.DEGRADED, "1 of 3 members not up: router-b down")
    )
    # a group is a monitor like any other: its threshold (1) opened an incident
    await wait_for(lambda: setup.runtime.monitor_tracker("routers").active_incident is not None)
    await wait_for(
        setup.says("network", CheckStatus.DEGRADED, "1 of 1 members not up: routers degraded")
    )

    for member in ("router-a", "router-c"):
        setup.servers[member].routes["/"] = Route(500, "broken")
    await setup.check_members("router-a", "router-c")
    await wait_for(
        setup.says(
            "routers",
            CheckStatus.DOWN,
            "3 of 3 members not up: router-a down, router-b down, router-c down",
        )
    )
    overview = await setup.runtime.monitors.get_monitor("routers")
    assert overview.state.status is CheckStatus.DOWN
    assert overview.open_incident is not None and overview.open_incident.severity == "major"

    for server in setup.servers.values():
        server.routes["/"] = Route(200, "ok")
    await setup.check_members()
    await wait_for(setup.says("routers", up, "all 3 members up"))
    await wait_for(lambda: setup.runtime.monitor_tracker("routers").active_incident is None)

    # its results are stored, for its history and rollups
    await setup.runtime.store.flush()
    stored = await recent_results(setup.runtime.store, "routers", limit=100)
    statuses = [r.result.status.value for r in reversed(stored)]
    assert statuses[0] == "up" and statuses[-1] == "up"
    assert {"degraded", "down"} <= set(statuses)


async def test_a_group_whose_members_are_all_in_maintenance_is_in_maintenance(
    setup: Setup,
) -> None:
    runtime = setup.runtime
    await setup.check_members()
    await wait_for(setup.says("routers", CheckStatus.UP, "all 3 members up"))
    now = dt.datetime.now(dt.UTC)
    await runtime.maintenance.schedule(
        WindowFields(
            title="Firmware",
            description=None,
            severity="info",
            component_ids=("router-a", "router-b"),
            starts_at=now - dt.timedelta(minutes=1),
            ends_at=now + dt.timedelta(hours=1),
        ),
        created_by="test",
    )
    # the members under maintenance are down: they do not count
    for member in ("router-a", "router-b"):
        setup.servers[member].routes["/"] = Route(503, "rebooting")
    await setup.check_members("router-a", "router-b")
    await wait_for(
        setup.says(
            "routers", CheckStatus.UP, "all 1 members up; in maintenance: router-a, router-b"
        )
    )
    assert not runtime.states.in_maintenance("routers")
    assert runtime.monitor_tracker("routers").active_incident is None

    await runtime.maintenance.schedule(
        WindowFields(
            title="Firmware, part 2",
            description=None,
            severity="info",
            component_ids=("router-c",),
            starts_at=now - dt.timedelta(minutes=1),
            ends_at=now + dt.timedelta(hours=1),
        ),
        created_by="test",
    )
    await setup.check_members("router-c")
    await wait_for(setup.says("routers", CheckStatus.UP, "all 3 members are in maintenance"))
    last = setup.last("routers")
    assert last is not None and last.in_maintenance
    assert runtime.states.in_maintenance("routers")
    # a group of that group: all its members in maintenance too
    assert runtime.states.in_maintenance("network")
    overview = await runtime.monitors.get_monitor("routers")
    assert overview.state.in_maintenance
    # and the page shows it so, though no window names it
    snapshot = await runtime.pages.page_snapshot("main")
    assert snapshot is not None
    assert [c.status for c in snapshot.components] == [Status.MAINTENANCE]
