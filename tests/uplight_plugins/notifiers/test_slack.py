"""The slack channel against a local HTTP receiver standing in for an incoming webhook."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pydantic
import pytest
from servers import HttpServer, Route

from uplight import Notification
from uplight_plugins.notifiers._format import ChannelError
from uplight_plugins.notifiers.slack import SlackNotifier, SlackOptions

Receive = Callable[..., HttpServer]
Make = Callable[..., Notification]

pytestmark = pytest.mark.timeout(10)
HOOK = "/services/T0AAAAAAA/B0BBBBBBB/xoxSecretPart24chars000"
REASON_LINE = "Reason: connect to 192.168.1.20:443 failed: connection refused (http check, 4 ms)"
OPERATOR_URL = "https://status.example.com/api/v1/incidents/17"


async def deliver(server: HttpServer, message: Notification) -> dict[str, Any]:
    options = SlackOptions.model_validate({"webhook_url": server.url(HOOK)})
    await SlackNotifier().send(options, message)
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", HOOK)
    assert request.headers["content-type"] == "application/json"
    return json.loads(request.body)


def test_registered_through_the_entry_point(registry) -> None:
    assert registry.notifiers["slack"] is SlackNotifier


async def test_an_opened_incident_as_blocks(receive: Receive, opened: Make) -> None:
    body = await deliver(receive({HOOK: Route(200, "ok")}), opened(severity="critical"))

    assert body["text"].startswith(":rotating_light: NAS is down\n")
    assert body["text"].endswith("<https://status.example.com/incidents/17|View incident>")
    header, text, facts, actions = body["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": ":rotating_light: NAS is down", "emoji": True},
    }
    assert text["text"] == {
        "type": "mrkdwn",
        "text": "NAS is down since 12:00 UTC: connection refused",
    }
    assert [f["text"] for f in facts["fields"]] == [
        "*Monitor*\nNAS",
        "*Severity*\ncritical",
        "*Status*\nmajor outage",
        "*Started*\n2024-05-01 12:00 UTC",
    ]
    assert actions["elements"] == [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "View incident"},
            "url": "https://status.example.com/incidents/17",
        }
    ]


async def test_a_recovery_shows_the_downtime(receive: Receive, ended: Make) -> None:
    body = await deliver(receive({HOOK: Route(200, "ok")}), ended(url=None))
    assert body["blocks"][0]["text"]["text"] == ":white_check_mark: NAS has recovered"
    fields = [f["text"] for f in body["blocks"][2]["fields"]]
    assert "*Ended*\n2024-05-01 13:05 UTC" in fields
    assert "*Downtime*\n1h 5m" in fields
    assert all(block["type"] != "actions" for block in body["blocks"])  # no permalink


@pytest.mark.parametrize(
    ("changes", "emoji"),
    [
        ({"severity": "major"}, ":red_circle:"),
        ({"severity": "minor"}, ":large_yellow_circle:"),
        ({"event": "test", "severity": None}, ":information_source:"),
        ({"event": "severity_changed", "severity": "critical"}, ":rotating_light:"),
    ],
)
async def test_the_emoji_says_how_bad(
    receive: Receive, opened: Make, changes: dict[str, Any], emoji: str
) -> None:
    body = await deliver(receive({HOOK: Route(200, "ok")}), opened(**changes))
    assert body["blocks"][0]["text"]["text"].startswith(emoji + " ")


async def test_control_characters_are_escaped(receive: Receive, opened: Make) -> None:
    # A monitor name must not become a mention or a link in Slack.
    message = opened(monitor_name="<!channel> & co", text="a <b> & c")
    body = await deliver(receive({HOOK: Route(200, "ok")}), message)
    assert body["blocks"][1]["text"]["text"] == "a &lt;b&gt; &amp; c"
    assert body["blocks"][2]["fields"][0]["text"] == "*Monitor*\n&lt;!channel&gt; &amp; co"
    assert "<!channel>" not in json.dumps(body)


async def test_a_refusal_raises_without_the_webhook_url(receive: Receive, opened: Make) -> None:
    server = receive({HOOK: Route(404, "no_service")})
    options = SlackOptions.model_validate({"webhook_url": server.url(HOOK)})
    with pytest.raises(ChannelError) as caught:
        await SlackNotifier().send(options, opened())
    text = str(caught.value)
    assert text == "slack: HTTP 404 Not Found: no_service"
    assert "xoxSecretPart" not in text and "B0BBBBBBB" not in text


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({}, "Field required"),
        ({"webhook_url": "hooks.slack.com/services/x"}, "http:// or https://"),
        ({"webhook_url": "https://hooks.slack.com/x", "channel": "#ops"}, "Extra inputs"),
    ],
)
def test_invalid_options(options: dict[str, Any], error: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=error):
        SlackOptions.model_validate(options)


async def test_a_private_incident_says_why_in_one_line(
    receive: Receive, private_opened: Notification
) -> None:
    body = await deliver(receive({HOOK: Route(200, "ok")}), private_opened)
    _, text, facts, actions = body["blocks"]
    assert REASON_LINE in text["text"]["text"].splitlines()
    assert REASON_LINE in body["text"].splitlines()
    assert "*Check*\nhttp" in [f["text"] for f in facts["fields"]]
    assert "*Latency*\n4 ms" in [f["text"] for f in facts["fields"]]
    assert actions["elements"][0]["url"] == OPERATOR_URL
