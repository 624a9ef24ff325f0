"""The page snapshot, table-driven, from state built through the real store.

Results go in through ``Store.add_result`` (so the daily rollups are the
store's own), incidents through the store's incident functions and
maintenance windows through ``MaintenanceService``, all on a ``FakeClock``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from postgres import storage_toml

from uplight.clock import FakeClock
from uplight.config import Config
from uplight.db.store import Store
from uplight.incidents import store as db_incidents
from uplight.incidents.service import IncidentService
from uplight.maintenance.models import WindowFields
from uplight.maintenance.service import MaintenanceService
from uplight.models import CheckResult, CheckStatus, ResultRecord, Status
from uplight.monitoring.store import prune_results
from uplight.pages.provisioning import provision_pages
from uplight.pages.service import PageService, host_name
from uplight.schema import build_store
from uplight.snapshot import HISTORY_DAYS, PageSnapshot

NOW = dt.datetime(2024, 6, 5, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
CANARY = "canary-7f3a"  # in every monitor's target, and in every check message


def monitor(monitor_id: str, name: str) -> str:
    return (
        f'[[monitors]]\nid = "{monitor_id}"\nname = "{name}"\ntype = "http"\n'
        f'url = "http://{CANARY}-user:{CANARY}-pass@127.0.0.1:9/{CANARY}"\n'
        f'headers = {{ Authorization = "Bearer {CANARY}-token" }}\n'
        'interval = "1h"\ntimeout = "1s"\n'
    )


MONITORS = "".join(
    monitor(i, n)
    for i, n in [("a", "Alpha box"), ("b", "Beta box"), ("c", "Gamma box"), ("off", "Off page")]
)

# Three components on the default page; "off" is on no page.
MAIN = """
[server]
public_base_url = "https://status.example.org/"
[[pages]]
slug = "main"
title = "Main"
hostname = "Status.Example.org"
[[pages.components]]
monitor = "a"
public_name = "Website"
[[pages.components]]
monitor = "b"
public_name = "API"
sort_order = 1
[[pages.components]]
monitor = "c"
public_name = "Database"
sort_order = 2
"""


@dataclass
class Env:
    store: Store
    service: PageService
    clock: FakeClock
    maintenance: MaintenanceService
    config: Config

    async def snapshot(self, slug: str = "main") -> PageSnapshot:
        snapshot = await self.service.page_snapshot(slug)
        assert snapshot is not None
        return snapshot

    async def results(
        self,
        monitor_id: str,
        statuses: list[CheckStatus],
        *,
        at: dt.datetime | None = None,
        in_maintenance: bool = False,
    ) -> None:
        """Checks a second apart starting at ``at`` (default: a minute ago), flushed."""
        start = at or NOW - dt.timedelta(minutes=1)
        for i, status in enumerate(statuses):
            result = CheckResult(status, 0.01, f"{CANARY} said {status.value}")
            when = start + dt.timedelta(seconds=i)
            self.store.add_result(ResultRecord(monitor_id, when, result, None, in_maintenance))
        await self.store.flush()

    async def tripped(self, monitor_id: str, severity: str = "major") -> int:
        """The incident the engine opens once the monitor trips its failure threshold."""
        return await self.incident(
            monitor_id, started=NOW - dt.timedelta(minutes=1), severity=severity
        )

    async def incident(
        self,
        monitor_id: str,
        *,
        started: dt.datetime,
        ended: dt.datetime | None = None,
        severity: str = "major",
        name: str = "Engine name",
    ) -> int:
        async def write(db: object) -> int:
            incident_id = await db_incidents.insert_incident(
                db,  # type: ignore[arg-type]
                monitor_id=monitor_id,
                monitor_name=name,
                severity=severity,
                started_at=started,
                at=started,
            )
            if ended is not None:
                await db_incidents.mark_ended(db, incident_id, ended)  # type: ignore[arg-type]
            return incident_id

        return await self.store.write(write)

    async def window(
        self, components: tuple[str, ...], starts: dt.datetime, hours: float = 2, title: str = "W"
    ) -> int:
        fields = WindowFields(
            title, None, "info", components, starts, starts + dt.timedelta(hours=hours)
        )
        return (await self.maintenance.schedule(fields, created_by="test")).id


@pytest.fixture
def env(
    make_config: Callable[[str], Config], db_location: Path | str
) -> Callable[..., AsyncIterator[Env]]:
    @asynccontextmanager
    async def make(pages: str = MAIN) -> AsyncIterator[Env]:
        config = make_config(MONITORS + pages + storage_toml(db_location))
        clock = FakeClock(NOW)
        async with build_store(config.database_location) as store:
            await provision_pages(store, config, NOW)
            service = PageService(config, store, clock=clock)
            await service.refresh()
            yield Env(store, service, clock, MaintenanceService(store, config, clock), config)

    return make


S = CheckStatus
UP, DEG, DOWN = [S.UP], [S.DEGRADED], [S.DOWN]


@pytest.mark.parametrize(
    ("latest", "maintained", "components", "page"),
    [
        ((UP, UP, UP), (), ("operational",) * 3, "operational"),
        ((UP, DEG, UP), (), ("operational", "degraded", "operational"), "degraded"),
        ((UP, DOWN, DEG), (), ("operational", "major_outage", "degraded"), "partial_outage"),
        ((DOWN, DOWN, DOWN), (), ("major_outage",) * 3, "major_outage"),
        # "All down" means all: a component not yet checked is not down.
        ((DOWN, None, DOWN), (), ("major_outage", "no_data", "major_outage"), "partial_outage"),
        ((UP, None, None), (), ("operational", "no_data", "no_data"), "operational"),
        ((None, None, None), (), ("no_data",) * 3, "no_data"),
        # Maintenance dominates a real failure, on the component and on the page.
        ((DOWN, UP, UP), ("a",), ("maintenance", "operational", "operational"), "maintenance"),
        (
            (DOWN, DOWN, DOWN),
            ("b",),
            ("major_outage", "maintenance", "major_outage"),
            "maintenance",
        ),
        ((None, None, None), ("c",), ("no_data", "no_data", "maintenance"), "maintenance"),
        # The newest result decides, not the worst of the day.
        (
            ([S.DOWN, S.UP], [S.UP, S.DOWN], UP),
            (),
            ("operational", "major_outage", "operational"),
            "partial_outage",
        ),
    ],
)
async def test_component_and_page_status(env, latest, maintained, components, page) -> None:
    async with env() as e:
        for monitor_id, statuses in zip("abc", latest, strict=True):
            if statuses is not None:
                await e.results(monitor_id, statuses)
                last = statuses[-1]
                if last is not S.UP:  # the run tripped the threshold: the engine's incident
                    await e.tripped(monitor_id, "major" if last is S.DOWN else "minor")
        if maintained:
            await e.window(maintained, NOW - dt.timedelta(minutes=30))
        snapshot = await e.snapshot()
    assert tuple(c.status.value for c in snapshot.components) == components
    assert snapshot.status.value == page
    assert snapshot.banner  # every page status has a banner label


async def test_maintenance_status_follows_the_clock(env) -> None:
    async with env() as e:
        await e.results("a", DOWN)
        await e.tripped("a")
        await e.window(("a",), NOW + dt.timedelta(hours=1))  # not started yet
        assert (await e.snapshot()).status is Status.PARTIAL_OUTAGE  # b and c: no data yet
        e.clock.advance(hours=1, minutes=1)  # inside it (the stored status still says scheduled)
        snapshot = await e.snapshot()
        assert snapshot.status is Status.MAINTENANCE
        assert [w.status for w in snapshot.active_maintenance] == ["active"]
        e.clock.advance(hours=2)  # over
        assert (await e.snapshot()).status is Status.PARTIAL_OUTAGE


@pytest.mark.parametrize(
    ("up", "degraded", "down", "flagged", "status", "uptime"),
    [
        (0, 0, 0, 0, "no_data", None),
        (10, 0, 0, 0, "operational", 100.0),
        (9, 1, 0, 0, "degraded", 100.0),  # degraded still answered
        (95, 0, 5, 0, "partial_outage", 95.0),  # down in 5 %: partial
        (94, 0, 6, 0, "major_outage", 94.0),  # more than 5 %: major
        (0, 0, 1, 0, "major_outage", 0.0),
        (5, 0, 0, 1, "maintenance", 100.0),  # one check during maintenance marks the day
        # ...and dominates the failures. The rollup counts the check in maintenance,
        # not that it was up: one of the failures is taken as the planned one.
        (0, 0, 3, 1, "maintenance", 100 / 3),
    ],
)
async def test_history_cell(env, up, degraded, down, flagged, status, uptime) -> None:
    """``flagged``: extra up checks taken during maintenance."""
    day = NOW - dt.timedelta(days=3)
    async with env() as e:
        await e.results("a", [S.UP] * up + [S.DEGRADED] * degraded + [S.DOWN] * down, at=day)
        if flagged:
            later = day + dt.timedelta(hours=1)
            await e.results("a", [S.UP] * flagged, at=later, in_maintenance=True)
        snapshot = await e.snapshot()
    cell = snapshot.components[0].history[-4]
    assert cell.date == day.date()
    assert cell.status.value == status
    assert cell.uptime == (pytest.approx(uptime) if uptime is not None else None)
    assert cell.checks == up + degraded + down + flagged


@pytest.mark.parametrize(
    ("outside", "in_window", "status", "uptime"),
    [
        # (up, down) outside any window, (up, down) during maintenance
        ((10, 0), (0, 5), "maintenance", 100.0),  # planned failures do not count
        ((8, 2), (0, 5), "maintenance", 80.0),  # unplanned ones on the same day do
        ((0, 0), (0, 4), "maintenance", None),  # nothing counted: no uptime, not 100 %
        ((5, 0), (3, 2), "maintenance", 100.0),
        ((9, 1), (0, 0), "major_outage", 90.0),  # no maintenance: every failure counts
        # The rollups count checks in maintenance, not how they went: at most that
        # many failures are left out, so an up check in the window forgives one.
        ((0, 3), (1, 0), "maintenance", 100 / 3),
    ],
)
async def test_failures_during_maintenance_do_not_count_against_uptime(
    env, outside, in_window, status, uptime
) -> None:
    """Issue 10, point 17: the day is a maintenance cell, and its failures are planned."""
    day = NOW - dt.timedelta(days=2)
    async with env() as e:
        await e.results("a", [S.UP] * 10, at=day - dt.timedelta(days=1))  # a clean day before
        up, down = outside
        await e.results("a", [S.UP] * up + [S.DOWN] * down, at=day)
        up, down = in_window
        checks = [S.UP] * up + [S.DOWN] * down
        await e.results("a", checks, at=day + dt.timedelta(hours=1), in_maintenance=True)
        snapshot = await e.snapshot()
    website = snapshot.components[0]
    cell = website.history[-3]
    assert cell.date == day.date() and cell.status.value == status
    assert cell.checks == sum(outside) + sum(in_window)
    assert cell.uptime == (pytest.approx(uptime) if uptime is not None else None)
    # The component's uptime is the same rule over every day: here 10 clean checks more.
    counted = cell.checks - min(outside[1] + in_window[1], sum(in_window))
    answered = outside[0] + in_window[0]
    assert website.uptime == pytest.approx((answered + 10) / (counted + 10) * 100)


async def test_history_is_exactly_90_utc_days_ending_today(env) -> None:
    async with env() as e:
        e.clock.set(dt.datetime(2024, 6, 5, 23, 59, 30, tzinfo=dt.UTC))  # late: still the 5th
        await e.results("a", [S.UP, S.DOWN], at=dt.datetime(2024, 6, 5, 0, 0, tzinfo=dt.UTC))
        oldest = TODAY - dt.timedelta(days=HISTORY_DAYS - 1)
        await e.results("a", [S.UP] * 2, at=dt.datetime.combine(oldest, dt.time(23, 0), dt.UTC))
        # One day too old: outside the window, so neither a cell nor in the uptime.
        too_old = dt.datetime.combine(oldest - dt.timedelta(days=1), dt.time(12), dt.UTC)
        await e.results("a", [S.DOWN] * 50, at=too_old)
        snapshot = await e.snapshot()
    history = snapshot.components[0].history
    assert len(history) == HISTORY_DAYS and len(snapshot.history_days) == HISTORY_DAYS
    assert [c.date for c in history] == list(snapshot.history_days)
    assert history[0].date == oldest and history[-1].date == TODAY
    assert all(b.date - a.date == dt.timedelta(days=1) for a, b in itertools.pairwise(history))
    assert history[0].status is Status.OPERATIONAL and history[0].uptime == 100.0
    assert history[-1].status is Status.MAJOR_OUTAGE and history[-1].uptime == 50.0
    gaps = history[1:-1]
    assert all(c.status is Status.NO_DATA and c.uptime is None and c.checks == 0 for c in gaps)
    assert snapshot.components[0].uptime == pytest.approx(75.0)  # 3 of 4 checks answered
    # A component that never ran: all grey, no uptime (nothing fabricated).
    assert snapshot.components[1].uptime is None
    assert {c.status for c in snapshot.components[1].history} == {Status.NO_DATA}


async def test_history_comes_from_the_rollups_not_raw_results(env) -> None:
    async with env() as e:
        await e.results("a", [S.UP, S.DOWN], at=NOW - dt.timedelta(days=40))
        await prune_results(e.store, NOW - dt.timedelta(days=30))  # raw rows gone, rollups stay
        snapshot = await e.snapshot()
    cell = snapshot.components[0].history[-41]
    assert (cell.status, cell.uptime, cell.checks) == (Status.MAJOR_OUTAGE, 50.0, 2)


ORDERED = """
[[pages]]
slug = "main"
title = "Main"
[[pages.components]]
monitor = "a"
public_name = "Loose"
sort_order = -10
[[pages.components]]
monitor = "b"
public_name = "Zulu one"
public_group = "Zulu"
sort_order = 1
[[pages.components]]
monitor = "c"
public_name = "Beta two"
public_group = "Beta"
sort_order = 7
[[pages.components]]
monitor = "off"
public_name = "Beta one"
public_group = "Beta"
sort_order = 0
public_description = "The first"
[[pages]]
slug = "other"
title = "Other"
[[pages.components]]
monitor = "c"
public_name = "Storage"
public_group = "Zulu"
sort_order = 3
[[pages.components]]
monitor = "b"
public_name = "Gateway"
public_group = "Alpha"
sort_order = 3
[[pages.components]]
monitor = "a"
public_name = "Apex"
public_group = "Zulu"
sort_order = 3
"""


async def test_groups_and_order(env) -> None:
    async with env(ORDERED) as e:
        main, other = await e.snapshot("main"), await e.snapshot("other")
    # Groups by their smallest sort_order (Beta 0 < Zulu 1); ungrouped last despite -10.
    assert [(c.group, c.name) for c in main.components] == [
        ("Beta", "Beta one"),
        ("Beta", "Beta two"),
        ("Zulu", "Zulu one"),
        (None, "Loose"),
    ]
    assert [g for g, _ in main.groups()] == ["Beta", "Zulu", None]
    assert main.components[0].description == "The first"
    # Equal sort_order: the config's order, for groups and for their members.
    assert [(c.group, c.name) for c in other.components] == [
        ("Zulu", "Storage"),
        ("Zulu", "Apex"),
        ("Alpha", "Gateway"),
    ]


UNORDERED = """
[[pages]]
slug = "main"
title = "Main"
[[pages.components]]
monitor = "c"
public_name = "Zebra"
[[pages.components]]
monitor = "a"
public_name = "Mango"
public_group = "Yard"
[[pages.components]]
monitor = "off"
public_name = "Apple"
[[pages.components]]
monitor = "b"
public_name = "Banana"
public_group = "Barn"
"""


async def test_without_sort_order_components_keep_the_config_order(env) -> None:
    """Issue 10, point 20: no sort_order anywhere is the config's order, not the names'."""
    async with env(UNORDERED) as e:
        snapshot = await e.snapshot()
    assert [(c.group, c.name) for c in snapshot.components] == [
        ("Yard", "Mango"),  # groups in the order they first appear
        ("Barn", "Banana"),
        (None, "Zebra"),  # ungrouped last, in config order
        (None, "Apple"),
    ]


async def test_one_monitor_on_two_pages_under_two_names(env) -> None:
    async with env(ORDERED) as e:
        await e.results("b", DOWN)
        incident_id = await e.incident("b", started=NOW - dt.timedelta(hours=1), name="Beta box")
        main, other = await e.snapshot("main"), await e.snapshot("other")
    on_main, on_other = main.components[2], other.components[2]
    assert (on_main.name, on_other.name) == ("Zulu one", "Gateway")
    assert on_main.id != on_other.id  # a public id is per page and monitor
    # The automatic title uses each page's public name, never the monitor's own.
    assert [i.title for i in main.active_incidents] == ["Zulu one is down"]
    assert [i.title for i in other.active_incidents] == ["Gateway is down"]
    assert main.active_incidents[0].components == ("Zulu one",)
    assert main.active_incidents[0].id == incident_id
    assert "Beta box" not in repr((main, other))


async def test_public_ids_are_opaque_and_stable_across_restarts(env) -> None:
    async with env() as e:
        await e.results("a", DOWN)
        await e.tripped("a")
        first = await e.snapshot()
    # A new process: same file, fresh store and service; the latest status is read back.
    config = e.config
    async with build_store(config.database_location) as store:
        await provision_pages(store, config, NOW)
        service = PageService(config, store, clock=FakeClock(NOW))
        await service.refresh()
        again = await service.page_snapshot("main")
    assert again is not None
    assert [c.id for c in again.components] == [c.id for c in first.components]
    assert again.components[0].status is Status.MAJOR_OUTAGE
    # A keyed hash: nothing of the monitor (its id, name or target) can be read from it.
    assert all(re.fullmatch(r"c_[0-9a-f]{20}", c.id) for c in first.components)
    assert len({c.id for c in first.components}) == 3


@pytest.mark.parametrize(
    ("severity", "auto"), [("minor", "Website is degraded"), ("major", "Website is down")]
)
async def test_incident_auto_title(env, severity, auto) -> None:
    async with env() as e:
        await e.incident("a", started=NOW - dt.timedelta(minutes=5), severity=severity)
        snapshot = await e.snapshot()
    assert [i.title for i in snapshot.active_incidents] == [auto]
    assert snapshot.active_incidents[0].severity == severity


async def test_incidents_active_and_recent(env) -> None:
    async with env() as e:
        active = await e.incident("a", started=NOW - dt.timedelta(hours=2))
        recent = await e.incident(
            "b", started=NOW - dt.timedelta(days=13, hours=2), ended=NOW - dt.timedelta(days=13)
        )
        newer = await e.incident(
            "c", started=NOW - dt.timedelta(days=2), ended=NOW - dt.timedelta(days=1)
        )
        old = await e.incident(
            "c", started=NOW - dt.timedelta(days=16), ended=NOW - dt.timedelta(days=15)
        )
        await e.incident("off", started=NOW - dt.timedelta(hours=1))  # on no page
        operator_clock = FakeClock(NOW)
        operator = IncidentService(e.store, clock=operator_clock)
        await operator.narrate(
            recent, {"public_title": "API <slow>", "public_description": "We saw it"}
        )
        await operator.narrate(active, {"severity": "critical"})
        for phase, message, minutes in [
            ("investigating", "Looking", 90),
            ("identified", "Found it", 60),
        ]:
            operator_clock.set(NOW - dt.timedelta(minutes=minutes))
            await operator.add_update(
                active, phase=phase, message=message, created_by="secret-token-name"
            )
        snapshot = await e.snapshot()
        incident_page = await e.service.incident_page(old, "main")
    assert [i.id for i in snapshot.active_incidents] == [active]
    assert [i.id for i in snapshot.recent_incidents] == [newer, recent]  # newest first
    first = snapshot.active_incidents[0]
    assert (first.title, first.severity, first.status) == ("Website is down", "critical", "active")
    assert [u.message for u in first.updates] == ["Found it", "Looking"]
    assert first.latest_update is not None and first.latest_update.phase == "identified"
    assert first.permalink == f"https://status.example.org/status/incidents/{active}"
    second = snapshot.recent_incidents[1]
    assert (second.title, second.description, second.status) == ("API <slow>", "We saw it", "ended")
    assert second.ended_at == NOW - dt.timedelta(days=13) and second.latest_update is None
    assert "secret-token-name" not in repr(snapshot)
    # Older than 14 days: off the page, but its permalink still works.
    assert incident_page is not None and incident_page.incident.id == old


async def test_incident_page_is_built_for_the_page_it_is_reached_on(env) -> None:
    """Issue 10, point 11: the page's own names and links; not there, not shown."""
    pages = ORDERED.replace(
        'slug = "other"\ntitle = "Other"', 'slug = "other"\ntitle = "Other"\ndefault = true'
    )
    async with env(pages) as e:
        on_both = await e.incident("b", started=NOW - dt.timedelta(hours=1))
        only_main = await e.incident("off", started=NOW - dt.timedelta(hours=1))
        on_other = await e.service.incident_page(on_both, "other")
        on_main = await e.service.incident_page(on_both, "main")
        main_only = await e.service.incident_page(only_main, "main")
        not_there = await e.service.incident_page(only_main, "other")
        missing = await e.service.incident_page(10_000, "main")
        no_page = await e.service.incident_page(on_both, "nope")
        homes = [await e.service.incident_home(i) for i in (on_both, only_main, 10_000)]
    assert on_other is not None and on_main is not None and main_only is not None
    assert not_there is None and missing is None and no_page is None
    # The same incident on two pages: each page's title, name and links.
    assert (on_other.page_slug, on_other.page_title) == ("other", "Other")
    assert on_other.incident.title == "Gateway is down"
    assert on_other.incident.components == ("Gateway",)
    assert on_other.page_url == "http://127.0.0.1:8080/status"  # the default page
    assert on_other.incident.permalink == f"http://127.0.0.1:8080/status/incidents/{on_both}"
    assert (on_main.page_slug, on_main.page_title) == ("main", "Main")
    assert (on_main.incident.title, on_main.incident.components) == (
        "Zulu one is down",
        ("Zulu one",),
    )
    assert on_main.page_url == "http://127.0.0.1:8080/status/pages/main"
    assert on_main.incident.permalink == (
        f"http://127.0.0.1:8080/status/pages/main/incidents/{on_both}"
    )
    assert main_only.incident.title == "Beta one is down"
    # Where a permalink's page cannot be told: the default page first.
    assert homes == ["other", "main", None]


HOSTED = """
[server]
public_base_url = "http://127.0.0.1:8080/up/"
[[pages]]
slug = "main"
title = "Main"
[[pages.components]]
monitor = "a"
public_name = "Public API"
[[pages]]
slug = "ops"
title = "Ops"
hostname = "Ops.Example.test"
[[pages.components]]
monitor = "a"
public_name = "Renamed API"
"""


async def test_a_page_with_a_hostname_links_to_its_own_origin(env) -> None:
    """Issue 10, point 11: the JSON and RSS of a page link to that page's origin."""
    async with env(HOSTED) as e:
        incident_id = await e.tripped("a")
        main, ops = await e.snapshot("main"), await e.snapshot("ops")
        permalink = await e.service.incident_page(incident_id, "ops")
    assert (main.base_url, main.page_url) == (
        "http://127.0.0.1:8080/up",
        "http://127.0.0.1:8080/up/status",
    )
    # The same server by another name: the base URL's scheme, port and path.
    assert (ops.base_url, ops.page_url) == (
        "http://ops.example.test:8080/up",
        "http://ops.example.test:8080/up/status",
    )
    (incident,) = ops.active_incidents
    assert incident.permalink == f"http://ops.example.test:8080/up/status/incidents/{incident_id}"
    assert incident.title == "Renamed API is down"
    assert main.active_incidents[0].permalink == (
        f"http://127.0.0.1:8080/up/status/incidents/{incident_id}"
    )
    assert permalink is not None and permalink.page_url == ops.page_url
    assert permalink.incident.permalink == incident.permalink


async def test_a_long_timeline_is_shown_a_part_at_a_time(env) -> None:
    """Issue 10, point 21: the newest PERMALINK_UPDATES, then ?before=<n> for older ones."""
    async with env() as e:
        incident_id = await e.tripped("a")
        operator = IncidentService(e.store, clock=e.clock)
        for n in range(1, 121):
            await operator.add_update(
                incident_id, phase="monitoring", message=f"update {n}", created_by="ops"
            )
        newest = await e.service.incident_page(incident_id, "main")
        middle = await e.service.incident_page(incident_id, "main", before=71)
        oldest = await e.service.incident_page(incident_id, "main", before=21)
        edge = await e.service.incident_page(incident_id, "main", before=120)
        out_of_range = [
            await e.service.incident_page(incident_id, "main", before=b) for b in (0, 1, 121)
        ]
        snapshot = await e.snapshot()
    link = f"https://status.example.org/status/incidents/{incident_id}"

    def numbers(page: object) -> list[int]:
        return [int(u.message.split()[1]) for u in page.incident.updates]  # type: ignore[attr-defined]

    assert newest is not None and middle is not None and oldest is not None and edge is not None
    assert numbers(newest) == list(range(120, 70, -1))
    assert (newest.update_count, newest.newest_shown) == (120, 120)
    assert (newest.older_url, newest.newer_url) == (f"{link}?before=71", None)
    assert numbers(middle) == list(range(70, 20, -1))
    assert (middle.older_url, middle.newer_url) == (f"{link}?before=21", link)
    assert numbers(oldest) == list(range(20, 0, -1))
    assert (oldest.older_url, oldest.newer_url) == (None, f"{link}?before=71")
    assert numbers(edge) == list(range(119, 69, -1))
    assert (edge.older_url, edge.newer_url) == (f"{link}?before=70", link)
    assert out_of_range == [None, None, None]
    # The latest update is the incident's, whichever part is shown.
    assert oldest.incident.latest_update == newest.incident.updates[0]
    # The page itself keeps the whole timeline (for renderers that want it).
    assert len(snapshot.active_incidents[0].updates) == 120


async def test_incident_of_a_monitor_on_no_page_has_no_permalink(env) -> None:
    async with env() as e:
        hidden = await e.incident("off", started=NOW - dt.timedelta(hours=1))
        assert await e.service.incident_page(hidden, "main") is None
        assert await e.service.incident_home(hidden) is None
        assert not (await e.snapshot()).active_incidents


async def test_maintenance_on_the_page(env) -> None:
    async with env() as e:
        hour = dt.timedelta(hours=1)
        active = await e.window(("off", "a"), NOW - hour, title="Now")
        soon = await e.window(("b",), NOW + dt.timedelta(days=3), title="Soon")
        later = await e.window(("c",), NOW + dt.timedelta(days=8), title="Later")
        await e.window(("off",), NOW - hour, title="Elsewhere")  # touches no component here
        done = await e.window(("c",), NOW - dt.timedelta(days=2), title="Done")
        cancelled = await e.window(("a", "b"), NOW + dt.timedelta(days=1), title="Off")
        await e.maintenance.cancel(cancelled)
        snapshot = await e.snapshot()
    assert [(w.id, w.status, w.components) for w in snapshot.active_maintenance] == [
        (active, "active", ("Website",))  # only this page's names
    ]
    assert [w.id for w in snapshot.upcoming_maintenance] == [soon]  # within 7 days only
    assert [(w.id, w.status) for w in snapshot.recent_maintenance] == [
        (later, "scheduled"),
        (soon, "scheduled"),
        (cancelled, "cancelled"),
        (active, "active"),
        (done, "completed"),
    ]
    assert snapshot.status is Status.MAINTENANCE
    assert snapshot.components[0].status is Status.MAINTENANCE
    assert "Elsewhere" not in repr(snapshot)


async def test_a_window_completed_early_says_when_it_really_ended(env) -> None:
    """Issue 10, point 13: ``completed_at``, not the planned end, once it is over."""
    async with env() as e:
        early = await e.window(("a",), NOW - dt.timedelta(minutes=11), hours=0.5, title="Early")
        on_time = await e.window(("b",), NOW - dt.timedelta(hours=3), hours=1, title="On time")
        lagging = await e.window(("c",), NOW - dt.timedelta(hours=2), hours=1.5, title="Lag")
        e.clock.set(NOW - dt.timedelta(minutes=1))
        await e.maintenance.complete(early)  # the work finished 19 minutes before the plan
        running = await e.window(("a",), NOW - dt.timedelta(minutes=5), title="Running")
        cancelled = await e.window(("b",), NOW + dt.timedelta(days=1), title="Off")
        await e.maintenance.cancel(cancelled)
        e.clock.set(NOW)
        snapshot = await e.snapshot()
    ended = {w.id: (w.status, w.completed_at) for w in snapshot.recent_maintenance}
    windows = {w.id: w for w in snapshot.recent_maintenance}
    assert ended[early] == ("completed", NOW - dt.timedelta(minutes=1))
    assert windows[early].ends_at == NOW + dt.timedelta(minutes=19)  # the plan stays
    assert ended[on_time] == ("completed", NOW - dt.timedelta(hours=2))
    # Past its end by the clock, though the stored status may not have caught up.
    assert ended[lagging] == ("completed", NOW - dt.timedelta(minutes=30))
    assert ended[running] == ("active", None)
    assert ended[cancelled] == ("cancelled", None)


async def test_recent_maintenance_is_the_50_newest(env) -> None:
    async with env() as e:
        ids = [
            await e.window(("a",), NOW - dt.timedelta(days=60 - i), title=f"W{i}")
            for i in range(55)
        ]
        snapshot = await e.snapshot()
    recent = snapshot.recent_maintenance
    assert [w.id for w in recent] == ids[::-1][:50]
    assert all(a.starts_at > b.starts_at for a, b in itertools.pairwise(recent))


async def test_page_and_urls(env) -> None:
    async with env() as e:
        snapshot = await e.snapshot()
        assert snapshot.generated_at == NOW
        assert (snapshot.slug, snapshot.title) == ("main", "Main")
        assert snapshot.base_url == "https://status.example.org"
        assert snapshot.page_url == "https://status.example.org/status"  # the default page
        assert await e.service.page_snapshot("nope") is None


@pytest.mark.parametrize(
    ("slug", "host", "expected"),
    [
        (None, None, "main"),
        (None, "status.example.org", "main"),
        (None, "STATUS.example.ORG:8443", "main"),
        (None, "other.example.org", "main"),  # no match: the default page
        ("main", "anything", "main"),
        ("nope", None, None),
    ],
)
async def test_resolve(env, slug, host, expected) -> None:
    async with env() as e:
        assert e.service.resolve(slug, host) == expected


def test_host_name() -> None:
    assert host_name("Status.Example.com:443") == "status.example.com"
    assert host_name("status.example.com") == "status.example.com"
    assert host_name("[::1]:8080") == "[::1]"


async def test_no_secret_reaches_the_snapshot(env) -> None:
    async with env() as e:
        for monitor_id in "abc":
            await e.results(monitor_id, [S.DOWN, S.DEGRADED])
        await e.incident("a", started=NOW - dt.timedelta(hours=1))
        await e.window(("b",), NOW - dt.timedelta(minutes=5))
        snapshot = await e.snapshot()
        incident_page = await e.service.incident_page(snapshot.active_incidents[0].id, "main")
    text = repr((snapshot, incident_page))
    assert CANARY not in text
    for name in ("Alpha box", "Beta box", "Gamma box", "127.0.0.1:9"):
        assert name not in text


async def test_a_day_a_window_overlapped_is_a_maintenance_cell(env) -> None:
    """Even when no check fell inside the window (a short one, an hourly monitor)."""
    day = (NOW - dt.timedelta(days=2)).replace(hour=6, minute=0, second=0, microsecond=0)
    async with env() as e:
        await e.results("a", [S.DOWN, S.UP], at=day)  # checks before the window
        await e.results("a", [S.UP], at=day + dt.timedelta(days=1))  # the next day
        e.clock.set(day)  # the windows are scheduled ahead, then time passes
        await e.window(("a",), day + dt.timedelta(hours=2), hours=0.1)  # 6 minutes, no check
        await e.window(("b",), day + dt.timedelta(hours=2), hours=0.1)  # another monitor
        cancelled = await e.window(("a",), day + dt.timedelta(days=1), hours=1)
        await e.maintenance.cancel(cancelled)
        e.clock.set(NOW)
        snapshot = await e.snapshot()
    history = {c.name: c.history for c in snapshot.components}
    cells = [c for c in history["Website"] if c.checks]
    assert [(c.date, c.status.value) for c in cells] == [
        (day.date(), "maintenance"),  # the window overlapped it
        ((day + dt.timedelta(days=1)).date(), "operational"),  # cancelled windows do not count
    ]
    assert cells[0].uptime == pytest.approx(50.0)  # counts still come from the rollups
