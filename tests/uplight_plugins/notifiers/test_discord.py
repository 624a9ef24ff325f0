"""The discord channel against a local HTTP receiver standing in for a channel webhook."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pydantic
import pytest
from servers import HttpServer, Route

from uplight import Notification
from uplight_plugins.notifiers._format import ChannelError
from uplight_plugins.notifiers.discord import COLOURS, DiscordNotifier, DiscordOptions

Receive = Callable[..., HttpServer]
Make = Callable[..., Notification]

pytestmark = pytest.mark.timeout(10)
REASON_LINE = "Reason: connect to 192.168.1.20:443 failed: connection refused (http check, 4 ms)"
OPERATOR_URL = "https://status.example.com/api/v1/incidents/17"
HOOK = "/api/webhooks/112233445566778899/DiscordTokenPart-abcdefghijklmnop"


async def deliver(server: HttpServer, message: Notification, **options: Any) -> dict[str, Any]:
    validated = DiscordOptions.model_validate({"webhook_url": server.url(HOOK), **options})
    await DiscordNotifier().send(validated, message)
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", HOOK)
    assert request.headers["content-type"] == "application/json"
    return json.loads(request.body)


def test_registered_through_the_entry_point(registry) -> None:
    assert registry.notifiers["discord"] is DiscordNotifier


async def test_an_opened_incident_as_an_embed(receive: Receive, opened: Make) -> None:
    # Discord answers 204 No Content to a webhook post without ?wait=true.
    body = await deliver(receive({HOOK: Route(204)}), opened(), username="uplight")

    assert body["username"] == "uplight"
    assert body["allowed_mentions"] == {"parse": []}
    (embed,) = body["embeds"]
    assert embed["title"] == "NAS is down"
    assert embed["description"] == "NAS is down since 12:00 UTC: connection refused"
    assert embed["url"] == "https://status.example.com/incidents/17"
    assert embed["timestamp"] == "2024-05-01T12:00:03Z"
    assert embed["color"] == 0xE74C3C
    assert embed["fields"] == [
        {"name": "Monitor", "value": "NAS", "inline": True},
        {"name": "Severity", "value": "major", "inline": True},
        {"name": "Status", "value": "major outage", "inline": True},
        {"name": "Started", "value": "2024-05-01 12:00 UTC", "inline": True},
    ]


async def test_a_recovery_is_green_with_the_downtime(receive: Receive, ended: Make) -> None:
    body = await deliver(receive({HOOK: Route(204)}), ended(url=None))
    (embed,) = body["embeds"]
    assert embed["color"] == COLOURS["recovered"] == 0x2ECC71
    assert {"name": "Downtime", "value": "1h 5m", "inline": True} in embed["fields"]
    assert "url" not in embed and "username" not in body


@pytest.mark.parametrize(
    ("changes", "colour"),
    [
        ({"severity": "critical"}, COLOURS["critical"]),
        ({"severity": "minor"}, COLOURS["minor"]),
        ({"event": "reminder", "severity": "major"}, COLOURS["major"]),
        ({"event": "certificate_expiring", "severity": None}, COLOURS["minor"]),
        ({"event": "incident_update"}, COLOURS["info"]),
    ],
)
async def test_the_colour_says_how_bad(
    receive: Receive, opened: Make, changes: dict[str, Any], colour: int
) -> None:
    body = await deliver(receive({HOOK: Route(204)}), opened(**changes))
    assert body["embeds"][0]["color"] == colour
    assert len(set(COLOURS.values())) == len(COLOURS)


async def test_markdown_in_names_is_shown_as_written(receive: Receive, opened: Make) -> None:
    message = opened(monitor_name="my_nas *prod*", previous_severity="minor")
    body = await deliver(receive({HOOK: Route(204)}), message)
    fields = {f["name"]: f["value"] for f in body["embeds"][0]["fields"]}
    assert fields["Monitor"] == r"my\_nas \*prod\*"
    assert fields["Severity"] == "major (was minor)"


async def test_long_values_are_cut_to_discords_limits(receive: Receive, opened: Make) -> None:
    message = opened(title="T" * 400, text="d" * 5000)
    embed = (await deliver(receive({HOOK: Route(204)}), message))["embeds"][0]
    assert len(embed["title"]) == 256 and len(embed["description"]) == 4096


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (429, '{"message": "You are being rate limited.", "retry_after": 1.5}'),
        (401, '{"message": "Invalid Webhook Token", "code": 50027}'),
    ],
)
async def test_failures_raise_without_the_token(
    receive: Receive, opened: Make, status: int, answer: str
) -> None:
    server = receive({HOOK: Route(status, answer)})
    options = DiscordOptions.model_validate({"webhook_url": server.url(HOOK)})
    with pytest.raises(ChannelError, match=rf"^discord: HTTP {status} ") as caught:
        await DiscordNotifier().send(options, opened())
    assert "DiscordTokenPart" not in str(caught.value)
    assert "112233445566778899" not in str(caught.value)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({}, "Field required"),
        ({"webhook_url": "discord.com/api/webhooks/1/x"}, "http:// or https://"),
        ({"webhook_url": "https://discord.com/api/webhooks/1/x", "username": ""}, "at least 1"),
        ({"webhook_url": "https://discord.com/x", "username": "My Discord Bot"}, "'discord'"),
    ],
)
def test_invalid_options(options: dict[str, Any], error: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=error):
        DiscordOptions.model_validate(options)


async def test_a_private_incident_says_why_in_one_line(
    receive: Receive, private_opened: Notification
) -> None:
    server = receive({"/api/webhooks/1/tok": Route(204)})
    options = DiscordOptions.model_validate({"webhook_url": server.url("/api/webhooks/1/tok")})
    await DiscordNotifier().send(options, private_opened)
    (request,) = server.requests
    (embed,) = json.loads(request.body)["embeds"]
    assert REASON_LINE in embed["description"].splitlines()
    assert {"name": "Check", "value": "http", "inline": True} in embed["fields"]
    assert {"name": "Latency", "value": "4 ms", "inline": True} in embed["fields"]
    assert embed["url"] == OPERATOR_URL
