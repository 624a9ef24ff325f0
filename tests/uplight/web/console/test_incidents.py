"""The console's incidents: lists, narration (three-state, a blank clears) and timeline
updates through the IncidentService, refusals beside their field with the API's words."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from markupsafe import escape

from uplight.incidents.service import ManualIncidentFields
from uplight.models import CheckResult, ResultRecord
from uplight.web.console import incidents as incidents_module

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
            ("POST", "/admin/incidents"),
            ("GET", f"/admin/incidents/{incident_id}/resolve"),
            ("POST", f"/admin/incidents/{incident_id}/resolve"),
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


# -- manual incidents: opened from the list, resolved after a confirmation step ---------


async def list_csrf(api: Any) -> str:
    return csrf_of(await text(await api.client.get("/admin/incidents")))


async def post_open(api: Any, form: dict[str, Any]) -> Any:
    """Post the open form as a browser does: one ``component_ids`` per ticked box."""
    return await api.client.post(
        "/admin/incidents",
        data=urlencode({"csrf": await list_csrf(api), **form}, doseq=True),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


async def test_open_a_manual_incident(api_factory: Any) -> None:
    async with api_factory() as api:
        await signed_in(api.client, api.token)
        response = await post_open(
            api,
            {
                "public_title": "ISP outage",
                "public_description": "A fibre cut.",
                "severity": "major",
                "component_ids": ["web"],
                "page": "main",
                "component_status": "partial_outage",
                "phase": "identified",
                "message": "The provider is on it.",
            },
        )
        assert response.status_code == 303, await text(response)
        service = api.runtime.incident_service
        (incident,) = (await service.list_incidents(active=True)).items
        url = f"/admin/incidents/{incident.id}"
        assert response.headers["Location"] == f"{url}?saved=opened"
        assert incident.manual and incident.public_title == "ISP outage"
        assert incident.severity == "major" and incident.component_ids == ("web",)
        assert incident.page == "main" and incident.component_status == "partial_outage"
        timeline = await service.timeline(incident.id)
        assert [(u.phase, u.message, u.created_by) for u in timeline] == [
            ("identified", "The provider is on it.", "tester")
        ]
        body = await text(await api.client.get(f"{url}?saved=opened"))
        assert "Opened." in body and "ISP outage" in body
        assert f'href="{url}/resolve"' in body
        permalink = await api.client.get(f"/status/incidents/{incident.id}")
        assert permalink.status_code == 200
        assert "ISP outage" in await text(permalink)
        assert "ISP outage" in await text(await api.client.get("/status"))


async def test_opening_with_only_a_title(api_factory: Any) -> None:
    async with api_factory() as api:
        await signed_in(api.client, api.token)
        response = await api.client.post(
            "/admin/incidents",
            form={
                "csrf": await list_csrf(api),
                "public_title": "Supplier down",
                "public_description": "",
                "severity": "minor",
                "page": "",
                "component_status": "",
                "phase": "",
                "message": "",
            },
        )
        assert response.status_code == 303, await text(response)
        (incident,) = (await api.runtime.incident_service.list_incidents(active=True)).items
        assert incident.component_ids == () and incident.page is None
        assert incident.public_description is None and incident.component_status is None
        assert await api.runtime.incident_service.timeline(incident.id) == []


async def assert_refused(api: Any, form: dict[str, Any], field: str, words: str) -> str:
    response = await post_open(api, form)
    body = await text(response)
    assert response.status_code == 422, body
    assert f'id="{field}-error"' in body and str(escape(words)) in body, body
    assert f'aria-describedby="{field}-error"' in body
    assert (await api.runtime.incident_service.list_incidents(active=True)).items == []
    return body


async def test_a_refused_incident_is_shown_beside_its_field_and_the_form_refilled(
    api_factory: Any,
) -> None:
    async with api_factory() as api:
        await signed_in(api.client, api.token)
        base = {"public_title": "ISP outage", "severity": "critical", "message": "Kept."}
        await assert_refused(
            api, {**base, "public_title": "   "}, "public_title", "must not be blank"
        )
        body = await assert_refused(
            api,
            {**base, "component_ids": ["web", "nope"]},
            "component_ids",
            "no monitor has id 'nope'",
        )
        assert 'value="ISP outage"' in body and ">Kept.</textarea>" in body
        assert '<option value="critical" selected>' in body
        assert body.count(">investigating</option>") == 1  # the blank choice is it
        assert 'name="component_ids" value="web" checked' in body
        await assert_refused(api, {**base, "page": "gone"}, "page", "no page has slug 'gone'")
        await assert_refused(
            api,
            {**base, "page": "main", "component_ids": "db"},
            "component_ids",
            "monitor 'db' is not a component of page 'main'",
        )
        await assert_refused(
            api, {**base, "phase": "identified", "message": ""}, "message", "needs its message"
        )


async def test_opening_without_csrf_is_refused(api_factory: Any) -> None:
    async with api_factory() as api:
        await signed_in(api.client, api.token)
        for form in ({"public_title": "x"}, {"public_title": "x", "csrf": "forged"}):
            response = await api.client.post("/admin/incidents", form=form)
            assert response.status_code == 403
            assert "security token" in await text(response)
        assert (await api.runtime.incident_service.list_incidents(active=True)).items == []


async def open_by_hand(api: Any, title: str = "ISP outage") -> int:
    response = await api.client.post(
        "/admin/incidents", form={"csrf": await list_csrf(api), "public_title": title}
    )
    assert response.status_code == 303, await text(response)
    return int(response.headers["Location"].split("/")[-1].split("?")[0])


async def test_resolve_a_manual_incident(api_factory: Any) -> None:
    async with api_factory() as api:
        await signed_in(api.client, api.token)
        incident_id = await open_by_hand(api)
        url = f"/admin/incidents/{incident_id}/resolve"
        confirm = await api.client.get(url)
        body = await text(confirm)
        assert confirm.status_code == 200 and "Resolve the incident" in body
        api.clock.advance(minutes=5)
        response = await api.client.post(
            url, form={"csrf": csrf_of(body), "phase": "resolved", "message": "Fixed upstream."}
        )
        assert response.status_code == 303, await text(response)
        assert response.headers["Location"] == f"/admin/incidents/{incident_id}?saved=resolved"
        incident = await api.runtime.incident_service.get_incident(incident_id)
        assert not incident.active and incident.ended_at == api.clock.now()
        timeline = await api.runtime.incident_service.timeline(incident_id)
        assert [(u.phase, u.message, u.created_by) for u in timeline] == [
            ("resolved", "Fixed upstream.", "tester")
        ]
        page = await text(await api.client.get(response.headers["Location"]))
        assert "Resolved." in page and "ended <time" in page
        assert f'href="{url}"' not in page  # no second resolve offered
        again = await api.client.post(url, form={"csrf": csrf_of(body), "phase": "resolved"})
        assert again.status_code == 409
        assert "already ended at" in await text(again)


async def test_resolving_an_automatic_incident_is_refused(api_factory: Any) -> None:
    async with api_factory() as api:
        await signed_in(api.client, api.token)
        incident_id = await open_incident(api)
        url = f"/admin/incidents/{incident_id}/resolve"
        confirm = await text(await api.client.get(url))
        assert "Resolve the incident" not in confirm
        assert "only a manual incident is resolved by hand" in confirm
        response = await api.client.post(url, form={"csrf": csrf_of(confirm), "phase": "resolved"})
        body = await text(response)
        assert response.status_code == 409, body
        words = f"incident {incident_id} was opened by the checks of monitor 'web'"
        assert str(escape(words)) in body
        assert (await api.runtime.incident_service.get_incident(incident_id)).active


async def test_resolve_refusals_and_unknown_ids(api_factory: Any) -> None:
    async with api_factory() as api:
        await signed_in(api.client, api.token)
        incident_id = await open_by_hand(api)
        url = f"/admin/incidents/{incident_id}/resolve"
        csrf = csrf_of(await text(await api.client.get(url)))
        bad = await api.client.post(url, form={"csrf": csrf, "phase": "over", "message": "x"})
        body = await text(bad)
        assert bad.status_code == 422 and 'id="phase-error"' in body
        assert ">x</textarea>" in body
        forged = await api.client.post(url, form={"phase": "resolved"})
        assert forged.status_code == 403
        assert (await api.runtime.incident_service.get_incident(incident_id)).active
        for missing in (999, 2**70):
            path = f"/admin/incidents/{missing}/resolve"
            assert (await api.client.get(path)).status_code == 404
            assert (await api.client.post(path, form={"csrf": csrf})).status_code == 404


# -- the list's filters (the API's: state, monitor, since) -------------------------------


async def manual(api: Any, title: str, *components: str, resolve: bool = False) -> int:
    """A manual incident naming ``components``, a minute after the previous one."""
    service = api.runtime.incident_service
    api.clock.advance(minutes=1)
    fields = ManualIncidentFields(public_title=title, component_ids=components)
    incident = await service.open_manual(fields, created_by="tester")
    if resolve:
        api.clock.advance(minutes=1)
        await service.resolve(incident.id, created_by="tester")
    return incident.id


def listed(body: str) -> set[int]:
    return {int(n) for n in re.findall(r'href="/admin/incidents/(\d+)"', body)}


async def test_the_list_filters_by_state_and_monitor(api_factory: Any) -> None:
    async with api_factory() as api:
        await signed_in(api.client, api.token)
        web = await open_incident(api, "web")  # automatic, active
        db_past = await manual(api, "Backup late", "db", resolve=True)
        db_now = await manual(api, "Replica lag", "db")
        everyone = await manual(api, "ISP outage", resolve=True)  # names no monitor

        body = await text(await api.client.get("/admin/incidents"))
        assert listed(body) == {web, db_past, db_now, everyone}

        response = await api.client.get("/admin/incidents?state=active")
        body = await text(response)
        assert response.status_code == 200
        assert listed(body) == {web, db_now}
        assert "<h2>Past</h2>" not in body and "<h2>Resolved</h2>" not in body
        assert '<option value="active" selected>' in body

        body = await text(await api.client.get("/admin/incidents?state=resolved"))
        assert listed(body) == {db_past, everyone}
        assert "<h2>Active</h2>" not in body and "<h2>Resolved</h2>" in body

        # A monitor: its automatic incidents and the manual ones naming it, as the API.
        body = await text(await api.client.get("/admin/incidents?monitor=db"))
        assert listed(body) == {db_past, db_now}
        assert '<option value="db" selected>' in body
        status, found = await api.call("GET", "/api/v1/incidents?monitor=db")
        assert status == 200 and {i["id"] for i in found["items"]} == {db_past, db_now}

        body = await text(await api.client.get("/admin/incidents?state=resolved&monitor=db"))
        assert listed(body) == {db_past}
        body = await text(await api.client.get("/admin/incidents?state=active&monitor=gone"))
        assert listed(body) == set() and "No active incident matches." in body
        assert '<option value="gone" selected>gone (not in the config)</option>' in body


async def test_the_list_filters_by_date(api_factory: Any) -> None:
    async with api_factory() as api:
        await signed_in(api.client, api.token)
        api.clock.set(dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC))
        old = await manual(api, "Old outage", resolve=True)
        api.clock.set(dt.datetime(2024, 5, 3, 10, tzinfo=dt.UTC))
        recent = await manual(api, "Recent outage", resolve=True)
        ongoing = await manual(api, "Still going")
        body = await text(await api.client.get("/admin/incidents?since=2024-05-02"))
        assert listed(body) == {recent, ongoing}
        assert 'name="since" type="date" value="2024-05-02"' in body
        body = await text(await api.client.get("/admin/incidents?since=2024-05-01"))
        assert listed(body) == {old, recent, ongoing}


async def test_paging_keeps_the_filters(api_factory: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(incidents_module, "PAST_PAGE", 2)
    async with api_factory() as api:
        await signed_in(api.client, api.token)
        first = await manual(api, "One", "db", resolve=True)
        await manual(api, "Not db", "web", resolve=True)
        second = await manual(api, "Two", "db", resolve=True)
        third = await manual(api, "Three", "db", resolve=True)
        await manual(api, "Active db", "db")
        body = await text(await api.client.get("/admin/incidents?state=resolved&monitor=db"))
        assert listed(body) == {third, second}
        match = re.search(r'<a href="(/admin/incidents\?[^"]*)">Older incidents</a>', body)
        assert match, body
        older = html.unescape(match.group(1))
        query = parse_qs(urlsplit(older).query)
        assert query["state"] == ["resolved"] and query["monitor"] == ["db"]
        body = await text(await api.client.get(older))
        assert listed(body) == {first}
        assert "Older incidents" not in body
        assert '<option value="resolved" selected>' in body  # the form still says so
        assert 'href="/admin/incidents?state=resolved&amp;monitor=db">Newest first' in body


async def test_bad_filter_values_are_refused_beside_their_field(api_factory: Any) -> None:
    async with api_factory() as api:
        await signed_in(api.client, api.token)
        db = await manual(api, "Replica lag", "db")
        web = await manual(api, "Slow pages", "web", resolve=True)
        bad = {"state": "sideways", "monitor": "Not An Id", "since": "2024-13-45", "cursor": "zz"}
        response = await api.client.get(f"/admin/incidents?{urlencode(bad)}")
        assert response.status_code == 422
        body = await text(response)
        for field, words in (
            ("state", "must be one of: active, resolved"),
            ("monitor", "not a monitor id"),
            ("since", "must be a date, YYYY-MM-DD"),
            ("cursor", "start again from the first page"),
        ):
            assert f'id="filter-{field}-error"' in body and words in body, field
        assert 'aria-describedby="filter-state-error"' in body
        assert listed(body) == {db, web}  # a bad filter is left out, not a 500

        # The others still filter.
        response = await api.client.get("/admin/incidents?state=resolved&since=May")
        assert response.status_code == 422
        assert listed(await text(response)) == {web}
