"""The console's maintenance page: windows listed by status, scheduled and edited through
a form (local times in a named zone, stored in UTC), completed, cancelled and purged
after a confirmation step, refusals beside their field with the API's words."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlencode

from .helpers import csrf_of, signed_in, text

URL = "/admin/maintenance"


def local(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M")


async def schedule(api: Any, csrf: str, **fields: Any) -> Any:
    now = api.clock.now().astimezone(dt.UTC)
    form = {
        "csrf": csrf,
        "title": "Database upgrade",
        "description": "Minor version.",
        "severity": "warning",
        "component_ids": "web",
        "timezone": "UTC",
        "starts_at": local(now + dt.timedelta(hours=1)),
        "ends_at": local(now + dt.timedelta(hours=2)),
        **fields,
    }
    return await api.client.post(URL, form=form)


async def test_every_maintenance_route_needs_a_session(api_factory: Any) -> None:
    async with api_factory() as api:
        for method, path in (
            ("GET", URL),
            ("POST", URL),
            ("GET", f"{URL}/1/complete"),
            ("POST", f"{URL}/1/complete"),
            ("GET", f"{URL}/1/cancel"),
            ("POST", f"{URL}/1/cancel"),
            ("GET", f"{URL}/1/edit"),
            ("POST", f"{URL}/1/edit"),
            ("GET", f"{URL}/1/purge"),
            ("POST", f"{URL}/1/purge"),
        ):
            response = await api.client.open(path, method=method)
            assert response.status_code == 303, path
            assert response.headers["Location"] == "/admin/sign-in"


async def test_schedule_through_the_form_lists_it_and_shows_it_on_status(
    api_factory: Any,
) -> None:
    async with api_factory() as api:
        await signed_in(api.client, api.token)
        assert "Database upgrade" not in await text(await api.client.get("/status"))  # cached
        body = await text(await api.client.get(URL))
        assert 'href="/admin/maintenance"' in body and 'value="web"' in body
        response = await schedule(api, csrf_of(body))
        assert response.status_code == 303, await text(response)
        assert response.headers["Location"] == f"{URL}?saved=scheduled&zone=UTC"
        page = await api.runtime.maintenance.list_windows()
        [window] = page.items
        assert window.component_ids == ("web",) and window.created_by == "tester"
        assert window.severity == "warning" and window.status == "scheduled"
        listed = await text(await api.client.get(f"{URL}?status=scheduled"))
        assert "Database upgrade" in listed
        assert "Database upgrade" not in await text(await api.client.get(f"{URL}?status=active"))
        assert "Database upgrade" in await text(await api.client.get("/status"))


async def test_times_are_read_in_the_named_zone_and_stored_in_utc(api_factory: Any) -> None:
    async with api_factory() as api:
        csrf = await signed_in(api.client, api.token)
        response = await schedule(
            api,
            csrf,
            timezone="Asia/Tokyo",
            starts_at="2040-01-05T12:00",
            ends_at="2040-01-05T13:30",
        )
        assert response.status_code == 303, await text(response)
        [window] = (await api.runtime.maintenance.list_windows()).items
        assert window.starts_at == dt.datetime(2040, 1, 5, 3, 0, tzinfo=dt.UTC)
        assert window.ends_at == dt.datetime(2040, 1, 5, 4, 30, tzinfo=dt.UTC)


async def test_a_browser_zone_is_converted_to_utc(api_factory: Any) -> None:
    """What console.js sends for a browser in Berlin: summer (+02:00) and winter (+01:00)."""
    async with api_factory() as api:
        csrf = await signed_in(api.client, api.token)
        response = await schedule(
            api,
            csrf,
            title="Summer",
            timezone="Europe/Berlin",
            starts_at="2040-07-01T09:00",
            ends_at="2040-07-01T10:15",
        )
        assert response.status_code == 303, await text(response)
        assert response.headers["Location"] == f"{URL}?saved=scheduled&zone=Europe%2FBerlin"
        said = await text(await api.client.get(response.headers["Location"]))
        assert "its times were read in Europe/Berlin and are shown here in UTC" in said
        assert "2040-07-01 07:00 UTC" in said and "2040-07-01 08:15 UTC" in said
        response = await schedule(
            api,
            csrf,
            title="Winter",
            timezone="Europe/Berlin",
            starts_at="2040-01-10T09:00",
            ends_at="2040-01-10T10:00",
        )
        assert response.status_code == 303, await text(response)
        stored = {w.title: w for w in (await api.runtime.maintenance.list_windows()).items}
        assert stored["Summer"].starts_at == dt.datetime(2040, 7, 1, 7, 0, tzinfo=dt.UTC)
        assert stored["Summer"].ends_at == dt.datetime(2040, 7, 1, 8, 15, tzinfo=dt.UTC)
        assert stored["Winter"].starts_at == dt.datetime(2040, 1, 10, 8, 0, tzinfo=dt.UTC)
        # The edit page, asked for Berlin (console.js's edit link), shows them so again.
        winter = stored["Winter"].id
        shown = await text(await api.client.get(f"{URL}/{winter}/edit?timezone=Europe/Berlin"))
        assert 'value="2040-01-10T09:00"' in shown and 'value="Europe/Berlin"' in shown


async def test_the_fresh_form_says_utc_and_lets_the_script_set_the_zone(
    api_factory: Any,
) -> None:
    async with api_factory() as api:
        csrf = await signed_in(api.client, api.token)
        body = await text(await api.client.get(URL))
        field = re.search(r'<input id="timezone"[^>]*>', body)
        assert field and 'value="UTC"' in field.group(0)
        assert 'data-browser-zone="timezone-hint"' in field.group(0)
        assert "The times below are read in this zone: UTC" in body  # without script
        assert "Starts (date and time in that zone)" in body
        assert "/static/console.js" in body and "<script>" not in body  # no inline script
        # A refused form keeps the zone that was sent: the script leaves it alone.
        response = await schedule(api, csrf, timezone="America/New_York", title=" ")
        body = await text(response)
        assert response.status_code == 422
        assert 'value="America/New_York"' in body and "data-browser-zone" not in body
        await schedule(api, csrf)
        body = await text(await api.client.get(URL))
        assert re.search(r'<a href="/admin/maintenance/\d+/edit" data-zone-link>Edit</a>', body)
        [window] = (await api.runtime.maintenance.list_windows()).items
        edit = await text(await api.client.get(f"{URL}/{window.id}/edit"))
        assert "data-browser-zone" not in edit  # its times are shown in the zone it names


async def test_an_unknown_zone_is_refused_clearly(api_factory: Any) -> None:
    async with api_factory() as api:
        csrf = await signed_in(api.client, api.token)
        for zone in ("Mars/Olympus", "../../etc/passwd", "Europe/" + "x" * 120, "+02:00"):
            response = await schedule(api, csrf, timezone=zone)
            assert response.status_code == 422, zone
            body = await text(response)
            assert 'id="timezone-error"' in body and 'aria-describedby="timezone-error"' in body
            assert "not a known time zone: give an IANA name such as Europe/Paris" in body
        assert (await api.runtime.maintenance.list_windows()).items == []


async def test_a_local_time_the_clocks_skip_is_refused(api_factory: Any) -> None:
    async with api_factory() as api:
        csrf = await signed_in(api.client, api.token)
        # Berlin's clocks go from 02:00 to 03:00 on 25 March 2040.
        response = await schedule(
            api,
            csrf,
            timezone="Europe/Berlin",
            starts_at="2040-03-25T02:30",
            ends_at="2040-03-25T04:00",
        )
        assert response.status_code == 422
        body = await text(response)
        assert 'id="starts_at-error"' in body
        assert "2040-03-25 02:30 does not exist in Europe/Berlin" in body
        assert (await api.runtime.maintenance.list_windows()).items == []
        # ... and back from 03:00 to 02:00 on 28 October: 02:30 is the first of the two.
        response = await schedule(
            api,
            csrf,
            timezone="Europe/Berlin",
            starts_at="2040-10-28T02:30",
            ends_at="2040-10-28T04:00",
        )
        assert response.status_code == 303, await text(response)
        [window] = (await api.runtime.maintenance.list_windows()).items
        assert window.starts_at == dt.datetime(2040, 10, 28, 0, 30, tzinfo=dt.UTC)


async def test_refusals_are_shown_beside_their_field(api_factory: Any) -> None:
    async with api_factory() as api:
        csrf = await signed_in(api.client, api.token)
        response = await schedule(api, csrf, ends_at="2000-01-01T00:00")
        assert response.status_code == 422
        body = await text(response)
        assert 'id="ends_at-error"' in body and "must be after starts_at" in body
        assert 'value="Database upgrade"' in body  # the form keeps what was typed
        response = await schedule(api, csrf, timezone="Mars/Olympus", title=" ")
        assert response.status_code == 422
        body = await text(response)
        assert 'id="timezone-error"' in body and 'id="title-error"' in body
        response = await schedule(api, csrf, component_ids="nope")
        body = await text(response)
        assert response.status_code == 422 and 'id="component_ids-error"' in body
        assert "no monitor has id &#39;nope&#39;" in body
        assert (await api.runtime.maintenance.list_windows()).items == []


async def test_missing_or_forged_csrf_is_refused(api_factory: Any) -> None:
    async with api_factory() as api:
        await signed_in(api.client, api.token)
        for csrf in ("", "forged"):
            response = await schedule(api, csrf)
            assert response.status_code == 403
        assert (await api.runtime.maintenance.list_windows()).items == []


async def test_complete_and_cancel_after_confirmation(api_factory: Any) -> None:
    async with api_factory() as api:
        csrf = await signed_in(api.client, api.token)
        assert (await schedule(api, csrf, title="Now")).status_code == 303
        assert (await schedule(api, csrf, title="Later")).status_code == 303
        windows = {w.title: w for w in (await api.runtime.maintenance.list_windows()).items}
        now, later = windows["Now"], windows["Later"]
        api.clock.set(api.clock.now() + dt.timedelta(minutes=90))
        assert f'href="{URL}/{now.id}/complete"' in await text(await api.client.get(URL))

        confirm = await api.client.get(f"{URL}/{now.id}/complete")
        assert confirm.status_code == 200
        response = await api.client.post(
            f"{URL}/{now.id}/complete", form={"csrf": csrf_of(await text(confirm))}
        )
        assert response.status_code == 303
        assert (await api.runtime.maintenance.get(now.id)).status == "completed"

        response = await api.client.post(f"{URL}/{later.id}/cancel", form={"csrf": csrf})
        assert response.status_code == 303
        assert (await api.runtime.maintenance.get(later.id)).status == "cancelled"

        refused = await api.client.post(f"{URL}/{later.id}/complete", form={"csrf": csrf})
        assert refused.status_code == 422 and 'id="form-error"' in await text(refused)
        missing = await api.client.post(f"{URL}/999/cancel", form={"csrf": csrf})
        assert missing.status_code == 404
        assert (await api.client.get(f"{URL}/{2**70}/cancel")).status_code == 404


async def scheduled(api: Any, csrf: str, **fields: Any) -> Any:
    assert (await schedule(api, csrf, **fields)).status_code == 303
    page = await api.runtime.maintenance.list_windows()
    return next(w for w in page.items if w.title == fields.get("title", "Database upgrade"))


async def post_edit(api: Any, window_id: int, form: dict[str, Any]) -> Any:
    """Post the edit form as a browser does: one ``component_ids`` per ticked box."""
    return await api.client.post(
        f"{URL}/{window_id}/edit",
        data=urlencode(form, doseq=True),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def edit_form(html: str) -> dict[str, Any]:
    """What the edit form would post as shown: every field with its shown value."""
    form: dict[str, Any] = {"csrf": csrf_of(html)}
    for name in ("title", "timezone", "starts_at", "ends_at"):
        match = re.search(rf'<input id="{name}" name="{name}"[^>]* value="([^"]*)"', html)
        assert match, name
        form[name] = match.group(1)
    description = re.search(r'name="description"[^>]*>([^<]*)</textarea>', html)
    severity = re.search(r'<option value="(\w+)" selected>', html)
    assert description and severity
    form["description"] = description.group(1)
    form["severity"] = severity.group(1)
    form["component_ids"] = re.findall(r'name="component_ids" value="([^"]*)" checked', html)
    return form


async def test_edit_changes_the_window_and_shows_its_times_in_the_zone(api_factory: Any) -> None:
    async with api_factory() as api:
        csrf = await signed_in(api.client, api.token)
        window = await scheduled(
            api,
            csrf,
            timezone="Europe/Paris",
            starts_at="2040-07-01T10:00",
            ends_at="2040-07-01T12:00",
        )
        assert f'href="{URL}/{window.id}/edit"' in await text(await api.client.get(URL))
        shown = await text(await api.client.get(f"{URL}/{window.id}/edit?timezone=Europe/Paris"))
        form = edit_form(shown)
        assert (form["starts_at"], form["ends_at"]) == ("2040-07-01T10:00", "2040-07-01T12:00")
        assert form["component_ids"] == ["web"] and form["severity"] == "warning"
        form.update(title="Database upgrade (longer)", ends_at="2040-07-01T13:15")
        form["component_ids"] = ["web", "db"]
        response = await post_edit(api, window.id, form)
        assert response.status_code == 303, await text(response)
        assert response.headers["Location"] == f"{URL}?saved=updated"
        after = await api.runtime.maintenance.get(window.id)
        assert after.title == "Database upgrade (longer)"
        assert after.starts_at == dt.datetime(2040, 7, 1, 8, 0, tzinfo=dt.UTC)  # unchanged
        assert after.ends_at == dt.datetime(2040, 7, 1, 11, 15, tzinfo=dt.UTC)  # CEST is +2
        assert set(after.component_ids) == {"web", "db"}
        assert after.description == "Minor version." and after.severity == "warning"


async def test_a_cancelled_window_takes_its_text_only(api_factory: Any) -> None:
    async with api_factory() as api:
        csrf = await signed_in(api.client, api.token)
        window = await scheduled(api, csrf)
        assert (
            await api.client.post(f"{URL}/{window.id}/cancel", form={"csrf": csrf})
        ).status_code == 303
        form = edit_form(await text(await api.client.get(f"{URL}/{window.id}/edit")))
        form["title"] = "[cancelled] Database upgrade"
        response = await post_edit(api, window.id, form)
        assert response.status_code == 303, await text(response)  # the echoed times are no change
        assert (await api.runtime.maintenance.get(window.id)).title == form["title"]
        form["severity"] = "critical"
        refused = await post_edit(api, window.id, form)
        body = await text(refused)
        assert refused.status_code == 422 and 'id="severity-error"' in body
        assert "only title and description can" in body


async def test_edit_refusals_are_shown_beside_their_field(api_factory: Any) -> None:
    async with api_factory() as api:
        csrf = await signed_in(api.client, api.token)
        window = await scheduled(api, csrf)
        form = edit_form(await text(await api.client.get(f"{URL}/{window.id}/edit")))
        response = await post_edit(
            api, window.id, {**form, "ends_at": "2000-01-01T00:00", "title": " "}
        )
        assert response.status_code == 422
        body = await text(response)
        assert 'id="title-error"' in body and "must not be blank" in body
        response = await post_edit(api, window.id, {**form, "ends_at": "2000-01-01T00:00"})
        body = await text(response)
        assert 'id="ends_at-error"' in body and "must be after starts_at" in body
        assert 'value="2000-01-01T00:00"' in body  # what was typed is kept
        response = await post_edit(api, window.id, {**form, "timezone": "Mars/Olympus"})
        assert response.status_code == 422 and 'id="timezone-error"' in await text(response)
        assert await api.runtime.maintenance.get(window.id) == window
        forged = await post_edit(api, window.id, {**form, "csrf": "x"})
        assert forged.status_code == 403


async def test_editing_an_ended_window_is_refused_with_the_apis_message(api_factory: Any) -> None:
    async with api_factory() as api:
        csrf = await signed_in(api.client, api.token)
        window = await scheduled(api, csrf)
        form = edit_form(await text(await api.client.get(f"{URL}/{window.id}/edit")))
        api.clock.set(api.clock.now() + dt.timedelta(hours=3))  # past its end: completed
        page = await text(await api.client.get(f"{URL}/{window.id}/edit"))
        assert "cannot change" in page
        response = await post_edit(api, window.id, {**form, "title": "New"})
        body = await text(response)
        assert response.status_code == 422 and 'id="form-error"' in body
        assert f"maintenance window {window.id} is completed and cannot be changed" in body
        assert (await api.runtime.maintenance.get(window.id)).title == "Database upgrade"
        assert f'href="{URL}/{window.id}/edit"' not in await text(await api.client.get(URL))


async def test_purge_deletes_the_window_after_confirmation(api_factory: Any) -> None:
    async with api_factory() as api:
        csrf = await signed_in(api.client, api.token)
        window = await scheduled(api, csrf)
        assert "Database upgrade" in await text(await api.client.get("/status"))
        assert f'href="{URL}/{window.id}/purge"' in await text(await api.client.get(URL))
        confirm = await api.client.get(f"{URL}/{window.id}/purge")
        body = await text(confirm)
        assert confirm.status_code == 200 and "deletes the window for good" in body
        assert (await api.runtime.maintenance.list_windows()).items  # nothing yet
        response = await api.client.post(f"{URL}/{window.id}/purge", form={"csrf": csrf_of(body)})
        assert response.status_code == 303
        assert response.headers["Location"] == f"{URL}?saved=purge"
        assert (await api.runtime.maintenance.list_windows()).items == []
        listed = await text(await api.client.get(f"{URL}?saved=purge"))
        assert "Purged" in listed and "Database upgrade" not in listed
        assert "Database upgrade" not in await text(await api.client.get("/status"))
        again = await api.client.post(f"{URL}/{window.id}/purge", form={"csrf": csrf})
        assert again.status_code == 404
        assert (await api.client.get(f"{URL}/{window.id}/edit")).status_code == 404
