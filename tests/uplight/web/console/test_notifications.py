"""The console's notifications: channels with queue depth, last success and last failure,
a channel's dead messages (paged), "Send a test" through the same function as
``uplight notify test``; real webhook receivers on loopback, secrets never shown."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from servers import HttpServer, Route

from uplight.incidents.service import ManualIncidentFields
from uplight.web.console import notifications as console_notifications

from .helpers import csrf_of, signed_in, text

SECRET = "CANARY-7f3a"  # in each channel's URL path and header: it must never be shown

CHANNELS = """
[defaults]
notify = ["good", "slow", "lost"]
[[notifiers]]
id = "good"
type = "webhook"
url = "{good}"
[[notifiers]]
id = "slow"
type = "webhook"
url = "{failing}"
headers = {{ Authorization = "Bearer token-{secret}" }}
retry_for = "1h"
timeout = "2s"
[[notifiers]]
id = "lost"
type = "webhook"
url = "{failing}"
headers = {{ Authorization = "Bearer token-{secret}" }}
retry_for = "0s"
timeout = "2s"
"""


@contextmanager
def receivers() -> Iterator[tuple[HttpServer, HttpServer]]:
    """One receiver that takes everything, one that refuses and echoes the secret."""
    refusal = Route(500, f"rejected /hook-{SECRET} with Bearer token-{SECRET}")
    with (
        HttpServer({"/hook": Route(204)}) as good,
        HttpServer({f"/hook-{SECRET}": refusal}) as failing,
    ):
        yield good, failing


def config(good: HttpServer, failing: HttpServer) -> str:
    return CHANNELS.format(
        good=good.url("/hook"), failing=failing.url(f"/hook-{SECRET}"), secret=SECRET
    )


async def incident(api: Any, title: str) -> int:
    """A manual incident: one incident_opened message queued for each channel."""
    opened = await api.runtime.incident_service.open_manual(
        ManualIncidentFields(public_title=title), created_by="tester"
    )
    return int(opened.id)


async def deliver(api: Any) -> None:
    """One delivery pass, after any the queueing woke (passes never overlap)."""
    await api.runtime.notifications.worker.run_once()


def row_of(body: str, channel: str) -> str:
    match = re.search(
        rf'<tr>\s*<th scope="row"><a href="/admin/notifications/{channel}">.*?</tr>', body, re.S
    )
    assert match, body
    return match.group(0)


async def get(api: Any, path: str) -> str:
    response = await api.client.get(path)
    body = await text(response)
    assert response.status_code == 200, body
    assert SECRET not in body
    return body


async def test_channels_show_queue_depth_last_success_and_a_scrubbed_failure(
    api_factory: Any,
) -> None:
    with receivers() as (good, failing):
        async with api_factory(config(good, failing)) as api:
            await signed_in(api.client, api.token)
            await incident(api, "ISP outage")
            await deliver(api)
            sent_at = api.clock.now().strftime("%Y-%m-%d %H:%M:%S")
            body = await get(api, "/admin/notifications")
            assert '<a href="/admin/notifications">Notifications</a>' in body  # the nav
            good_row, slow_row = row_of(body, "good"), row_of(body, "slow")
            assert "<td>webhook</td>\n  <td>0</td>" in good_row
            assert f"{sent_at} UTC</time></td>\n  <td>never</td>" in good_row
            assert "<td>webhook</td>\n  <td>1<br><small>oldest" in slow_row  # waits to retry
            assert "HTTP 500 Internal Server Error" in slow_row
            assert "rejected ***" in slow_row
            lost_row = row_of(body, "lost")
            assert '<td class="error">1</td>' in lost_row  # dead at once: retry_for = "0s"
            page = await get(api, "/admin/notifications/slow")
            assert "<dt>Queue depth</dt><dd>1 (oldest queued" in page
            assert "HTTP 500 Internal Server Error" in page and "No dead message." in page
            assert failing.url() not in page and good.url() not in body


async def test_a_dead_message_is_listed_with_its_scrubbed_error(api_factory: Any) -> None:
    with receivers() as (good, failing):
        async with api_factory(config(good, failing)) as api:
            await signed_in(api.client, api.token)
            incident_id = await incident(api, "Supplier down")
            await deliver(api)
            page = await get(api, "/admin/notifications/lost")
            assert "<dt>Dead messages</dt><dd>1</dd>" in page
            (row,) = re.findall(r"<tbody>\s*(<tr>.*?</tr>)", page.split('id="dead-h"')[1], re.S)
            assert "<td>incident_opened</td>" in row and "Supplier down" in row
            assert f'href="/admin/incidents/{incident_id}"' in row
            assert "<td>1</td>" in row  # attempts
            assert "ChannelError: webhook: HTTP 500" in row and "rejected ***" in row
            assert "No dead message." in await get(api, "/admin/notifications/good")


async def test_dead_messages_are_paged_newest_first(api_factory: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(console_notifications, "DEAD_PAGE", 2)
    with receivers() as (good, failing):
        async with api_factory(config(good, failing)) as api:
            await signed_in(api.client, api.token)
            for n in range(3):
                await incident(api, f"Outage {n}")
            await deliver(api)
            first = await get(api, "/admin/notifications/lost")
            assert first.index("Outage 2") < first.index("Outage 1")
            assert "Outage 0" not in first
            match = re.search(r'href="(/admin/notifications/lost\?before=\d+)">Older', first)
            assert match, first
            older = await get(api, match.group(1))
            assert "Outage 0" in older and "Outage 1" not in older
            assert "Older dead messages" not in older
            assert 'href="/admin/notifications/lost">Newest dead messages' in older
            for junk in ("x", "-1", "0", str(2**70)):  # the newest page, never an error
                assert "Outage 2" in await get(api, f"/admin/notifications/lost?before={junk}")


async def test_send_a_test_through_a_working_channel(api_factory: Any) -> None:
    with receivers() as (good, failing):
        async with api_factory(config(good, failing)) as api:
            await signed_in(api.client, api.token)
            csrf = csrf_of(await get(api, "/admin/notifications/good"))
            response = await api.client.post("/admin/notifications/good/test", form={"csrf": csrf})
            body = await text(response)
            assert response.status_code == 200, body
            assert 'id="test-result" class="saved" role="status">Sent:' in body
            assert 'aria-describedby="test-result"' in body
            (request,) = good.requests
            payload = json.loads(request.body)
            assert payload["event"] == "test" and payload["title"] == "uplight test notification"
            assert failing.requests == []


async def test_send_a_test_through_a_failing_channel_shows_its_error_scrubbed(
    api_factory: Any,
) -> None:
    with receivers() as (good, failing):
        async with api_factory(config(good, failing)) as api:
            await signed_in(api.client, api.token)
            csrf = csrf_of(await get(api, "/admin/notifications/slow"))
            response = await api.client.post("/admin/notifications/slow/test", form={"csrf": csrf})
            body = await text(response)
            assert response.status_code == 200, body
            assert SECRET not in body
            assert re.search(
                r'id="test-result" class="error" role="alert">Not sent: ChannelError: webhook:'
                r" HTTP 500 Internal Server Error: rejected \*\*\* with \*\*\*</p>",
                body,
            ), body
            (request,) = failing.requests
            assert request.headers["authorization"] == f"Bearer token-{SECRET}"  # it was sent


async def test_send_a_test_needs_csrf_and_a_known_channel(api_factory: Any) -> None:
    with receivers() as (good, failing):
        async with api_factory(config(good, failing)) as api:
            await signed_in(api.client, api.token)
            for form in ({}, {"csrf": "forged"}):
                response = await api.client.post("/admin/notifications/good/test", form=form)
                assert response.status_code == 403
                assert "security token" in await text(response)
            assert good.requests == []
            csrf = csrf_of(await get(api, "/admin/notifications"))
            missing = await api.client.post("/admin/notifications/phone/test", form={"csrf": csrf})
            assert missing.status_code == 404
            assert (await api.client.get("/admin/notifications/phone")).status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/notifications"),
        ("GET", "/admin/notifications/good"),
        ("POST", "/admin/notifications/good/test"),
    ],
)
async def test_notification_routes_need_a_session(api_factory: Any, method: str, path: str) -> None:
    with receivers() as (good, failing):
        async with api_factory(config(good, failing)) as api:
            response = await api.client.open(path, method=method)
            assert response.status_code == 303
            assert response.headers["Location"] == "/admin/sign-in"
            assert good.requests == []


async def test_no_channel(api_factory: Any) -> None:
    async with api_factory() as api:
        await signed_in(api.client, api.token)
        assert "No channel: add a" in await get(api, "/admin/notifications")
