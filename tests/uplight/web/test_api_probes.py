"""/api/v1/probe: a probe token's assignment and results, the join's quorum, and what a
probe token may not do (real app, real SQLite file, real tokens)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from uplight.auth.tokens import create_token, verify_token
from uplight.probes import store as probe_store

JOINED = """
[[monitors]]
id = "edge"
name = "Edge"
type = "http"
url = "http://127.0.0.1:9/"
headers = { Authorization = "Bearer s3cret" }
interval = "1m"
timeout = "1s"
failure_threshold = 1
locations = ["home", "fra1"]
"""


async def probe_token(api: Any, location: str) -> dict[str, str]:
    token = await create_token(api.runtime.store, f"probe-{location}", location=location)
    return {"Authorization": f"Bearer {token}"}


def result(api: Any, rid: str, status: str, *, monitor: str = "edge", ago: float = 1) -> dict:
    checked = api.clock.now() - dt.timedelta(seconds=ago)
    return {
        "id": rid,
        "monitor_id": monitor,
        "checked_at": checked.isoformat().replace("+00:00", "Z"),
        "status": status,
        "latency": 0.01,
        "message": "connection refused" if status == "down" else "",
    }


async def push(api: Any, auth: dict[str, str], *items: dict) -> tuple[int, Any]:
    return await api.call("POST", "/api/v1/probe/results", {"results": list(items)}, headers=auth)


def incident_of(api: Any) -> int | None:
    return api.runtime.monitor_tracker("edge").active_incident


async def test_the_assignment_carries_the_check_and_a_version(api_factory: Any) -> None:
    async with api_factory(JOINED) as api:
        home = await probe_token(api, "home")
        status, body = await api.call("GET", "/api/v1/probe/assignment", headers=home)
        assert status == 200, body
        assert body["location"] == "home"
        [edge] = body["monitors"]
        assert edge["id"] == "edge" and edge["type"] == "http"
        assert edge["options"]["url"] == "http://127.0.0.1:9/"
        # The probe runs the check: it gets the secret as the server resolved it.
        assert edge["options"]["headers"]["Authorization"] == "Bearer s3cret"
        response = await api.client.get(
            "/api/v1/probe/assignment", headers={**home, "If-None-Match": f'"{body["version"]}"'}
        )
        assert response.status_code == 304
        other = await probe_token(api, "nyc")
        status, body = await api.call("GET", "/api/v1/probe/assignment", headers=other)
        assert status == 200 and body["monitors"] == []


async def test_a_probe_token_is_refused_everywhere_else(api_factory: Any) -> None:
    async with api_factory(JOINED) as api:
        home = await probe_token(api, "home")
        for path in ("/api/v1/monitors", "/api/v1/incidents", "/api/v1/health/dashboard"):
            status, body = await api.call("GET", path, headers=home)
            assert status == 403, (path, body)
            assert body["error"]["code"] == "FORBIDDEN"
        # Not an admin token: the console's sign-in (verify_token) does not know it.
        token = home["Authorization"].removeprefix("Bearer ")
        assert await verify_token(api.runtime.store, token) is None
        assert await verify_token(api.runtime.store, api.token) == "tester"
        # And the probe API is not the admin token's.
        status, body = await api.call("GET", "/api/v1/probe/assignment")
        assert status == 403 and body["error"]["code"] == "FORBIDDEN"


async def test_one_location_down_opens_nothing_both_open_an_incident(api_factory: Any) -> None:
    async with api_factory(JOINED) as api:
        home, fra1 = await probe_token(api, "home"), await probe_token(api, "fra1")
        status, body = await push(api, home, result(api, "h1", "up"))
        assert status == 200 and body["accepted"] == 1
        await push(api, fra1, result(api, "f1", "down"))
        await push(api, fra1, result(api, "f2", "down"))
        assert incident_of(api) is None  # one bad path: quorum (2 of 2) not met
        states = api.runtime.probes.join.states("edge")
        assert states["fra1"].status.value == "down" and states["home"].status.value == "up"
        await push(api, home, result(api, "h2", "down"))
        assert incident_of(api) is not None
        await api.runtime.store.flush()
        status, body = await api.call("GET", "/api/v1/monitors")
        edge = {m["id"]: m for m in body["items"]}["edge"]
        assert edge["last_result"]["status"] == "down"
        assert "down at 2 of 2 locations" in edge["last_result"]["message"]
        seen = {loc["location"]: loc for loc in edge["locations"]}
        assert seen["home"]["status"] == "down" and seen["home"]["counted"]
        assert seen["fra1"]["message"] == "connection refused"
        web = {m["id"]: m for m in body["items"]}["web"]
        assert web["locations"] == []  # the server alone checks it


async def test_a_result_is_stored_once_and_refusals_are_per_item(api_factory: Any) -> None:
    async with api_factory(JOINED) as api:
        home = await probe_token(api, "home")
        first = result(api, "r1", "up")
        status, body = await push(
            api,
            home,
            first,
            result(api, "r2", "up", monitor="web"),
            result(api, "r3", "up", ago=-120),
            result(api, "r4", "up", ago=8 * 86400),
        )
        assert status == 200, body
        assert [o["stored"] for o in body["results"]] == [True, False, False, False]
        codes = [o["error"]["code"] for o in body["results"][1:]]
        assert codes == ["NOT_ASSIGNED", "CLOCK_SKEW", "TOO_OLD"]
        status, body = await push(api, home, first, first)  # the answer was lost: sent again
        assert (
            status == 200 and body["results"] == [{"id": "r1", "stored": True, "error": None}] * 2
        )
        assert await probe_store.count_results(api.runtime.store) == 1
        twice = result(api, "r5", "up")
        status, body = await push(api, home, twice, twice)  # twice in one new batch
        assert [o["stored"] for o in body["results"]] == [True, True]
        assert await probe_store.count_results(api.runtime.store) == 2
        stored = await probe_store.results_of(api.runtime.store, "edge")
        assert [(r.location, r.result_id) for r in stored] == [("home", "r1"), ("home", "r5")]


async def test_a_malformed_batch_names_the_field(api_factory: Any) -> None:
    async with api_factory(JOINED) as api:
        home = await probe_token(api, "home")
        bad = {**result(api, "r1", "up"), "status": "fine"}
        status, body = await push(api, home, bad)
        assert status == 422 and body["error"]["message"].startswith("results[0].status")


async def test_the_console_shows_each_location_and_refuses_a_probe_token(
    api_factory: Any,
) -> None:
    from tests.uplight.web.console.helpers import sign_in, signed_in, text

    async with api_factory(JOINED) as api:
        home, fra1 = await probe_token(api, "home"), await probe_token(api, "fra1")
        refused = await sign_in(api.client, home["Authorization"].removeprefix("Bearer "))
        assert refused.status_code != 303
        await push(api, home, result(api, "h1", "up"))
        await push(api, fra1, result(api, "f1", "down"))
        await signed_in(api.client, api.token)
        page = await text(await api.client.get("/admin/monitors/edge"))
        assert "<code>fra1</code>: down" in page and "(connection refused)" in page
        assert "<code>home</code>: up" in page
        # "Check now" here would make one location's result, not the join's.
        assert "its state joins the results of its locations" in page


async def test_metrics_label_each_location(api_factory: Any) -> None:
    async with api_factory(JOINED) as api:
        home, fra1 = await probe_token(api, "home"), await probe_token(api, "fra1")
        await push(api, home, result(api, "h1", "up"))
        await push(api, fra1, result(api, "f1", "down"))
        body = (await (await api.client.get("/metrics")).get_data()).decode()
        assert 'uplight_monitor_location_up{location="home",monitor="edge"} 1.0' in body or (
            'uplight_monitor_location_up{monitor="edge",location="home"} 1.0' in body
        ), body
        assert 'location="fra1"' in body and 'location="nyc"' not in body
        # Existing names stay: the joined result is the monitor's.
        assert 'uplight_monitor_up{monitor="edge",type="http"} 1.0' in body


async def test_the_notification_names_each_location(api_factory: Any) -> None:
    from uplight.notify.store import list_rows

    channel = '[[notifiers]]\nid = "ops"\ntype = "webhook"\nurl = "http://127.0.0.1:9/"\n'
    async with api_factory(
        JOINED.replace("locations =", 'notify = ["ops"]\nlocations =') + channel
    ) as api:
        await api.runtime.notifications.stop()  # queued, not sent: the payload is read below
        home, fra1 = await probe_token(api, "home"), await probe_token(api, "fra1")
        await push(api, home, result(api, "h1", "down"))
        await push(api, fra1, result(api, "f1", "down"))
        assert incident_of(api) is not None
        rows = await list_rows(api.runtime.store)
        [row] = [r for r in rows if r.event == "incident_opened"]
        text = row.message.text
        assert "home: down (connection refused)" in text, text
        assert "fra1: down (connection refused)" in text
        assert "s3cret" not in text


async def test_the_public_page_shows_the_joined_state(api_factory: Any) -> None:
    on_page = JOINED + '[[pages.components]]\nmonitor = "edge"\npublic_name = "Edge"\n'
    async with api_factory(on_page) as api:
        home, fra1 = await probe_token(api, "home"), await probe_token(api, "fra1")

        async def public_state() -> str:
            await api.runtime.store.flush()
            api.runtime.page_cache.invalidate()
            response = await api.client.get("/api/public/v1/status.json")
            page = await response.get_json()
            [edge] = [c for c in page["components"] if c["name"] == "Edge"]
            assert "fra1" not in json.dumps(page)  # locations are the operator's
            return edge["status"]

        await push(api, home, result(api, "h1", "up"))
        await push(api, fra1, result(api, "f1", "down"))
        assert await public_state() == "operational"  # one bad path
        await push(api, home, result(api, "h2", "down"))
        assert await public_state() == "major_outage"


async def test_old_location_results_are_pruned(api_factory: Any) -> None:
    async with api_factory(JOINED) as api:
        home = await probe_token(api, "home")
        await push(api, home, result(api, "old", "up", ago=3 * 86400), result(api, "new", "up"))
        cutoff = api.clock.now() - dt.timedelta(days=1)
        assert await api.runtime.probes.prune(cutoff) == 1
        kept = await probe_store.results_of(api.runtime.store, "edge")
        assert [r.result_id for r in kept] == ["new"]
