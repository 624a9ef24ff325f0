"""The console's incidents: lists, narration (three-state, a blank clears) and timeline
updates through the IncidentService, refusals beside their field with the API's words."""

from __future__ import annotations

import datetime as dt
from typing import Any

from uplight.models import CheckResult, ResultRecord

from .helpers import csrf_of, signed_in, text


async def open_incident(api: Any, monitor_id: str = "web") -> int:
    monitor = api.runtime.config.monitor(monitor_id)
    at = api.clock.now()
    for _ in range(2):
        await api.runtime.incidents.observe(
            monitor, ResultRecord(monitor_id, at, CheckResult.down("refused"))
        )
        at += dt.timedelta(minutes=1)
        api.clock.set(at)
    page = await api.runtime.incident_service.list_incidents(active=True, monitor_id=monitor_id)
    return page.items[0].id


async def test_the_list_shows_active_incidents(api_factory: Any) -> None:
    async with api_factory() as api:
        await signed_in(api.client, api.token)
        incident_id = await open_incident(api, "db")  # a private monitor's incident
        body = await text(await api.client.get("/admin/incidents"))
        assert f'href="/admin/incidents/{incident_id}"' in body
        assert "No past incident." in body


async def test_every_incident_route_needs_a_session(api_factory: Any) -> None:
    async with api_factory() as api:
        incident_id = await open_incident(api)
        for method, path in (
            ("GET", "/admin/incidents"),
            ("GET", f"/admin/incidents/{incident_id}"),
            ("POST", f"/admin/incidents/{incident_id}/narrate"),
            ("POST", f"/admin/incidents/{incident_id}/updates"),
        ):
            response = await api.client.open(path, method=method)
            assert response.status_code == 303, path
            assert response.headers["Location"] == "/admin/sign-in"


async def test_narrate_sets_and_a_blank_clears(api_factory: Any) -> None:
    async with api_factory() as api:
        await signed_in(api.client, api.token)
        incident_id = await open_incident(api)
        url = f"/admin/incidents/{incident_id}"
        csrf = csrf_of(await text(await api.client.get(url)))
        response = await api.client.post(
            f"{url}/narrate",
            form={
                "csrf": csrf,
                "public_title": "  Website unreachable  ",
                "public_description": "We are on it.",
                "severity": "critical",
            },
        )
        assert (
            response.status_code == 303 and response.headers["Location"] == f"{url}?saved=narration"
        )
        incident = await api.runtime.incident_service.get_incident(incident_id)
        assert incident.public_title == "Website unreachable"
        assert incident.severity_override == "critical"
        assert "Website unreachable" in await text(
            await api.client.get(f"/status/incidents/{incident_id}")
        )
        response = await api.client.post(
            f"{url}/narrate",
            form={"csrf": csrf, "public_title": "", "public_description": " ", "severity": ""},
        )
        assert response.status_code == 303
        incident = await api.runtime.incident_service.get_incident(incident_id)
        assert incident.public_title is None and incident.public_description is None
        assert incident.severity_override is None


async def test_a_refusal_is_shown_beside_its_field(api_factory: Any) -> None:
    async with api_factory() as api:
        await signed_in(api.client, api.token)
        incident_id = await open_incident(api)
        url = f"/admin/incidents/{incident_id}"
        csrf = csrf_of(await text(await api.client.get(url)))
        response = await api.client.post(
            f"{url}/narrate",
            form={"csrf": csrf, "public_title": "x" * 201, "severity": "apocalyptic"},
        )
        assert response.status_code == 422
        body = await text(response)
        assert 'id="public_title-error"' in body and "at most 200 characters" in body
        assert 'id="severity-error"' in body and "must be one of: minor, major, critical" in body
        assert (await api.runtime.incident_service.get_incident(incident_id)).public_title is None


async def test_post_an_update(api_factory: Any) -> None:
    async with api_factory() as api:
        await signed_in(api.client, api.token)
        incident_id = await open_incident(api)
        url = f"/admin/incidents/{incident_id}"
        csrf = csrf_of(await text(await api.client.get(url)))
        response = await api.client.post(
            f"{url}/updates",
            form={"csrf": csrf, "phase": "identified", "message": "A bad deploy."},
        )
        assert response.status_code == 303
        timeline = await api.runtime.incident_service.timeline(incident_id)
        assert [(u.phase, u.message, u.created_by) for u in timeline] == [
            ("identified", "A bad deploy.", "tester")
        ]
        body = await text(await api.client.get(url))
        assert "A bad deploy." in body and "by tester" in body
        blank = await api.client.post(
            f"{url}/updates", form={"csrf": csrf, "phase": "monitoring", "message": "  "}
        )
        assert blank.status_code == 422 and 'id="message-error"' in await text(blank)


async def test_forged_csrf_on_an_incident_form_is_refused(api_factory: Any) -> None:
    async with api_factory() as api:
        await signed_in(api.client, api.token)
        incident_id = await open_incident(api)
        response = await api.client.post(
            f"/admin/incidents/{incident_id}/updates",
            form={"csrf": "forged", "phase": "identified", "message": "x"},
        )
        assert response.status_code == 403
        assert await api.runtime.incident_service.timeline(incident_id) == []


async def test_an_unknown_incident_is_a_404_page(api_factory: Any) -> None:
    async with api_factory() as api:
        await signed_in(api.client, api.token)
        for incident_id in (999, 2**70):
            response = await api.client.get(f"/admin/incidents/{incident_id}")
            assert response.status_code == 404
