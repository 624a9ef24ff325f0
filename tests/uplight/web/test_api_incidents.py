"""/api/v1/incidents: reading, narration (three-state PATCH), timeline updates."""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

import pytest
from servers import HttpServer, Route

from uplight.models import CheckResult, ResultRecord
from uplight.monitoring.store import recent_results

ON_PAGE_DB = """
[[pages.components]]
monitor = "db"
"""


async def feed(api: Any, monitor_id: str, *statuses: str, at: dt.datetime | None = None) -> None:
    """Hand synthetic results to the runtime's incident engine, one minute apart."""
    monitor = api.runtime.config.monitor(monitor_id)
    at = at or api.clock.now()
    for status in statuses:
        result = {
            "up": CheckResult.up("ok"),
            "degraded": CheckResult.degraded("slow"),
            "down": CheckResult.down("refused"),
        }[status]
        await api.runtime.incidents.observe(monitor, ResultRecord(monitor_id, at, result))
        at += dt.timedelta(minutes=1)
        api.clock.set(at)


async def open_incident(api: Any, monitor_id: str = "web", *statuses: str) -> dict[str, Any]:
    await feed(api, monitor_id, *(statuses or ("down", "down")))
    status, body = await api.call("GET", f"/api/v1/incidents?monitor={monitor_id}&active=true")
    assert status == 200, body
    return body["items"][0]


def error(body: Any) -> str:
    return body["error"]["code"]


async def test_unauthenticated_callers_learn_nothing(api_factory) -> None:
    async with api_factory() as api:
        incident = await open_incident(api)
        for method, path in [
            ("GET", "/api/v1/incidents"),
            ("GET", f"/api/v1/incidents/{incident['id']}"),
            ("GET", "/api/v1/incidents/999"),
            ("PATCH", f"/api/v1/incidents/{incident['id']}"),
            ("POST", f"/api/v1/incidents/{incident['id']}/updates"),
        ]:
            for headers in ({}, {"Authorization": "Bearer upl_wrong"}):
                response = await api.client.open(
                    path, method=method, json={"public_title": "x"}, headers=headers
                )
                assert response.status_code == 401, (method, path)
                assert (await response.get_json())["error"]["code"] == "UNAUTHORIZED"


async def test_list_and_get_an_auto_opened_incident(api_factory) -> None:
    async with api_factory() as api:
        status, body = await api.call("GET", "/api/v1/incidents")
        assert status == 200 and body == {"items": [], "next_cursor": None}

        started = api.clock.now()
        incident = await open_incident(api, "web", "degraded", "degraded")
        assert incident["monitor_id"] == "web"
        assert incident["title"] == incident["auto_title"] == "Web server is degraded"
        assert incident["public_title"] is None and incident["public_description"] is None
        assert incident["severity"] == "minor" and incident["status"] == "active"
        assert incident["started_at"] == started.isoformat().replace("+00:00", "Z")
        assert incident["ended_at"] is None and incident["latest_update"] is None
        assert "updates" not in incident

        status, detail = await api.call("GET", f"/api/v1/incidents/{incident['id']}")
        assert status == 200
        assert detail["updates"] == [] and detail["id"] == incident["id"]

        await feed(api, "web", "down")
        _, detail = await api.call("GET", f"/api/v1/incidents/{incident['id']}")
        assert detail["severity"] == "major" and detail["auto_title"] == "Web server is down"

        await feed(api, "web", "up")
        _, detail = await api.call("GET", f"/api/v1/incidents/{incident['id']}")
        assert detail["status"] == "ended" and detail["ended_at"].endswith("Z")


async def test_a_monitor_on_no_page_opens_a_private_incident(api_factory) -> None:
    async with api_factory() as api:  # "db" is on no page in the base config
        await feed(api, "db", "down", "down", "down")
        status, body = await api.call("GET", "/api/v1/incidents")
        assert status == 200 and [i["monitor_id"] for i in body["items"]] == ["db"]
        assert api.runtime.monitor_tracker("db").consecutive_failures == 3
        # The operator sees it; the public does not (tests/uplight/web/test_leaks.py).
        incident_id = body["items"][0]["id"]
        page = await api.client.get(f"/status/incidents/{incident_id}")
        assert page.status_code == 404


async def test_a_monitor_added_to_an_api_page_opens_incidents(api_factory) -> None:
    async with api_factory() as api:
        status, body = await api.call(
            "POST", "/api/v1/status-pages", json={"slug": "ops", "title": "Ops"}
        )
        assert status == 201, body
        status, body = await api.call(
            "POST", "/api/v1/status-pages/ops/components", json={"target_id": "db"}
        )
        assert status in (200, 201), body
        await feed(api, "db", "down", "down")
        _, body = await api.call("GET", "/api/v1/incidents?monitor=db")
        assert [i["title"] for i in body["items"]] == ["Database is down"]


@pytest.mark.parametrize(
    "path", ["/api/v1/incidents/999", "/api/v1/incidents/99999999999999999999"]
)
async def test_unknown_incidents_are_404(api_factory, path: str) -> None:
    async with api_factory() as api:
        for method, suffix, body in [
            ("GET", "", None),
            ("PATCH", "", {"public_title": "x"}),
            ("POST", "/updates", {"phase": "investigating", "message": "looking"}),
        ]:
            status, answer = await api.call(method, path + suffix, json=body)
            assert status == 404 and error(answer) == "NOT_FOUND", (method, answer)


async def test_patch_three_state_semantics(api_factory) -> None:
    async with api_factory() as api:
        incident = await open_incident(api)
        url = f"/api/v1/incidents/{incident['id']}"

        api.clock.advance(minutes=5)
        status, body = await api.call(
            "PATCH",
            url,
            json={
                "public_title": "  Website unreachable  ",
                "public_description": "We are looking into it.",
                "severity": "critical",
            },
        )
        assert status == 200, body
        assert body["title"] == body["public_title"] == "Website unreachable"
        assert body["auto_title"] == "Web server is down"
        assert body["public_description"] == "We are looking into it."
        assert body["severity"] == "critical"
        assert body["updated_at"] == api.clock.now().isoformat().replace("+00:00", "Z")

        # Omitted fields stay as they are.
        status, body = await api.call("PATCH", url, json={"public_description": "Found it."})
        assert status == 200
        assert body["public_title"] == "Website unreachable" and body["severity"] == "critical"
        assert body["public_description"] == "Found it."
        status, body = await api.call("PATCH", url, json={})
        assert status == 200 and body["public_title"] == "Website unreachable"

        # null clears back to the automatic wording.
        status, body = await api.call("PATCH", url, json={"public_title": None, "severity": None})
        assert status == 200
        assert body["public_title"] is None and body["title"] == "Web server is down"
        assert body["severity"] == "major"  # the engine's own severity
        assert body["public_description"] == "Found it."
        status, body = await api.call("PATCH", url, json={"public_description": None})
        assert body["public_description"] is None

        _, detail = await api.call("GET", url)
        assert detail["title"] == "Web server is down" and detail["public_description"] is None


async def test_a_write_is_committed_before_the_response(api_factory) -> None:
    async with api_factory() as api:
        incident = await open_incident(api)
        status, _ = await api.call(
            "PATCH", f"/api/v1/incidents/{incident['id']}", json={"public_title": "Committed"}
        )
        assert status == 200
        # Another connection, straight after the answer: the row is already there.
        with sqlite3.connect(api.runtime.store.path) as db:
            row = db.execute(
                "SELECT public_title FROM incidents WHERE id = ?", (incident["id"],)
            ).fetchone()
        assert row == ("Committed",)


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"public_title": ""}, "EMPTY_TITLE", "public_title"),
        ({"public_title": " \t\n"}, "EMPTY_TITLE", "public_title"),
        ({"public_title": "\u0000"}, "EMPTY_TITLE", "public_title"),
        ({"public_title": " \u200b\u0007 "}, "EMPTY_TITLE", "public_title"),
        ({"public_title": "x" * 201}, "TITLE_TOO_LONG", "public_title"),
        ({"public_description": "x" * 5001}, "DESCRIPTION_TOO_LONG", "public_description"),
        ({"severity": "urgent"}, "INVALID_SEVERITY", "severity"),
        ({"severity": 3}, "VALIDATION_ERROR", "severity"),
        ({"public_title": 5}, "VALIDATION_ERROR", "public_title"),
        ({"title": "x"}, "UNKNOWN_FIELD", "title"),
    ],
)
async def test_patch_validation(api_factory, body: dict, code: str, field: str) -> None:
    async with api_factory() as api:
        incident = await open_incident(api)
        status, answer = await api.call("PATCH", f"/api/v1/incidents/{incident['id']}", json=body)
        assert status == 422, answer
        assert answer["error"]["code"] == code and answer["error"]["field"] == field
        _, after = await api.call("GET", f"/api/v1/incidents/{incident['id']}")
        assert after["public_title"] is None and after["severity"] == "major"  # nothing changed


async def test_limits_are_inclusive(api_factory) -> None:
    async with api_factory() as api:
        incident = await open_incident(api)
        url = f"/api/v1/incidents/{incident['id']}"
        status, _ = await api.call(
            "PATCH", url, json={"public_title": "t" * 200, "public_description": "d" * 5000}
        )
        assert status == 200
        status, _ = await api.call(
            "POST", url + "/updates", json={"phase": "identified", "message": "m" * 2000}
        )
        assert status == 201
        # Measured as stored: surrounding whitespace is stripped before the limit applies.
        status, body = await api.call("PATCH", url, json={"public_title": " " + "t" * 200 + " "})
        assert status == 200 and body["public_title"] == "t" * 200
        status, body = await api.call(
            "POST", url + "/updates", json={"phase": "identified", "message": "m" * 2000 + "\n"}
        )
        assert status == 201 and body["message"] == "m" * 2000


async def test_bodies_that_are_not_json(api_factory) -> None:
    async with api_factory() as api:
        incident = await open_incident(api)
        url = f"/api/v1/incidents/{incident['id']}"
        for data, content_type, status, code in [
            (b"{not json", "application/json", 400, "INVALID_JSON"),
            (b"public_title=x", "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
        ]:
            response = await api.client.open(
                url,
                method="PATCH",
                data=data,
                headers={**api.auth, "Content-Type": content_type},
            )
            assert response.status_code == status
            assert error(await response.get_json()) == code
        status, answer = await api.call("POST", url + "/updates", json=["investigating"])
        assert status == 422 and error(answer) == "VALIDATION_ERROR"


async def test_timeline_updates(api_factory) -> None:
    async with api_factory() as api:
        incident = await open_incident(api)
        url = f"/api/v1/incidents/{incident['id']}"
        posted = []
        for phase in ("investigating", "identified", "resolved"):
            api.clock.advance(minutes=1)
            status, update = await api.call(
                "POST", url + "/updates", json={"phase": phase, "message": f" {phase} now "}
            )
            assert status == 201, update
            assert update["phase"] == phase and update["message"] == f"{phase} now"
            assert update["created_by"] == "tester"
            assert update["created_at"] == api.clock.now().isoformat().replace("+00:00", "Z")
            posted.append(update)

        _, detail = await api.call("GET", url)
        assert detail["updates"] == posted[::-1]  # newest first
        assert detail["latest_update"] == posted[-1]
        assert detail["updated_at"] == posted[-1]["created_at"]
        # Posting "resolved" tells the story; only check results end an incident.
        assert detail["status"] == "active"
        _, listing = await api.call("GET", "/api/v1/incidents")
        assert listing["items"][0]["latest_update"] == posted[-1]

        await feed(api, "web", "up")
        status, update = await api.call(
            "POST", url + "/updates", json={"phase": "postmortem", "message": "Root cause: DNS."}
        )
        assert status == 201  # an ended incident still takes updates
        _, detail = await api.call("GET", url)
        assert detail["status"] == "ended" and detail["latest_update"]["phase"] == "postmortem"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"phase": "investigating", "message": ""}, "EMPTY_MESSAGE", "message"),
        ({"phase": "investigating", "message": "   "}, "EMPTY_MESSAGE", "message"),
        ({"phase": "investigating", "message": "\u0000"}, "EMPTY_MESSAGE", "message"),
        ({"phase": "investigating", "message": "\x1b\ufeff\n"}, "EMPTY_MESSAGE", "message"),
        ({"phase": "investigating", "message": "m" * 2001}, "MESSAGE_TOO_LONG", "message"),
        ({"phase": "fixed", "message": "done"}, "INVALID_PHASE", "phase"),
        ({"phase": 1, "message": "done"}, "VALIDATION_ERROR", "phase"),
        ({"message": "done"}, "MISSING_FIELD", "phase"),
        ({"phase": "investigating"}, "MISSING_FIELD", "message"),
        ({"phase": "investigating", "message": "x", "by": "me"}, "UNKNOWN_FIELD", "by"),
    ],
)
async def test_update_validation(api_factory, body: dict, code: str, field: str) -> None:
    async with api_factory() as api:
        incident = await open_incident(api)
        url = f"/api/v1/incidents/{incident['id']}"
        status, answer = await api.call("POST", url + "/updates", json=body)
        assert status == 422, answer
        assert answer["error"]["code"] == code and answer["error"]["field"] == field
        _, detail = await api.call("GET", url)
        assert detail["updates"] == []


async def make_history(api: Any, count: int) -> list[int]:
    """``count`` ended incidents of "web", oldest first."""
    for _ in range(count):
        await feed(api, "web", "down", "down", "up")
    _, body = await api.call("GET", "/api/v1/incidents?limit=200")
    return [item["id"] for item in reversed(body["items"])]


async def test_pagination_with_a_cursor(api_factory) -> None:
    async with api_factory() as api:
        ids = await make_history(api, 5)
        assert len(ids) == 5
        seen, cursor, pages = [], None, 0
        while True:
            query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
            status, body = await api.call("GET", "/api/v1/incidents" + query)
            assert status == 200
            seen += [item["id"] for item in body["items"]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen == ids[::-1] and pages == 3  # newest first, nothing twice, nothing missed

        status, body = await api.call("GET", "/api/v1/incidents?limit=5")
        assert len(body["items"]) == 5 and body["next_cursor"] is None
        # Any cursor the documented pattern admits is a position; past the end is everything.
        status, body = await api.call(
            "GET", "/api/v1/incidents?cursor=9999999999999999999.9999999999999999999"
        )
        assert status == 200 and len(body["items"]) == 5
        status, body = await api.call("GET", "/api/v1/incidents?cursor=0.0")
        assert status == 200 and body["items"] == []


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("cursor=nonsense", "INVALID_CURSOR"),
        ("cursor=", "INVALID_CURSOR"),
        ("cursor=-1.-1", "INVALID_CURSOR"),
        ("cursor=1.2.3", "INVALID_CURSOR"),
        ("limit=0", "VALIDATION_ERROR"),
        ("limit=201", "VALIDATION_ERROR"),
        ("limit=ten", "VALIDATION_ERROR"),
        ("active=maybe", "VALIDATION_ERROR"),
        ("since=2024-05-01T12:00:00", "VALIDATION_ERROR"),  # no offset
        ("since=yesterday", "VALIDATION_ERROR"),
        ("since=1714564800", "VALIDATION_ERROR"),  # ISO 8601 only, not unix time
        ("since=2024-05-01", "VALIDATION_ERROR"),
        ("since=9999-12-31T23:59:59-23:59", "VALIDATION_ERROR"),  # past the last UTC time
        ("since=0001-01-01T00:00:00%2B23:59", "VALIDATION_ERROR"),  # before the first
    ],
)
async def test_bad_queries(api_factory, query: str, code: str) -> None:
    async with api_factory() as api:
        status, body = await api.call("GET", f"/api/v1/incidents?{query}")
        assert status == 422 and error(body) == code, body


async def test_filters(api_factory) -> None:
    async with api_factory(ON_PAGE_DB) as api:
        api.clock.set(dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC))
        await feed(api, "web", "down", "down", "up")  # ended 12:02
        api.clock.advance(hours=1)
        await feed(api, "db", "down", "down")  # active since 13:03
        await feed(api, "web", "down", "down")  # active since 13:05

        async def ids(query: str) -> list[str]:
            status, body = await api.call("GET", f"/api/v1/incidents?{query}")
            assert status == 200, body
            return [f"{i['monitor_id']}:{i['status']}" for i in body["items"]]

        assert await ids("") == ["web:active", "db:active", "web:ended"]
        assert await ids("active=true") == ["web:active", "db:active"]
        assert await ids("active=false") == ["web:ended"]
        assert await ids("monitor=db") == ["db:active"]
        assert await ids("monitor=web&active=false") == ["web:ended"]
        assert await ids("monitor=nope") == []
        # since: what was still going on at or after that time (any offset accepted).
        assert await ids("since=2024-05-01T12:02:00Z") == ["web:active", "db:active", "web:ended"]
        assert await ids("since=2024-05-01T14:30:00%2B02:00") == [
            "web:active",
            "db:active",
        ]


async def test_incidents_from_real_checks_of_a_server_that_goes_down_and_comes_back(
    api_factory,
) -> None:
    with HttpServer({"/": Route(200, "fine")}) as server:
        extra = f"""
[[monitors]]
id = "target"
name = "Target app"
type = "http"
url = "{server.url("/")}"
interval = "1h"
timeout = "2s"
failure_threshold = 2
recovery_threshold = 2
response_time_degraded = "500ms"  # wide margins: the machine may be busy
[[pages]]
slug = "target-page"
title = "Target"
[[pages.components]]
monitor = "target"
"""
        async with api_factory(extra) as api:
            scheduler = api.runtime.scheduler

            async def incidents() -> list[dict[str, Any]]:
                status, body = await api.call("GET", "/api/v1/incidents?monitor=target")
                assert status == 200
                return body["items"]

            assert (await scheduler.run_once("target")).result.status == "up"
            server.routes["/"] = Route(200, "slow", delay=1.2)
            assert (await scheduler.run_once("target")).result.status == "degraded"
            assert await incidents() == []
            assert (await scheduler.run_once("target")).result.status == "degraded"
            [incident] = await incidents()
            assert incident["severity"] == "minor" and incident["title"] == "Target app is degraded"

            server.routes["/"] = Route(500, "broken")
            assert (await scheduler.run_once("target")).result.status == "down"
            [incident] = await incidents()
            assert incident["severity"] == "major" and incident["title"] == "Target app is down"
            _, dashboard = await api.call("GET", "/api/v1/health/dashboard")
            row = next(m for m in dashboard["monitors"] if m["id"] == "target")
            assert row["active_incident"] == incident["id"] and row["consecutive_failures"] == 3

            server.routes["/"] = Route(200, "fine again")
            await scheduler.run_once("target")
            assert (await incidents())[0]["status"] == "active"  # recovery needs two ups
            await scheduler.run_once("target")
            [ended] = await incidents()
            assert ended["id"] == incident["id"] and ended["status"] == "ended"
            # The raw results that drove it are stored too.
            stored = await recent_results(api.runtime.store, "target")
            statuses = [r.result.status.value for r in reversed(stored)]
            assert statuses == ["up", "degraded", "degraded", "down", "up", "up"]


async def test_maintenance_suppresses_incidents_from_real_checks(api_factory) -> None:
    with HttpServer({"/": Route(500, "down for an upgrade")}) as server:
        extra = f"""
[[monitors]]
id = "target"
name = "Target app"
type = "http"
url = "{server.url("/")}"
interval = "1h"
timeout = "2s"
failure_threshold = 2
[[pages]]
slug = "target-page"
title = "Target"
[[pages.components]]
monitor = "target"
"""
        async with api_factory(extra) as api:
            now = api.clock.now()
            status, window = await api.call(
                "POST",
                "/api/v1/maintenance",
                json={
                    "title": "Upgrade",
                    "component_ids": ["target"],
                    "starts_at": now.isoformat(),
                    "ends_at": (now + dt.timedelta(hours=1)).isoformat(),
                },
            )
            assert status == 201, window
            for _ in range(3):
                record = await api.runtime.scheduler.run_once("target")
                assert record.result.status == "down" and record.in_maintenance
            status, body = await api.call("GET", "/api/v1/incidents?monitor=target")
            assert body["items"] == []
            assert api.runtime.monitor_tracker("target").consecutive_failures == 0

            status, _ = await api.call("POST", f"/api/v1/maintenance/{window['id']}/complete")
            assert status == 200
            await api.runtime.scheduler.run_once("target")
            _, body = await api.call("GET", "/api/v1/incidents?monitor=target")
            assert body["items"] == []  # the failure run starts after the window
            record = await api.runtime.scheduler.run_once("target")
            assert not record.in_maintenance
            _, body = await api.call("GET", "/api/v1/incidents?monitor=target")
            assert [i["status"] for i in body["items"]] == ["active"]


WEBHOOK = """
[defaults]
notify = ["hook"]
[[notifiers]]
id = "hook"
type = "webhook"
url = "http://127.0.0.1:9/hook"
"""


async def test_an_operator_severity_change_queues_a_notification(api_factory) -> None:
    from uplight.notify import store as outbox

    async with api_factory(WEBHOOK) as api:
        incident = await open_incident(api)  # major
        url = f"/api/v1/incidents/{incident['id']}"

        async def changes() -> list[tuple[str | None, str | None]]:
            rows = await outbox.list_rows(api.runtime.store)
            return [
                (r.message.previous_severity, r.message.severity)
                for r in rows
                if r.event == "severity_changed"
            ]

        status, _ = await api.call("PATCH", url, json={"severity": "major"})  # no visible change
        assert status == 200 and await changes() == []
        status, body = await api.call("PATCH", url, json={"severity": "critical"})
        assert status == 200 and body["severity"] == "critical"
        assert await changes() == [("major", "critical")]
        status, _ = await api.call("PATCH", url, json={"severity": None})
        assert status == 200 and await changes() == [("major", "critical"), ("critical", "major")]
