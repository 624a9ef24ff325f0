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

import pytest

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
def env(make_config: Callable[[str], Config]) -> Callable[..., AsyncIterator[Env]]:
    @asynccontextmanager
    async def make(pages: str = MAIN) -> AsyncIterator[Env]:
        config = make_config(MONITORS + pages)
        clock = FakeClock(NOW)
        async with build_store(config.database_path) as store:
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
        (0, 0, 3, 1, "maintenance", 25.0),  # and dominates the failures
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
    # Equal sort_order: groups by name, members by name.
    assert [(c.group, c.name) for c in other.components] == [
        ("Alpha", "Gateway"),
        ("Zulu", "Apex"),
        ("Zulu", "Storage"),
    ]


async def test_one_monitor_on_two_pages_under_two_names(env) -> None:
    async with env(ORDERED) as e:
        await e.results("b", DOWN)
        incident_id = await e.incident("b", started=NOW - dt.timedelta(hours=1), name="Beta box")
        main, other = await e.snapshot("main"), await e.snapshot("other")
    on_main, on_other = main.components[2], other.components[0]
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
    async with build_store(config.database_path) as store:
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
        incident_page = await e.service.incident_page(old)
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


async def test_incident_page(env) -> None:
    pages = ORDERED.replace(
        'slug = "other"\ntitle = "Other"', 'slug = "other"\ntitle = "Other"\ndefault = true'
    )
    async with env(pages) as e:
        on_both = await e.incident("b", started=NOW - dt.timedelta(hours=1))
        only_main = await e.incident("off", started=NOW - dt.timedelta(hours=1))
        got = await e.service.incident_page(on_both)
        main_only = await e.service.incident_page(only_main)
        missing = await e.service.incident_page(10_000)
    assert got is not None and main_only is not None and missing is None
    # On both pages: built on the default page, with that page's name.
    assert (got.page_slug, got.incident.title) == ("other", "Gateway is down")
    assert got.page_url == "http://127.0.0.1:8080/status"
    assert (main_only.page_slug, main_only.incident.title) == ("main", "Beta one is down")
    assert main_only.page_url == "http://127.0.0.1:8080/status/pages/main"


async def test_incident_of_a_monitor_on_no_page_has_no_permalink(env) -> None:
    async with env() as e:
        hidden = await e.incident("off", started=NOW - dt.timedelta(hours=1))
        assert await e.service.incident_page(hidden) is None
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
        incident_page = await e.service.incident_page(snapshot.active_incidents[0].id)
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
