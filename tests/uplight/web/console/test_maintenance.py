"""The console's maintenance page: windows listed by status, scheduled through the form
(local times in a named zone, stored in UTC), completed and cancelled after a
confirmation step, refusals beside their field with the API's words."""

from __future__ import annotations

import datetime as dt
from typing import Any

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
        assert response.headers["Location"] == f"{URL}?saved=scheduled"
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
