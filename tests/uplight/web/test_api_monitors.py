"""/api/v1/monitors: the operator's overview of every monitor, and manual monitors'
states set through the API (real app, real SQLite file, real token)."""

from __future__ import annotations

from typing import Any

from uplight.models import CheckResult, ResultRecord

# BASE_CONFIG has "web" (on page "main") and "db" (on no page), both http.
EXTRA = """
[[monitors]]
id = "storage"
name = "Model storage"
type = "manual"
interval = "1h"
[[monitors]]
id = "both"
name = "Web and database"
type = "group"
members = ["web", "db"]
interval = "1h"
[[pages.components]]
monitor = "storage"
"""


async def monitors(api: Any) -> dict[str, dict[str, Any]]:
    status, body = await api.call("GET", "/api/v1/monitors")
    assert status == 200, body
    return {m["id"]: m for m in body["items"]}


async def test_the_list_shows_every_monitor_on_a_page_or_not(api_factory: Any) -> None:
    async with api_factory(EXTRA) as api:
        api.runtime.store.add_result(
            ResultRecord("db", api.clock.now(), CheckResult.down("connection refused", 0.002))
        )
        await api.runtime.store.flush()
        found = await monitors(api)
        assert list(found) == ["web", "db", "storage", "both"]
        web, db = found["web"], found["db"]
        assert web["type"] == "http" and web["pages"] == ["main"] and db["pages"] == []
        assert web["state"] == "no_data" and web["last_result"] is None
        # Not checked since start-up: the newest stored result stands for it.
        assert db["last_result"]["status"] == "down"
        assert db["last_result"]["message"] == "connection refused"
        assert db["last_result"]["latency_seconds"] == 0.002
        assert web["thresholds"] == {
            "interval_seconds": 3600.0,
            "timeout_seconds": 1.0,
            "failure_threshold": 2,
            "recovery_threshold": 1,
            "incidents": True,
        }
        assert web["open_incident"] is None and web["operator_state"] is None
        assert found["both"]["summary"] == {"members": ["web", "db"]}
        storage = found["storage"]
        assert storage["operator_state"] == {
            "status": "operational",
            "message": "",
            "set_at": None,
            "set_by": None,
        }


async def test_results_give_the_state_since_and_the_open_incident(api_factory: Any) -> None:
    async with api_factory(EXTRA) as api:
        first = await api.runtime.scheduler.run_once("db")  # port 9: refused
        assert first is not None
        await api.runtime.scheduler.run_once("db")
        _, db = await api.call("GET", "/api/v1/monitors/db")
        assert db["state"] == "down"
        assert db["since"] == first.checked_at.isoformat().replace("+00:00", "Z")
        assert db["open_incident"]["severity"] == "major"
        assert db["last_result"]["error"] is None


async def test_setting_a_manual_monitors_state(api_factory: Any) -> None:
    async with api_factory(EXTRA) as api:
        status, body = await api.call(
            "PUT", "/api/v1/monitors/storage/state", {"status": "down", "message": "disk gone"}
        )
        assert status == 200, body
        assert body["state"] == "down"
        assert body["operator_state"]["status"] == "down"
        assert body["operator_state"]["message"] == "disk gone"
        assert body["operator_state"]["set_by"] == "tester"
        # Recorded at once, as a result: the history is the operator's word.
        assert body["last_result"]["status"] == "down"
        assert body["last_result"]["message"] == "disk gone"

        status, body = await api.call(
            "PUT", "/api/v1/monitors/storage/state", {"status": "operational"}
        )
        assert status == 200 and body["state"] == "operational"
        assert body["last_result"]["message"] == "set by tester"


async def test_state_refusals(api_factory: Any) -> None:
    async with api_factory(EXTRA) as api:
        status, body = await api.call("PUT", "/api/v1/monitors/web/state", {"status": "down"})
        assert status == 409 and body["error"]["code"] == "MONITOR_NOT_MANUAL"
        assert "'http'" in body["error"]["message"]
        status, body = await api.call("PUT", "/api/v1/monitors/nope/state", {"status": "down"})
        assert status == 404 and body["error"]["code"] == "NOT_FOUND"
        status, body = await api.call("GET", "/api/v1/monitors/nope")
        assert status == 404 and body["error"]["code"] == "NOT_FOUND"
        status, body = await api.call("PUT", "/api/v1/monitors/storage/state", {"status": "up"})
        assert status == 422 and body["error"]["code"] == "INVALID_STATUS"
        status, body = await api.call(
            "PUT", "/api/v1/monitors/storage/state", {"status": "down", "message": "  "}
        )
        assert status == 422 and body["error"]["code"] == "EMPTY_MESSAGE"
        status, body = await api.call("PUT", "/api/v1/monitors/storage/state", {})
        assert status == 422 and body["error"]["code"] == "MISSING_FIELD"
        response = await api.client.get("/api/v1/monitors")
        assert response.status_code == 401
