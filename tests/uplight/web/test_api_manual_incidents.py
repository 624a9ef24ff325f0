"""Manual incidents through /api/v1/incidents: opened by an operator for what no check
sees, shown on the public page (HTML, JSON, RSS, permalink), notified to a real local
webhook receiver, resolved by hand; automatic ones refuse to be resolved."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from helpers import wait_for
from servers import HttpServer, Route

from uplight.models import CheckResult, ResultRecord

# BASE_CONFIG has "web" (as "Website") on page "main" and "db" on no page.
PAGES = """
[[pages]]
slug = "other"
title = "Other page"
[[pages.components]]
monitor = "db"
public_name = "Data store"
"""

WEBHOOK = """
[defaults]
notify = ["hook"]
[[notifiers]]
id = "hook"
type = "webhook"
url = "{url}"
"""


async def public(api: Any, path: str) -> tuple[int, str]:
    response = await api.client.get(path)
    return response.status_code, (await response.get_data()).decode()


async def status_document(api: Any, page: str = "main") -> dict[str, Any]:
    api.runtime.page_cache.invalidate()
    code, body = await public(api, f"/api/public/v1/status.json?page={page}")
    assert code == 200, body
    return json.loads(body)


async def seed_results(api: Any, *monitor_ids: str) -> None:
    """One up result each: the components have data, and no check failed."""
    for monitor_id in monitor_ids:
        api.runtime.store.add_result(
            ResultRecord(monitor_id, api.clock.now(), CheckResult.up("fine", 0.05))
        )
    await api.runtime.store.flush()


async def open_manual(api: Any, **body: Any) -> dict[str, Any]:
    status, incident = await api.call("POST", "/api/v1/incidents", {"public_title": "x", **body})
    assert status == 201, incident
    return incident


def error(body: Any) -> tuple[str, str | None]:
    return body["error"]["code"], body["error"].get("field")


async def test_open_a_manual_incident_and_read_it_back(api_factory) -> None:
    async with api_factory() as api:
        started = api.clock.now()
        incident = await open_manual(
            api,
            public_title="ISP outage",
            public_description="Our provider has a fibre cut.",
            severity="major",
            component_ids=["web", "db", "web"],
            component_status="partial_outage",
            phase="identified",
            message="The provider is on it.",
        )
        assert incident["kind"] == "manual" and incident["manual"] is True
        assert incident["monitor_id"] is None and incident["auto_title"] is None
        assert incident["component_ids"] == ["web", "db"]  # a repeat counts once
        assert (incident["page"], incident["component_status"]) == (None, "partial_outage")
        assert incident["title"] == incident["public_title"] == "ISP outage"
        assert (incident["severity"], incident["status"]) == ("major", "active")
        assert incident["started_at"] == started.isoformat().replace("+00:00", "Z")
        [update] = incident["updates"]
        assert (update["phase"], update["message"], update["created_by"]) == (
            "identified",
            "The provider is on it.",
            "tester",
        )
        assert incident["latest_update"] == update

        status, same = await api.call("GET", f"/api/v1/incidents/{incident['id']}")
        assert status == 200 and same == incident
        # The list filter by monitor finds the manual incidents naming it.
        status, listed = await api.call("GET", "/api/v1/incidents?monitor=db&active=true")
        assert [i["id"] for i in listed["items"]] == [incident["id"]]
        # A message alone is an `investigating` update; with neither, no update.
        plain = await open_manual(api, message="Looking into it")
        assert plain["latest_update"]["phase"] == "investigating"
        assert plain["severity"] == "minor" and plain["component_ids"] == []
        bare = await open_manual(api, page="main")
        assert bare["updates"] == [] and bare["page"] == "main"


async def test_a_manual_incident_shows_on_its_pages_in_rss_and_at_its_permalink(
    api_factory,
) -> None:
    async with api_factory(PAGES) as api:
        await seed_results(api, "web", "db")
        on_db = await open_manual(
            api, public_title="Storage vendor outage", component_ids=["db"], message="Slow."
        )
        on_main = await open_manual(api, public_title="Office network down", page="main")
        everywhere = await open_manual(api, public_title="Power cut at the datacentre")

        main = await status_document(api, "main")
        other = await status_document(api, "other")
        titles = {i["title"]: i for i in main["incidents"]["active"]}
        assert set(titles) == {"Office network down", "Power cut at the datacentre"}
        assert titles["Office network down"]["components"] == []  # the whole page
        others = {i["title"]: i for i in other["incidents"]["active"]}
        assert set(others) == {"Storage vendor outage", "Power cut at the datacentre"}
        assert others["Storage vendor outage"]["components"] == ["Data store"]
        assert others["Storage vendor outage"]["latest_update"]["message"] == "Slow."
        assert others["Storage vendor outage"]["url"].endswith(
            f"/status/pages/other/incidents/{on_db['id']}"
        )
        # Without component_status, the components keep the checks' state.
        assert {c["status"] for c in main["components"] + other["components"]} == {"operational"}

        code, html = await public(api, "/status")
        assert code == 200 and "Office network down" in html
        assert "Storage vendor outage" not in html  # not a component of that page
        code, rss = await public(api, "/api/public/v1/incidents.rss?page=other")
        assert code == 200 and "Storage vendor outage" in rss
        code, html = await public(api, f"/status/pages/other/incidents/{on_db['id']}")
        assert code == 200 and "Storage vendor outage" in html and "Slow." in html
        # The short permalink goes to a page that shows it; a page that does not is a 404.
        response = await api.client.get(f"/status/incidents/{on_db['id']}")
        assert response.status_code in (301, 302, 307, 308)
        assert response.headers["Location"].endswith(f"/status/pages/other/incidents/{on_db['id']}")
        code, _ = await public(api, f"/status/pages/other/incidents/{on_main['id']}")
        assert code == 404
        code, html = await public(api, f"/status/incidents/{everywhere['id']}")
        assert code == 200 and "Power cut at the datacentre" in html

        # Resolved, it moves to the recent incidents.
        status, _ = await api.call("POST", f"/api/v1/incidents/{on_main['id']}/resolve", {})
        assert status == 200
        main = await status_document(api, "main")
        assert [i["title"] for i in main["incidents"]["recent"]] == ["Office network down"]


async def test_component_status_shows_and_maintenance_dominates_it(api_factory) -> None:
    async with api_factory(PAGES) as api:
        await seed_results(api, "web")
        main = await status_document(api)
        assert main["status"] == "operational"

        incident = await open_manual(
            api,
            public_title="Upstream trouble",
            component_ids=["web"],
            component_status="partial_outage",
        )
        main = await status_document(api)
        assert [c["status"] for c in main["components"]] == ["partial_outage"]
        assert main["status"] == "partial_outage"
        # A whole-page incident gives its state to every component, even one not checked yet.
        await open_manual(api, page="other", component_status="major_outage")
        other = await status_document(api, "other")
        assert [c["status"] for c in other["components"]] == ["major_outage"]
        assert other["status"] == "major_outage"
        code, html = await public(api, "/status/pages/other")
        assert code == 200 and "Major outage" in html

        now = api.clock.now()
        status, window = await api.call(
            "POST",
            "/api/v1/maintenance",
            {
                "title": "Router swap",
                "component_ids": ["web"],
                "starts_at": (now - dt.timedelta(minutes=1)).isoformat(),
                "ends_at": (now + dt.timedelta(hours=1)).isoformat(),
            },
        )
        assert status == 201 and window["status"] == "active", window
        main = await status_document(api)
        assert [c["status"] for c in main["components"]] == ["maintenance"]
        assert main["status"] == "maintenance"

        status, _ = await api.call("POST", f"/api/v1/maintenance/{window['id']}/complete")
        assert status == 200
        assert [c["status"] for c in (await status_document(api))["components"]] == [
            "partial_outage"
        ]
        status, _ = await api.call("POST", f"/api/v1/incidents/{incident['id']}/resolve", {})
        assert status == 200
        assert [c["status"] for c in (await status_document(api))["components"]] == ["operational"]


async def test_open_and_resolve_notify_a_real_webhook(api_factory) -> None:
    with HttpServer({"/hook": Route(200)}) as receiver:
        async with api_factory(WEBHOOK.format(url=receiver.url("/hook"))) as api:
            incident = await open_manual(
                api,
                public_title="ISP outage",
                severity="critical",
                component_ids=["web"],
                component_status="major_outage",
                message="Fibre cut upstream.",
            )
            await wait_for(lambda: len(receiver.requests) >= 1)
            api.clock.advance(minutes=30)
            status, resolved = await api.call(
                "POST",
                f"/api/v1/incidents/{incident['id']}/resolve",
                {"message": "The provider repaired the fibre."},
            )
            assert status == 200, resolved
            await wait_for(lambda: len(receiver.requests) >= 2)

    opened, ended = (json.loads(r.body) for r in receiver.requests)
    assert opened["event"] == "incident_opened" and opened["incident_id"] == incident["id"]
    assert opened["title"] == "ISP outage" and "Fibre cut upstream." in opened["text"]
    assert (opened["severity"], opened["status"]) == ("critical", "major_outage")
    assert opened["monitor_id"] is None
    assert opened["extra"]["manual"] is True and opened["extra"]["component_ids"] == ["web"]
    assert opened["url"].endswith(f"/status/incidents/{incident['id']}")
    assert ended["event"] == "incident_ended" and ended["incident_id"] == incident["id"]
    assert ended["title"] == "Resolved: ISP outage" and ended["status"] == "operational"
    assert ended["downtime_seconds"] == 1800
    assert ended["extra"]["message"] == "The provider repaired the fibre."
    assert "30m" in ended["text"] and "The provider repaired the fibre." in ended["text"]


async def test_resolve_ends_it_once_with_a_final_update(api_factory) -> None:
    async with api_factory() as api:
        incident = await open_manual(api, public_title="Supplier down")
        api.clock.advance(minutes=5)
        status, resolved = await api.call(
            "POST", f"/api/v1/incidents/{incident['id']}/resolve", {"message": "Back."}
        )
        assert status == 200, resolved
        assert resolved["status"] == "ended"
        assert resolved["ended_at"] == api.clock.now().isoformat().replace("+00:00", "Z")
        assert [(u["phase"], u["message"]) for u in resolved["updates"]] == [("resolved", "Back.")]

        status, body = await api.call("POST", f"/api/v1/incidents/{incident['id']}/resolve", {})
        assert status == 409 and error(body) == ("INCIDENT_ENDED", None)
        # A postmortem is still an update away.
        status, _ = await api.call(
            "POST",
            f"/api/v1/incidents/{incident['id']}/updates",
            {"phase": "postmortem", "message": "What happened"},
        )
        assert status == 201
        status, body = await api.call("POST", "/api/v1/incidents/999/resolve", {})
        assert status == 404 and error(body) == ("NOT_FOUND", None)
        # A manual incident has no automatic title to fall back to.
        status, body = await api.call(
            "PATCH", f"/api/v1/incidents/{incident['id']}", {"public_title": None}
        )
        assert status == 422 and error(body) == ("EMPTY_TITLE", "public_title")
        status, body = await api.call(
            "PATCH", f"/api/v1/incidents/{incident['id']}", {"public_title": "Vendor outage"}
        )
        assert status == 200 and body["title"] == "Vendor outage"


async def test_an_automatic_incident_cannot_be_resolved_by_hand(api_factory) -> None:
    async with api_factory() as api:
        monitor = api.runtime.config.monitor("web")
        for _ in range(2):
            record = ResultRecord("web", api.clock.now(), CheckResult.down("refused"))
            await api.runtime.incidents.observe(monitor, record)
            api.clock.advance(minutes=1)
        status, listed = await api.call("GET", "/api/v1/incidents?active=true")
        [automatic] = listed["items"]
        assert automatic["kind"] == "automatic" and automatic["manual"] is False
        assert automatic["component_ids"] == ["web"] and automatic["page"] is None

        status, body = await api.call(
            "POST", f"/api/v1/incidents/{automatic['id']}/resolve", {"message": "Fixed."}
        )
        assert status == 409 and error(body) == ("INCIDENT_AUTOMATIC", None)
        assert "ends when they recover" in body["error"]["message"]
        status, same = await api.call("GET", f"/api/v1/incidents/{automatic['id']}")
        assert same["status"] == "active" and same["updates"] == []


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({}, 422, "MISSING_FIELD", "public_title"),
        ({"public_title": "  "}, 422, "EMPTY_TITLE", "public_title"),
        ({"public_title": "t" * 201}, 422, "TITLE_TOO_LONG", "public_title"),
        ({"public_title": "a\nb"}, 422, "INVALID_CHARACTER", "public_title"),
        ({"severity": "urgent"}, 422, "INVALID_SEVERITY", "severity"),
        ({"component_ids": ["web", "nope"]}, 422, "INVALID_COMPONENT_ID", "component_ids[1]"),
        ({"component_ids": "web"}, 422, "VALIDATION_ERROR", "component_ids"),
        ({"page": "nope"}, 422, "INVALID_PAGE", "page"),
        (
            {"page": "main", "component_ids": ["db"]},
            422,
            "COMPONENT_NOT_ON_PAGE",
            "component_ids[0]",
        ),
        ({"component_status": "down"}, 422, "INVALID_COMPONENT_STATUS", "component_status"),
        ({"phase": "fixed", "message": "x"}, 422, "INVALID_PHASE", "phase"),
        ({"phase": "identified"}, 422, "MISSING_FIELD", "message"),
        ({"message": " "}, 422, "EMPTY_MESSAGE", "message"),
        ({"monitor_id": "web"}, 422, "UNKNOWN_FIELD", "monitor_id"),
    ],
)
async def test_refusals_name_the_field_and_write_nothing(
    api_factory, body: dict[str, Any], status: int, code: str, field: str
) -> None:
    async with api_factory() as api:
        sent = body if "public_title" in body or not body else {"public_title": "x", **body}
        got, answer = await api.call("POST", "/api/v1/incidents", sent)
        assert (got, *error(answer)) == (status, code, field), answer
        assert answer["error"]["message"].startswith(f"{field}: ")
        _, listed = await api.call("GET", "/api/v1/incidents")
        assert listed["items"] == []


async def test_resolve_refusals(api_factory) -> None:
    async with api_factory() as api:
        incident = await open_manual(api)
        path = f"/api/v1/incidents/{incident['id']}/resolve"
        for body, code, field in [
            ({"message": ""}, "EMPTY_MESSAGE", "message"),
            ({"message": "x", "phase": "done"}, "INVALID_PHASE", "phase"),
            ({"reason": "x"}, "UNKNOWN_FIELD", "reason"),
        ]:
            status, answer = await api.call("POST", path, body)
            assert (status, *error(answer)) == (422, code, field)
        response = await api.client.post(path, headers=api.auth)  # no body at all
        assert response.status_code == 415
        _, same = await api.call("GET", f"/api/v1/incidents/{incident['id']}")
        assert same["status"] == "active"


async def test_the_openapi_document_has_the_new_operations(api_factory) -> None:
    async with api_factory() as api:
        response = await api.client.get("/api/openapi.json")
        document = await response.get_json()
        paths = document["paths"]
        create = paths["/api/v1/incidents"]["post"]
        assert "201" in create["responses"] and "422" in create["responses"]
        resolve = paths["/api/v1/incidents/{incident_id}/resolve"]["post"]
        assert {"200", "404", "409", "422"} <= set(resolve["responses"])
        schema = document["components"]["schemas"]["IncidentCreate"]
        assert schema["required"] == ["public_title"]
        assert {"component_ids", "page", "component_status", "phase", "message"} <= set(
            schema["properties"]
        )


async def test_a_manual_incident_on_no_page_links_only_the_operators_view(api_factory) -> None:
    # "db" is on no page: the incident is shown nowhere, so its message has no permalink.
    with HttpServer({"/hook": Route(200)}) as receiver:
        async with api_factory(WEBHOOK.format(url=receiver.url("/hook"))) as api:
            incident = await open_manual(api, public_title="Backup box", component_ids=["db"])
            await wait_for(lambda: len(receiver.requests) >= 1)
            code, _ = await public(api, f"/status/incidents/{incident['id']}")
            assert code == 404
    [opened] = (json.loads(r.body) for r in receiver.requests)
    assert opened["url"] is None and "/status/" not in opened["text"]
    assert opened["operator_url"].endswith(f"/api/v1/incidents/{incident['id']}")
