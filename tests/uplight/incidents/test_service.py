"""The incident service: a real SQLite file, an injected clock and the real notification
hooks, so a write and the outbox rows it queues are checked together."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import aiosqlite
import pytest

from uplight.clock import FakeClock
from uplight.config import parse_config
from uplight.db.store import Store
from uplight.incidents import store as db_incidents
from uplight.incidents.models import MAX_ID, Incident, IncidentUpdate
from uplight.incidents.service import (
    IncidentConflict,
    IncidentError,
    IncidentNotFound,
    IncidentService,
    ManualIncidentFields,
)
from uplight.notify import store as outbox
from uplight.notify.service import Notifications
from uplight.plugins import load_plugins
from uplight.schema import build_store

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)

# Nothing is delivered: the worker never starts, so queued rows stay to be read.
CONFIG = """
[defaults]
notify = ["hook"]

[[monitors]]
id = "web"
name = "Web"
type = "http"
url = "http://127.0.0.1:9/"

[[monitors]]
id = "quiet"
name = "Quiet"
type = "http"
url = "http://127.0.0.1:9/"
notify = []

[[notifiers]]
id = "hook"
type = "webhook"
url = "http://127.0.0.1:9/"
send_updates = true
"""


@dataclass
class Env:
    store: Store
    clock: FakeClock
    notifications: Notifications
    service: IncidentService

    async def incident(self, *, ended: bool = False) -> int:
        """An incident of ``web`` as the engine opens it, an hour before now."""
        started = self.clock.now() - dt.timedelta(hours=1)

        async def write(db: aiosqlite.Connection) -> int:
            incident_id = await db_incidents.insert_incident(
                db,
                monitor_id="web",
                monitor_name="Web",
                severity="major",
                started_at=started,
                at=started,
            )
            if ended:
                await db_incidents.mark_ended(db, incident_id, self.clock.now())
            return incident_id

        incident_id: int = await self.store.write(write)
        return incident_id

    async def events(self) -> list[str]:
        return [row.event for row in await outbox.list_rows(self.store)]


@pytest.fixture
async def env(tmp_path: Path, db_location: Path | str) -> AsyncIterator[Env]:
    registry = load_plugins(builtins_only=True)
    config = parse_config(
        CONFIG,
        registry.check_types,
        source=tmp_path / "config.toml",
        notifier_types=registry.notifiers,
    )
    clock = FakeClock(T0)
    async with build_store(db_location) as store:
        notifications = Notifications(
            config, registry, store, clock=clock, in_maintenance=lambda _: False
        )
        service = IncidentService(
            store,
            clock=clock,
            on_narration=notifications.on_narration,
            on_update=notifications.on_update,
            on_manual=notifications.router.on_manual,
            monitor_ids=[m.id for m in config.monitors],
            # One page, "main", showing "web" only.
            page_monitors=lambda slug: frozenset({"web"}) if slug == "main" else None,
        )
        yield Env(store, clock, notifications, service)


# -- narration ---------------------------------------------------------------------


async def test_narration_has_three_states_per_field(env: Env) -> None:
    incident_id = await env.incident()
    env.clock.advance(minutes=5)
    told = await env.service.narrate(
        incident_id, {"public_title": "Checkout is slow", "public_description": "Looking"}
    )
    assert told.public_title == "Checkout is slow" and told.public_description == "Looking"
    assert told.updated_at == env.clock.now()  # the injected clock, not the wall clock

    kept = await env.service.narrate(incident_id, {"public_description": None})
    assert kept.public_title == "Checkout is slow"  # omitted: unchanged
    assert kept.public_description is None  # None: cleared
    assert await env.service.get_incident(incident_id) == kept


async def test_a_severity_change_and_its_notification_commit_together(env: Env) -> None:
    incident_id = await env.incident()
    raised = await env.service.narrate(incident_id, {"severity": "critical"})
    assert raised.severity == "critical" and raised.auto_severity == "major"
    assert await env.events() == ["severity_changed"]

    async def queue_then_fail(db: aiosqlite.Connection, before: Incident, after: Incident) -> None:
        await env.notifications.on_narration(db, before, after)
        raise RuntimeError("the hook failed")

    failing = IncidentService(env.store, clock=env.clock, on_narration=queue_then_fail)
    with pytest.raises(RuntimeError):
        await failing.narrate(incident_id, {"severity": None})
    assert (await env.service.get_incident(incident_id)).severity == "critical"
    assert await env.events() == ["severity_changed"]  # the second row rolled back too


async def test_narrating_an_ended_incident_corrects_the_record_quietly(env: Env) -> None:
    incident_id = await env.incident(ended=True)
    corrected = await env.service.narrate(incident_id, {"severity": "minor"})
    assert corrected.severity == "minor" and not corrected.active
    assert await env.events() == []


# -- timeline updates ----------------------------------------------------------------


async def test_an_update_is_written_with_its_outbox_row(env: Env) -> None:
    incident_id = await env.incident()
    env.clock.advance(minutes=3)
    update = await env.service.add_update(
        incident_id, phase="identified", message="A bad deploy", created_by="ops"
    )
    assert (update.phase, update.message, update.created_by) == (
        "identified",
        "A bad deploy",
        "ops",
    )
    assert update.created_at == env.clock.now()
    assert await env.service.timeline(incident_id) == [update]
    incident = await env.service.get_incident(incident_id)
    assert incident.latest_update == update and incident.updated_at == env.clock.now()
    [row] = await outbox.list_rows(env.store)
    assert row.event == "incident_update" and row.message.extra["phase"] == "identified"


async def test_an_update_rolls_back_with_a_failing_hook(env: Env) -> None:
    incident_id = await env.incident()

    async def queue_then_fail(
        db: aiosqlite.Connection, incident: Incident, update: IncidentUpdate
    ) -> None:
        await env.notifications.on_update(db, incident, update)
        raise RuntimeError("the hook failed")

    failing = IncidentService(env.store, clock=env.clock, on_update=queue_then_fail)
    with pytest.raises(RuntimeError):
        await failing.add_update(incident_id, phase="identified", message="x", created_by=None)
    assert await env.service.timeline(incident_id) == []
    assert await env.events() == []


async def test_ended_incidents_take_updates(env: Env) -> None:
    incident_id = await env.incident(ended=True)
    await env.service.add_update(
        incident_id, phase="postmortem", message="What happened", created_by=None
    )
    assert [u.phase for u in await env.service.timeline(incident_id)] == ["postmortem"]
    assert await env.events() == ["incident_update"]


# -- reads -------------------------------------------------------------------------------


async def test_pages_of_the_list_end_with_no_next_position(env: Env) -> None:
    ids = []
    for _ in range(3):
        ids.append(await env.incident())
        env.clock.advance(minutes=1)
        await env.service.store.write(
            lambda db, i=ids[-1]: db_incidents.mark_ended(db, i, env.clock.now())
        )
    first = await env.service.list_incidents(limit=2)
    assert [i.id for i in first.items] == ids[::-1][:2] and first.next is not None
    last = await env.service.list_incidents(limit=2, after=first.next)
    assert [i.id for i in last.items] == ids[:1] and last.next is None
    assert (await env.service.list_incidents(active=True)).items == []


# -- refusals --------------------------------------------------------------------------


@pytest.mark.parametrize("incident_id", [0, 999, MAX_ID, MAX_ID + 1])
async def test_an_unknown_incident_is_not_found(env: Env, incident_id: int) -> None:
    await env.incident()
    with pytest.raises(IncidentNotFound):
        await env.service.get_incident(incident_id)
    with pytest.raises(IncidentNotFound):
        await env.service.narrate(incident_id, {"severity": "critical"})
    with pytest.raises(IncidentNotFound):
        await env.service.add_update(incident_id, phase="identified", message="x", created_by=None)
    assert await env.events() == []


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"severity": "catastrophic"}, "INVALID_SEVERITY", "severity"),
        ({"public_title": " \u200b "}, "EMPTY_TITLE", "public_title"),
        ({"monitor_id": "db"}, "UNKNOWN_FIELD", "monitor_id"),
    ],
)
async def test_narration_the_rules_refuse_writes_nothing(
    env: Env, changes: dict[str, str | None], code: str, field: str
) -> None:
    incident_id = await env.incident()
    before = await env.service.get_incident(incident_id)
    with pytest.raises(IncidentError) as refused:
        await env.service.narrate(incident_id, changes)
    assert (refused.value.code, refused.value.field) == (code, field)
    assert await env.service.get_incident(incident_id) == before


@pytest.mark.parametrize(
    ("phase", "message", "code"),
    [("fixed", "done", "INVALID_PHASE"), ("resolved", "\u0000 ", "EMPTY_MESSAGE")],
)
async def test_updates_the_rules_refuse_write_nothing(
    env: Env, phase: str, message: str, code: str
) -> None:
    incident_id = await env.incident()
    with pytest.raises(IncidentError) as refused:
        await env.service.add_update(incident_id, phase=phase, message=message, created_by=None)
    assert refused.value.code == code
    assert await env.service.timeline(incident_id) == []
    assert await env.events() == []


# -- manual incidents ----------------------------------------------------------------


def manual(**changes: object) -> ManualIncidentFields:
    return replace(ManualIncidentFields(public_title="ISP outage"), **changes)


async def test_a_manual_incident_opens_with_its_first_update_and_outbox_row(env: Env) -> None:
    incident = await env.service.open_manual(
        manual(
            severity="major",
            component_ids=("web", "quiet", "web"),
            component_status="major_outage",
            phase="identified",
            message="Fibre cut",
        ),
        created_by="ops",
    )
    assert incident.manual and incident.active and incident.started_at == T0
    assert incident.component_ids == ("web", "quiet")  # a repeat counts once, in order
    assert (incident.severity, incident.component_status, incident.page) == (
        "major",
        "major_outage",
        None,
    )
    assert incident.latest_update is not None
    assert (incident.latest_update.phase, incident.latest_update.created_by) == (
        "identified",
        "ops",
    )
    assert await env.service.get_incident(incident.id) == incident
    [row] = await outbox.list_rows(env.store)
    assert (row.event, row.incident_id) == ("incident_opened", incident.id)
    assert row.message.title == "ISP outage" and row.message.monitor_id is None
    assert row.message.extra["component_ids"] == ["web", "quiet"]
    # Not the engine's: nothing restores it into a monitor's tracker.
    assert await db_incidents.active_incidents(env.store) == []


async def test_a_manual_incident_notifies_the_channels_of_what_it_names(env: Env) -> None:
    await env.service.open_manual(manual(component_ids=("quiet",)), created_by=None)
    assert await env.events() == []  # "quiet" names no channel and overrides the default
    await env.service.open_manual(manual(page="main"), created_by=None)
    assert await env.events() == ["incident_opened"]  # naming nothing: [defaults] notify


async def test_an_open_rolls_back_with_a_failing_hook(env: Env) -> None:
    async def queue_then_fail(db: aiosqlite.Connection, kind: str, incident: Incident) -> None:
        await env.notifications.router.on_manual(db, kind, incident)  # type: ignore[arg-type]
        raise RuntimeError("the hook failed")

    failing = IncidentService(
        env.store, clock=env.clock, on_manual=queue_then_fail, monitor_ids=["web"]
    )
    with pytest.raises(RuntimeError):
        await failing.open_manual(manual(message="x"), created_by=None)
    assert (await env.service.list_incidents()).items == []
    assert await env.events() == []


async def test_resolve_ends_a_manual_incident_once(env: Env) -> None:
    opened = await env.service.open_manual(manual(), created_by=None)
    env.clock.advance(minutes=20)
    ended = await env.service.resolve(opened.id, message="Repaired", created_by="ops")
    assert ended.ended_at == env.clock.now() and not ended.active
    assert ended.latest_update is not None and ended.latest_update.phase == "resolved"
    assert await env.events() == ["incident_opened", "incident_ended"]
    [_, row] = await outbox.list_rows(env.store)
    assert row.message.downtime_seconds == 1200 and row.message.extra["message"] == "Repaired"

    with pytest.raises(IncidentConflict) as refused:
        await env.service.resolve(opened.id, message="Again", created_by=None)
    assert refused.value.code == "INCIDENT_ENDED"
    assert [u.message for u in await env.service.timeline(opened.id)] == ["Repaired"]
    with pytest.raises(IncidentNotFound):
        await env.service.resolve(999, created_by=None)


async def test_an_automatic_incident_is_not_resolved_by_hand(env: Env) -> None:
    incident_id = await env.incident()
    with pytest.raises(IncidentConflict) as refused:
        await env.service.resolve(incident_id, message="Fixed", created_by=None)
    assert refused.value.code == "INCIDENT_AUTOMATIC" and "'web'" in refused.value.message
    incident = await env.service.get_incident(incident_id)
    assert incident.active and not incident.manual
    assert await env.service.timeline(incident_id) == [] and await env.events() == []


async def test_a_manual_title_cannot_be_cleared(env: Env) -> None:
    opened = await env.service.open_manual(manual(), created_by=None)
    with pytest.raises(IncidentError) as refused:
        await env.service.narrate(opened.id, {"public_title": None})
    assert (refused.value.code, refused.value.field) == ("EMPTY_TITLE", "public_title")
    renamed = await env.service.narrate(opened.id, {"public_title": "Fibre cut"})
    assert renamed.public_title == "Fibre cut"


async def test_the_monitor_filter_finds_manual_incidents_naming_it(env: Env) -> None:
    automatic = await env.incident()
    named = await env.service.open_manual(manual(component_ids=("web",)), created_by=None)
    await env.service.open_manual(manual(component_ids=("quiet",)), created_by=None)
    found = await env.service.list_incidents(monitor_id="web")
    assert [i.id for i in found.items] == [named.id, automatic]


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"public_title": " "}, "EMPTY_TITLE", "public_title"),
        ({"severity": "urgent"}, "INVALID_SEVERITY", "severity"),
        ({"component_ids": ("web", "gone")}, "INVALID_COMPONENT_ID", "component_ids[1]"),
        ({"page": "nope"}, "INVALID_PAGE", "page"),
        (
            {"page": "main", "component_ids": ("quiet",)},
            "COMPONENT_NOT_ON_PAGE",
            "component_ids[0]",
        ),
        ({"component_status": "down"}, "INVALID_COMPONENT_STATUS", "component_status"),
        ({"phase": "identified"}, "MISSING_FIELD", "message"),
        ({"phase": "fixed", "message": "x"}, "INVALID_PHASE", "phase"),
        ({"message": "\u200b"}, "EMPTY_MESSAGE", "message"),
    ],
)
async def test_manual_incidents_the_rules_refuse_write_nothing(
    env: Env, changes: dict[str, object], code: str, field: str
) -> None:
    with pytest.raises(IncidentError) as refused:
        await env.service.open_manual(manual(**changes), created_by=None)
    assert (refused.value.code, refused.value.field) == (code, field)
    assert (await env.service.list_incidents()).items == []
    assert await env.events() == []
