"""The incident engine with synthetic results and a real SQLite store."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiosqlite
import pytest
from pydantic import BaseModel, SecretStr

from uplight.clock import FakeClock
from uplight.config import MonitorConfig
from uplight.db.store import Store
from uplight.incidents import store as db_incidents
from uplight.incidents.engine import IncidentEngine, IncidentEvent
from uplight.incidents.models import Incident, auto_title
from uplight.incidents.service import IncidentService
from uplight.models import CheckResult, ResultRecord
from uplight.schema import build_store

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def monitor(
    monitor_id: str = "web", failure: int = 1, recovery: int = 1, name: str = "Web server"
) -> MonitorConfig:
    return MonitorConfig(
        id=monitor_id,
        name=name,
        type="http",
        failure_threshold=failure,
        recovery_threshold=recovery,
    )


class Feed:
    """Feeds results one minute apart and remembers what the listeners saw."""

    def __init__(self, engine: IncidentEngine, mon: MonitorConfig) -> None:
        self.engine = engine
        self.monitor = mon
        self.at = T0
        self.events: list[IncidentEvent] = []

        async def remember(db: aiosqlite.Connection, event: IncidentEvent) -> None:
            self.events.append(event)

        engine.transition_listeners.append(remember)

    async def __call__(self, *statuses: str, in_maintenance: bool = False) -> dt.datetime:
        for status in statuses:
            self.at += dt.timedelta(minutes=1)
            result = {
                "up": CheckResult.up("ok"),
                "degraded": CheckResult.degraded("slow"),
                "down": CheckResult.down("refused"),
            }[status]
            record = ResultRecord(self.monitor.id, self.at, result, in_maintenance=in_maintenance)
            await self.engine.observe(self.monitor, record)
        return self.at

    @property
    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


@pytest.fixture
async def store(db_location: Path | str) -> AsyncIterator[Store]:
    async with build_store(db_location) as store:
        yield store


@pytest.fixture
def make_engine(store: Store) -> Callable[..., tuple[IncidentEngine, Feed]]:
    def make(mon: MonitorConfig) -> tuple[IncidentEngine, Feed]:
        engine = IncidentEngine(store, [mon], clock=FakeClock(T0))
        return engine, Feed(engine, mon)

    return make


async def all_incidents(store: Store) -> list[Incident]:
    return await db_incidents.list_incidents(store, limit=100)


async def test_threshold_one_opens_major_and_one_up_ends(store: Store, make_engine) -> None:
    engine, feed = make_engine(monitor(failure=1, recovery=1))
    down_at = await feed("down")
    [incident] = await all_incidents(store)
    assert incident.active and incident.severity == "major"
    assert incident.started_at == down_at
    assert incident.monitor_name == "Web server"
    assert auto_title(incident.monitor_name, incident.auto_severity) == "Web server is down"
    tracker = engine.tracker("web")
    assert tracker.active_incident == incident.id and tracker.consecutive_failures == 1

    await feed("down", "down")
    assert len(await all_incidents(store)) == 1  # still the same one
    up_at = await feed("up")
    [ended] = await all_incidents(store)
    assert ended.id == incident.id and ended.ended_at == up_at
    assert engine.tracker("web").active_incident is None
    assert feed.kinds == ["opened", "ended"]
    assert feed.events[1].downtime_seconds == (up_at - down_at).total_seconds()


async def test_threshold_three_needs_a_consecutive_run(store: Store, make_engine) -> None:
    engine, feed = make_engine(monitor(failure=3))
    await feed("down", "down", "up", "down", "down")
    assert await all_incidents(store) == []
    assert engine.tracker("web").consecutive_failures == 2
    first_of_run = feed.at - dt.timedelta(minutes=1)
    await feed("down")
    [incident] = await all_incidents(store)
    # The outage began with the run's first bad result, not the one that tripped it.
    assert incident.started_at == first_of_run
    assert feed.events[0].at == feed.at


async def test_degraded_opens_minor_and_down_raises_it(store: Store, make_engine) -> None:
    _, feed = make_engine(monitor(failure=2))
    await feed("degraded", "degraded")
    [incident] = await all_incidents(store)
    assert incident.severity == "minor"
    assert auto_title(incident.monitor_name, incident.auto_severity) == "Web server is degraded"
    await feed("down")
    [raised] = await all_incidents(store)
    assert raised.severity == "major"
    assert feed.kinds == ["opened", "severity_changed"]
    change = feed.events[1]
    assert (change.previous_severity, change.severity) == ("minor", "major")
    await feed("degraded", "degraded")
    assert (await all_incidents(store))[0].severity == "major"  # never lowered by the engine
    assert feed.kinds == ["opened", "severity_changed"]


async def test_a_run_with_a_down_opens_major(store: Store, make_engine) -> None:
    _, feed = make_engine(monitor(failure=3))
    await feed("degraded", "down", "degraded")
    [incident] = await all_incidents(store)
    assert incident.severity == "major"


async def test_worsening_drops_a_lower_override_but_keeps_critical(
    store: Store, make_engine
) -> None:
    _, feed = make_engine(monitor(failure=1))
    await feed("degraded")
    [incident] = await all_incidents(store)
    operator = IncidentService(store, clock=FakeClock(T0))
    await operator.narrate(incident.id, {"severity": "minor"})
    await feed("down")
    raised = await db_incidents.get_incident(store, incident.id)
    assert raised is not None and raised.severity == "major" and raised.severity_override is None

    await feed("up", "degraded")
    [second, _] = await all_incidents(store)
    await operator.narrate(second.id, {"severity": "critical"})
    await feed("down")
    kept = await db_incidents.get_incident(store, second.id)
    assert kept is not None and kept.severity == "critical" and kept.auto_severity == "major"
    assert feed.kinds.count("severity_changed") == 1  # critical → critical is no change


async def test_recovery_threshold(store: Store, make_engine) -> None:
    engine, feed = make_engine(monitor(failure=1, recovery=3))
    await feed("down", "up", "up", "down", "up", "up")
    [incident] = await all_incidents(store)
    assert incident.active
    assert engine.tracker("web").consecutive_successes == 2
    third_up = await feed("up")
    [ended] = await all_incidents(store)
    assert ended.ended_at == third_up


async def test_maintenance_results_open_nothing(store: Store, make_engine) -> None:
    engine, feed = make_engine(monitor(failure=2))
    await feed("down", "down", "down", in_maintenance=True)
    assert await all_incidents(store) == []
    # A run broken by maintenance does not carry over.
    await feed("down")
    await feed("down", in_maintenance=True)
    await feed("down")
    assert await all_incidents(store) == []
    assert engine.tracker("web").consecutive_failures == 1
    await feed("down")
    assert len(await all_incidents(store)) == 1


async def test_incident_open_when_maintenance_starts_stays_open(store: Store, make_engine) -> None:
    _, feed = make_engine(monitor(failure=1, recovery=2))
    await feed("degraded")
    await feed("down", "down", in_maintenance=True)
    [incident] = await all_incidents(store)
    assert incident.active and incident.severity == "minor"  # maintenance never worsens
    await feed("up", "down", "up", in_maintenance=True)
    assert (await all_incidents(store))[0].active
    await feed("up", in_maintenance=True)
    assert not (await all_incidents(store))[0].active  # up during maintenance recovers


async def test_every_monitor_opens_incidents_unless_it_opts_out(store: Store, make_engine) -> None:
    # No page is asked: where an incident is public is the page service's business.
    _, feed = make_engine(monitor(failure=1))
    await feed("down")
    assert [i.monitor_id for i in await all_incidents(store)] == ["web"]

    quiet = MonitorConfig(id="info", name="Info", type="http", failure_threshold=1, incidents=False)
    engine, quiet_feed = make_engine(quiet)
    await quiet_feed("down", "degraded", "down")
    assert [i.monitor_id for i in await all_incidents(store)] == ["web"]
    assert quiet_feed.events == []
    assert engine.tracker("info").consecutive_failures == 3  # still counted for the dashboard


class SecretOptions(BaseModel):
    url: str = "http://probe:url-password-9f1@nas.home.arpa/"
    headers: dict[str, SecretStr] = {"Authorization": SecretStr("Bearer tok-51c8e2")}


def secret_monitor(failure: int = 1) -> MonitorConfig:
    return MonitorConfig(
        id="nas",
        name="NAS",
        type="http",
        failure_threshold=failure,
        options=SecretOptions(),
    )


LEAKY = CheckResult.down(
    "GET http://probe:url-password-9f1@nas.home.arpa/ sent Bearer tok-51c8e2:\n  503 Unavailable",
    1.25,
)


async def test_events_carry_the_scrubbed_reason_latency_and_check_type(
    store: Store, make_engine
) -> None:
    mon = secret_monitor()
    engine, feed = make_engine(mon)
    await engine.observe(mon, ResultRecord("nas", T0, LEAKY))
    await engine.observe(
        mon,
        ResultRecord(
            "nas", T0 + dt.timedelta(minutes=1), CheckResult.up("200 OK in 0.085s", 0.085)
        ),
    )
    opened, ended = feed.events
    assert opened.kind == "opened" and ended.kind == "ended"
    assert opened.reason == "GET http://probe:***@nas.home.arpa/ sent ***: 503 Unavailable"
    assert (opened.latency, opened.check_type) == (1.25, "http")
    assert (ended.reason, ended.latency, ended.check_type) == ("200 OK in 0.085s", 0.085, "http")


async def test_a_state_change_is_logged_at_info_with_the_scrubbed_reason(
    store: Store, make_engine, caplog: pytest.LogCaptureFixture
) -> None:
    mon = secret_monitor(failure=3)
    engine, _ = make_engine(mon)
    results = [
        CheckResult.up("200 OK", 0.05),  # a first result that is up says nothing
        CheckResult.up("200 OK", 0.05),
        LEAKY,
        LEAKY,  # no change: no line
        CheckResult.degraded("200 OK in 0.900s, slower than 500ms", 0.9),
        CheckResult.up("200 OK", 0.05),
    ]
    with caplog.at_level(logging.INFO, logger="uplight.incidents.engine"):
        for minute, result in enumerate(results):
            at = T0 + dt.timedelta(minutes=minute)
            await engine.observe(mon, ResultRecord("nas", at, result))
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert "incident 1 opened: nas (major): 200 OK in 0.900s, slower than 500ms" in lines
    lines = [line for line in lines if line.startswith("monitor ")]
    assert lines == [
        "monitor nas is down (was up): GET http://probe:***@nas.home.arpa/ sent ***:"
        " 503 Unavailable [http check, 1.250s]",
        "monitor nas is degraded (was down): 200 OK in 0.900s, slower than 500ms"
        " [http check, 0.900s]",
        "monitor nas is up (was degraded): 200 OK [http check, 0.050s]",
    ]
    assert "tok-51c8e2" not in caplog.text and "url-password-9f1" not in caplog.text


async def test_restart_restores_the_active_incident(db_location: Path | str) -> None:
    mon = monitor(failure=2)
    path = db_location
    async with build_store(path) as store:
        engine = IncidentEngine(store, [mon])
        feed = Feed(engine, mon)
        await feed("down", "down")
        [incident] = await all_incidents(store)

    async with build_store(path) as store:
        engine = IncidentEngine(store, [mon])
        await engine.load()
        tracker = engine.tracker("web")
        assert tracker.active_incident == incident.id
        assert tracker.consecutive_failures == 0 and tracker.auto_severity == "major"
        feed2 = Feed(engine, mon)
        feed2.at = feed.at
        await feed2("down", "down", "down")
        assert [i.id for i in await all_incidents(store)] == [incident.id]  # no duplicate
        await feed2("up")
        [ended] = await all_incidents(store)
        assert ended.id == incident.id and not ended.active
        assert feed2.kinds == ["ended"]


async def test_load_ends_incidents_of_removed_monitors(store: Store) -> None:
    gone = monitor("gone", failure=1)
    engine = IncidentEngine(store, [gone])
    await Feed(engine, gone)("down")
    clock = FakeClock(T0 + dt.timedelta(hours=1))
    engine2 = IncidentEngine(store, [monitor()], clock=clock)
    events: list[IncidentEvent] = []

    async def remember(db: aiosqlite.Connection, event: IncidentEvent) -> None:
        events.append(event)

    engine2.transition_listeners.append(remember)
    await engine2.load()
    [incident] = await all_incidents(store)
    assert incident.ended_at == clock.now()
    assert [e.kind for e in events] == ["ended"]


async def test_listener_runs_inside_the_transaction(store: Store, make_engine) -> None:
    engine, feed = make_engine(monitor(failure=1))
    seen: list[tuple[str, int]] = []

    async def check_row(db: aiosqlite.Connection, event: IncidentEvent) -> None:
        # The listener sees the incident row this transaction is about to commit.
        async with db.execute(
            "SELECT count(*) FROM incidents WHERE id = ?", (event.incident_id,)
        ) as cursor:
            (count,) = await cursor.fetchone()  # type: ignore[misc]
        seen.append((event.kind, count))
        await db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, incident_id INTEGER,"
            " kind TEXT)"
        )
        await db.execute(
            "INSERT INTO outbox (incident_id, kind) VALUES (?, ?)", (event.incident_id, event.kind)
        )

    engine.transition_listeners.append(check_row)
    await feed("down", "up")
    assert seen == [("opened", 1), ("ended", 1)]
    rows = await store.fetchall("SELECT kind FROM outbox ORDER BY seq")
    assert [r[0] for r in rows] == ["opened", "ended"]


async def test_a_failing_listener_rolls_the_transition_back(store: Store, make_engine) -> None:
    engine, feed = make_engine(monitor(failure=1))

    async def explode(db: aiosqlite.Connection, event: IncidentEvent) -> None:
        raise RuntimeError("outbox is broken")

    engine.transition_listeners.append(explode)
    await feed("down")  # logged, not raised: the scheduler keeps going
    assert await all_incidents(store) == []
    assert engine.tracker("web").active_incident is None
    assert feed.kinds == ["opened"]  # the first listener ran, then the whole write rolled back

    engine.transition_listeners.remove(explode)
    await feed("down")  # the next bad result retries the transition
    [incident] = await all_incidents(store)
    assert engine.tracker("web").active_incident == incident.id

    engine.transition_listeners.append(explode)
    await feed("up")
    assert (await all_incidents(store))[0].active  # the end rolled back too
    engine.transition_listeners.remove(explode)
    await feed("up")
    assert not (await all_incidents(store))[0].active


async def test_one_active_incident_per_monitor_is_enforced_by_the_schema(store: Store) -> None:
    async def insert_two(db: aiosqlite.Connection) -> None:
        for _ in range(2):
            await db_incidents.insert_incident(
                db, monitor_id="web", monitor_name="Web", severity="major", started_at=T0, at=T0
            )

    with pytest.raises(aiosqlite.IntegrityError):
        await store.write(insert_two)
    assert await all_incidents(store) == []


async def test_results_of_one_monitor_are_folded_in_one_at_a_time_and_no_lock_stays(
    store: Store, make_engine
) -> None:
    """Concurrent results of a monitor wait for each other (its lock), and once none is
    in flight no per-monitor lock is kept (10,000 idle locks were about 1 MB)."""
    import asyncio

    engine, feed = make_engine(monitor(failure=2))
    records = [
        ResultRecord("web", T0 + dt.timedelta(minutes=i), CheckResult.down("refused"))
        for i in range(1, 4)
    ]
    await asyncio.gather(*(engine.observe(feed.monitor, r) for r in records))
    assert engine.tracker("web").consecutive_failures == 3
    assert feed.kinds == ["opened"]
    assert engine._locks == {}
