"""The outbox is written in the event's own transaction: both commit, or neither does."""

from __future__ import annotations

import datetime as dt

import aiosqlite
import pytest
from pydantic import BaseModel, SecretStr

from uplight.incidents import store as db_incidents
from uplight.incidents.models import Incident, IncidentUpdate
from uplight.incidents.service import IncidentService
from uplight.notifiers import Notification
from uplight.notify import store as outbox
from uplight.notify.scrub import describe_error

PHONE = """
[defaults]
notify = ["phone"]
[[notifiers]]
id = "phone"
type = "fake"
label = "phone"
send_updates = true
"""


async def test_a_failing_listener_rolls_back_the_incident_and_its_rows(make_env) -> None:
    async with make_env(PHONE) as env:

        async def broken(db: aiosqlite.Connection, event: object) -> None:
            raise RuntimeError("after the router wrote its rows")

        env.engine.transition_listeners.append(broken)
        await env.feed("web", "down")  # the engine logs the failure and retries next result
        assert await db_incidents.active_incidents(env.store) == []
        assert await env.rows() == []
        env.engine.transition_listeners.remove(broken)
        await env.feed("web", "down")
        rows = await env.rows()
        assert [r.event for r in rows] == ["incident_opened"]
        # The row names the one incident (PostgreSQL's ids skip the rolled-back one).
        active = await db_incidents.active_incidents(env.store)
        assert [i.id for i in active] == [r.incident_id for r in rows]


async def test_no_row_without_its_incident(make_env) -> None:
    async with make_env(PHONE) as env:
        # An active incident the engine does not know of makes its insert fail
        # (one active incident per monitor): the router's rows go with it.
        await env.store.write(
            lambda db: db_incidents.insert_incident(
                db,
                monitor_id="web",
                monitor_name="Web",
                severity="major",
                started_at=env.clock.now(),
                at=env.clock.now(),
            )
        )
        await env.feed("web", "down")
        assert await env.rows() == []


async def test_an_update_and_its_rows_commit_together(make_env) -> None:
    async with make_env(PHONE) as env:
        await env.feed("web", "down")

        async def queue_then_fail(
            db: aiosqlite.Connection, incident: Incident, update: IncidentUpdate
        ) -> None:
            await env.service.on_update(db, incident, update)
            raise RuntimeError("boom")

        incidents = IncidentService(env.store, clock=env.clock, on_update=queue_then_fail)
        with pytest.raises(RuntimeError):
            await incidents.add_update(1, phase="identified", message="found it", created_by=None)
        assert await db_incidents.incident_updates(env.store, 1) == []
        assert [r.event for r in await env.rows()] == ["incident_opened"]


async def test_the_payload_round_trips() -> None:
    at = dt.datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=dt.UTC)
    message = Notification(
        event="incident_ended",
        idempotency_key="k-1",
        title="Web recovered after 5m",
        text="Web is back up.",
        monitor_id="web",
        monitor_name="Web",
        status="operational",
        severity="major",
        incident_id=3,
        started_at=at - dt.timedelta(minutes=5),
        ended_at=at,
        downtime_seconds=300.0,
        url="http://x/status/incidents/3",
        created_at=at,
        extra={"phase": "resolved"},
    )
    assert outbox.decode(outbox.encode(message)) == message


async def test_a_key_is_queued_once(make_env) -> None:
    async with make_env(PHONE) as env:
        message = Notification("test", "same-key", "t", "x")
        first = await env.store.write(
            lambda db: outbox.insert(db, "phone", message, env.clock.now())
        )
        again = await env.store.write(
            lambda db: outbox.insert(db, "phone", message, env.clock.now())
        )
        assert isinstance(first, int) and again is None
        assert len(await env.rows()) == 1


def test_error_text_is_scrubbed_of_every_secret_option() -> None:
    class Options(BaseModel):
        url: SecretStr
        headers: dict[str, SecretStr]
        topic: str

    options = Options(
        url=SecretStr("https://hooks.example.org/services/T0/B0/abcdef123"),
        headers={"Authorization": SecretStr("Bearer tok-123")},
        topic="alerts",
    )
    error = RuntimeError(
        "POST https://hooks.example.org/services/T0/B0/abcdef123 failed;\n"
        "retry of /services/T0/B0/abcdef123 with Bearer tok-123 to alerts"
    )
    text = describe_error(error, options)
    assert text == "RuntimeError: POST *** failed; retry of *** with *** to alerts"
    assert describe_error(TimeoutError(), None) == "TimeoutError"
    assert len(describe_error(ValueError("x" * 1000), None)) == 300
