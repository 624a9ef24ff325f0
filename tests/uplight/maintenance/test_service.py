"""[[maintenance]] in the config, and recurring windows materialised by the service."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from uplight.clock import FakeClock
from uplight.config import Config, ConfigError, parse_config
from uplight.maintenance.models import StoredWindow
from uplight.maintenance.recurring import MATERIALISE_AHEAD
from uplight.maintenance.service import MaintenanceService
from uplight.maintenance.store import list_windows
from uplight.plugins import PluginRegistry
from uplight.schema import build_store

MONITORS = """
[[monitors]]
id = "web"
name = "Web"
type = "http"
url = "http://127.0.0.1:9/"
interval = "1h"
timeout = "1s"
[[monitors]]
id = "db"
name = "Database"
type = "http"
url = "http://127.0.0.1:9/"
interval = "1h"
timeout = "1s"
"""

WEEKLY = """
[[maintenance]]
id = "backups"
title = "Weekly backups"
description = "Snapshots are taken"
severity = "warning"
components = ["web", "db"]
duration = "2h"
weekly = { days = ["sun"], at = "03:00" }
"""

WEDNESDAY = dt.datetime(2024, 6, 5, 12, tzinfo=dt.UTC)  # the next Sunday is June 9th


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def errors_of(text: str, registry: PluginRegistry) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(MONITORS + text, registry.check_types)
    return [str(issue) for issue in info.value.issues]


Running = Callable[[Config, FakeClock], AbstractAsyncContextManager[MaintenanceService]]


@pytest.fixture
def running(db_location: Path | str) -> Running:
    """The service on the test's database (SQLite, then PostgreSQL), started; each use
    is a restart on the same database."""

    @asynccontextmanager
    async def run(config: Config, clock: FakeClock) -> AsyncIterator[MaintenanceService]:
        async with build_store(db_location) as store:
            service = MaintenanceService(store, config, clock)
            await service.start()
            try:
                yield service
            finally:
                await service.stop()

    return run


async def windows(service: MaintenanceService) -> list[StoredWindow]:
    """Every window, oldest start first."""
    return list(reversed(await list_windows(service.store, limit=1000)))


def test_maintenance_entries_parse(make_config: Callable[[str], Config]) -> None:
    config = make_config(
        MONITORS
        + WEEKLY
        + """
[[maintenance]]
id = "patching"
title = "Patch night"
duration = "90m"
cron = "30 1 1-7 * tue"
timezone = "Europe/Berlin"
"""
    )
    weekly, cron = config.maintenance
    assert weekly.id == "backups" and weekly.duration == 7200
    assert weekly.components == ("web", "db") and weekly.severity == "warning"
    assert weekly.timezone == "UTC" and weekly.schedule.weekdays == {0}
    assert cron.severity == "info" and cron.components == () and cron.description is None
    assert cron.schedule.hours == {1} and cron.schedule.minutes == {30}


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            'weekly = { days = ["sun"], at = "03:00" }\ncron = "0 3 * * 0"',
            "maintenance[0]: give exactly one schedule",
        ),
        ("", "maintenance[0]: give exactly one schedule"),
        ('cron = "0 3 * *"', "maintenance[0].cron: cron '0 3 * *' must have 5 fields"),
        ('cron = "0 25 * * *"', "maintenance[0].cron: cron hour: 25 is outside 0-23"),
        ('weekly = { days = ["sun", "fun"], at = "03:00" }', "maintenance[0].weekly.days: 'fun'"),
        ('weekly = { days = [], at = "03:00" }', "maintenance[0].weekly.days"),
        ('weekly = { days = ["mon"], at = "3am" }', "maintenance[0].weekly.at: '3am' is not a"),
        ('weekly = { days = ["mon"] }', "maintenance[0].weekly.at: required key is missing"),
        (
            'weekly = { days = ["mon"], at = "03:00", hour = 3 }',
            "maintenance[0].weekly.hour: unknown key 'hour'",
        ),
        (
            'cron = "@daily"\ntimezone = "Europe/Berln"',
            "maintenance[0].timezone: unknown time zone 'Europe/Berln'",
        ),
    ],
)
def test_schedule_errors_name_their_path(
    entry: str, expected: str, registry: PluginRegistry
) -> None:
    text = f'[[maintenance]]\nid = "m"\ntitle = "M"\nduration = "1h"\n{entry}\n'
    issues = errors_of(text, registry)
    assert any(issue.startswith(expected) for issue in issues), issues


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ('duration = "31d"', "maintenance[0].duration: must be between 1m and 30d, not 31d"),
        ('duration = "30s"', "maintenance[0].duration: must be between 1m and 30d"),
        ('duration = "soon"', "maintenance[0].duration: invalid duration 'soon'"),
        ('components = ["web", "dbb"]', "maintenance[0].components[1]: no monitor has id 'dbb'"),
        ('components = ["web", "web"]', "maintenance[0].components[1]: monitor 'web' is already"),
        ('severity = "major"', "maintenance[0].severity: Input should be 'info'"),
        ('id = "Bad_Id"', "maintenance[0].id: 'Bad_Id' is not a valid id"),
        ('title = "   "', "maintenance[0].title: must not be empty"),
        (f'title = "{"t" * 201}"', "maintenance[0].title: must be at most 200 characters"),
        (f'description = "{"d" * 5001}"', "maintenance[0].description: must be at most 5000"),
        ('titel = "x"', "maintenance[0].titel: unknown key 'titel' (did you mean 'title'?)"),
    ],
)
def test_entry_errors_name_their_path(change: str, expected: str, registry) -> None:
    base = {
        "id": 'id = "m"',
        "title": 'title = "M"',
        "duration": 'duration = "1h"',
        "cron": 'cron = "@weekly"',
    }
    key = change.split(" = ")[0]
    lines = [line for name, line in base.items() if name != key] + [change]
    issues = errors_of("[[maintenance]]\n" + "\n".join(lines) + "\n", registry)
    assert any(issue.startswith(expected) for issue in issues), issues
    if "dbb" in change:
        assert "did you mean 'db'" in issues[0]


def test_duplicate_entry_ids_and_missing_keys(registry: PluginRegistry) -> None:
    entry = '[[maintenance]]\nid = "m"\ntitle = "M"\nduration = "1h"\ncron = "@daily"\n'
    issues = errors_of(entry + entry, registry)
    assert issues == ["maintenance[1].id: duplicate id 'm' (first used by maintenance[0])"]
    issues = errors_of(entry + "[[maintenance]]\nid = 'x'\ncron = '@daily'\n", registry)
    assert issues == [
        "maintenance[1].title: required key is missing",
        "maintenance[1].duration: required key is missing",
    ]


async def test_occurrences_are_materialised_once(make_config, running: Running) -> None:
    config = make_config(MONITORS + WEEKLY)
    clock = FakeClock(WEDNESDAY)
    async with running(config, clock) as service:
        found = await windows(service)
        assert [w.starts_at for w in found] == [utc(2024, 6, 9, 3), utc(2024, 6, 16, 3)]
        first = found[0]
        assert first.ends_at == utc(2024, 6, 9, 5)
        assert (first.title, first.description, first.severity) == (
            "Weekly backups",
            "Snapshots are taken",
            "warning",
        )
        assert first.component_ids == ("web", "db")
        assert (first.source, first.created_by, first.config_id) == ("config", "config", "backups")
        assert first.status == "scheduled"
        await service.tick()
        await service.tick()
        assert len(await windows(service)) == 2
    async with running(config, clock) as service:  # a restart adds nothing
        assert len(await windows(service)) == 2
        clock.advance(days=7)
        await service.tick()
        found = await windows(service)
        assert [w.starts_at for w in found][-1] == utc(2024, 6, 23, 3)
        assert [w.status for w in found] == ["completed", "scheduled", "scheduled"]
        assert found[0].completed_at == utc(2024, 6, 9, 5)
        assert all(w.starts_at < clock.now() + MATERIALISE_AHEAD for w in found)


async def test_a_running_occurrence_is_active_at_start(make_config, running: Running) -> None:
    config = make_config(MONITORS + WEEKLY)
    clock = FakeClock(utc(2024, 6, 9, 4))
    async with running(config, clock) as service:
        found = await windows(service)
        assert found[0].starts_at == utc(2024, 6, 9, 3) and found[0].status == "active"
        assert service.is_active("web") and service.is_active("db")
        assert [w.id for w in service.active_windows()] == [found[0].id]
        clock.set(utc(2024, 6, 9, 5))
        assert not service.is_active("web")  # at ends_at it is over, even before a tick
        await service.tick()
        assert (await windows(service))[0].status == "completed"


async def test_cancel_skips_an_occurrence_and_purge_brings_it_back(
    make_config, running: Running
) -> None:
    config = make_config(MONITORS + WEEKLY)
    clock = FakeClock(WEDNESDAY)
    async with running(config, clock) as service:
        first, second = await windows(service)
        await service.cancel(first.id)
        await service.purge(second.id)
        await service.tick()
        found = await windows(service)
        assert [(w.starts_at, w.status) for w in found] == [
            (utc(2024, 6, 9, 3), "cancelled"),
            (utc(2024, 6, 16, 3), "scheduled"),
        ]
        assert found[1].id > second.id  # made again, under a new id
    async with running(config, clock) as service:
        assert len(await windows(service)) == 2  # the cancelled one is not made again


async def test_a_changed_entry_replaces_its_future_windows(make_config, running: Running) -> None:
    clock = FakeClock(utc(2024, 6, 9, 4))  # the first occurrence is running
    async with running(make_config(MONITORS + WEEKLY), clock) as service:
        running_id = (await windows(service))[0].id
    changed = WEEKLY.replace('at = "03:00"', 'at = "04:30"').replace('"2h"', '"1h"')
    async with running(make_config(MONITORS + changed), clock) as service:
        found = await windows(service)
        # The started one stays as it was; today's new occurrence would overlap it.
        assert [(w.id == running_id, w.starts_at, w.status) for w in found] == [
            (True, utc(2024, 6, 9, 3), "active"),
            (False, utc(2024, 6, 16, 4, 30), "scheduled"),
        ]
        assert found[1].ends_at == utc(2024, 6, 16, 5, 30)
    async with running(make_config(MONITORS), clock) as service:  # the entry is gone
        assert [w.id for w in await windows(service)] == [running_id]


async def test_an_edited_config_window_is_left_alone(make_config, running: Running) -> None:
    config = make_config(MONITORS + WEEKLY)
    clock = FakeClock(WEDNESDAY)
    async with running(config, clock) as service:
        first = (await windows(service))[0]
        await service.update(first.id, {"title": "Backups, longer this time"})
    async with running(config, clock) as service:
        found = await windows(service)
        assert len(found) == 2 and found[0].title == "Backups, longer this time"


async def test_overlapping_occurrences_are_skipped(make_config, running: Running) -> None:
    entry = """
[[maintenance]]
id = "churn"
title = "Churn"
components = ["web"]
duration = "50m"
cron = "*/20 * * * *"
"""
    clock = FakeClock(utc(2024, 6, 5, 0, 5))
    async with running(make_config(MONITORS + entry), clock) as service:
        found = await windows(service)
        for earlier, later in itertools.pairwise(found):
            assert later.starts_at >= earlier.ends_at
        # 23:20 is still running at 00:05; the next occurrence that fits after it is 00:20.
        assert [w.starts_at for w in found[:3]] == [
            utc(2024, 6, 4, 23, 20),
            utc(2024, 6, 5, 0, 20),
            utc(2024, 6, 5, 1, 20),
        ]
        count = len(found)
        clock.advance(hours=1)
        await service.tick()
        assert len(await windows(service)) >= count  # the horizon moves on, nothing doubles


def test_the_commented_example_in_config_example_is_valid(registry: PluginRegistry) -> None:
    text = (Path(__file__).parents[3] / "config.example.toml").read_text()
    head, _, tail = text.partition("# [[maintenance]]")
    uncommented = "[[maintenance]]" + "\n".join(
        line.removeprefix("# ") if line.startswith("# ") and " = " in line else line
        for line in tail.splitlines()
    ).replace("# [[maintenance]]", "[[maintenance]]")
    config = parse_config(head + uncommented, registry.check_types)
    assert [m.id for m in config.maintenance] == ["weekly-backups", "monthly-patching"]
    assert config.maintenance[0].timezone == "Europe/Berlin"
