"""The ntfy channel against a local HTTP receiver standing in for an ntfy server."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pydantic
import pytest
from servers import HttpServer, Route

from uplight import Notification
from uplight_plugins.notifiers._format import ChannelError
from uplight_plugins.notifiers.ntfy import NtfyNotifier, NtfyOptions

Receive = Callable[..., HttpServer]
Make = Callable[..., Notification]

pytestmark = pytest.mark.timeout(10)
REASON_LINE = "Reason: connect to 192.168.1.20:443 failed: connection refused (http check, 4 ms)"
OPERATOR_URL = "https://status.example.com/api/v1/incidents/17"


async def send(message: Notification, **options: Any) -> None:
    await NtfyNotifier().send(NtfyOptions.model_validate(options), message)


def test_registered_through_the_entry_point(registry) -> None:
    assert registry.notifiers["ntfy"] is NtfyNotifier


async def test_publishes_json_to_the_server_root(receive: Receive, opened: Make) -> None:
    server = receive({"/": Route(200, '{"id":"abc"}')})
    await send(opened(), server=server.url(""), topic="homelab-alerts")

    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/")
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers
    assert json.loads(request.body) == {
        "topic": "homelab-alerts",
        "title": "NAS is down",
        "message": "NAS is down since 12:00 UTC: connection refused",
        "priority": 4,
        "tags": ["red_circle"],
        "click": "https://status.example.com/incidents/17",
    }


async def test_token_tags_and_a_server_under_a_path(receive: Receive, ended: Make) -> None:
    server = receive({"/ntfy/": Route(200)})
    await send(
        ended(url=None),
        server=server.url("/ntfy"),
        topic="alerts",
        token="tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2",
        tags=["homelab", "nas"],
    )
    (request,) = server.requests
    assert request.path == "/ntfy/"
    assert request.headers["authorization"] == "Bearer tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2"
    body = json.loads(request.body)
    assert body["tags"] == ["white_check_mark", "homelab", "nas"]
    assert body["priority"] == 3
    assert "click" not in body  # no permalink, no click action


@pytest.mark.parametrize(
    ("changes", "priority"),
    [
        ({"severity": "critical"}, 5),
        ({"severity": "major"}, 4),
        ({"severity": "minor"}, 3),
        ({"event": "severity_changed", "severity": "critical", "previous_severity": "major"}, 5),
        ({"event": "incident_ended", "severity": "critical"}, 3),
        ({"event": "reminder", "severity": "minor"}, 4),
        ({"event": "incident_update"}, 3),
        ({"event": "certificate_expiring", "severity": None}, 3),
        ({"event": "test", "severity": None}, 2),
    ],
)
async def test_priority_follows_the_severity(
    receive: Receive, opened: Make, changes: dict[str, Any], priority: int
) -> None:
    server = receive({"/": Route(200)})
    await send(opened(**changes), server=server.url("/"), topic="alerts")
    assert json.loads(server.requests[0].body)["priority"] == priority


@pytest.mark.parametrize(("value", "priority"), [("urgent", 5), ("low", 2), (1, 1), ("MAX", 5)])
async def test_a_fixed_priority_overrides_the_map(
    receive: Receive, opened: Make, value: Any, priority: int
) -> None:
    server = receive({"/": Route(200)})
    await send(opened(severity="critical"), server=server.url("/"), topic="t1", priority=value)
    assert json.loads(server.requests[0].body)["priority"] == priority


async def test_a_refusal_raises_without_the_token_or_topic(receive: Receive, opened: Make) -> None:
    answer = '{"code":40301,"http":403,"error":"forbidden","link":"https://ntfy.sh/docs"}'
    server = receive({"/": Route(403, answer)})
    with pytest.raises(ChannelError) as caught:
        await send(opened(), server=server.url("/"), topic="secret-topic-9", token="tk_secret99")
    text = str(caught.value)
    assert text.startswith("ntfy: HTTP 403 Forbidden") and "forbidden" in text
    assert "tk_secret99" not in text and "secret-topic-9" not in text


async def test_a_long_message_is_cut_below_ntfys_attachment_limit(
    receive: Receive, opened: Make
) -> None:
    server = receive({"/": Route(200)})
    await send(opened(text="x" * 10_000), server=server.url("/"), topic="t1")
    message = json.loads(server.requests[0].body)["message"]
    assert len(message) == 4000 and message.endswith("…")


@pytest.mark.parametrize(
    ("options", "where", "error"),
    [
        ({}, "topic", "Field required"),
        ({"topic": "has space"}, "topic", "letters, digits"),
        ({"topic": "a" * 65}, "topic", "1 to 64"),
        ({"topic": "ok", "server": "ntfy.sh"}, "server", "http:// or https://"),
        ({"topic": "ok", "priority": 7}, "priority", "less than or equal to 5"),
        ({"topic": "ok", "priority": "loud"}, "priority", "min, low, default"),
        ({"topic": "ok", "token": "has space"}, "token", "without spaces"),
        ({"topic": "ok", "tags": [""]}, "tags", "at least 1 character"),
    ],
)
def test_invalid_options(options: dict[str, Any], where: str, error: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        NtfyOptions.model_validate(options)
    (issue,) = caught.value.errors()
    assert issue["loc"][0] == where
    assert error in issue["msg"]


def test_token_and_server_credentials_are_exclusive() -> None:
    with pytest.raises(pydantic.ValidationError, match="either a token or user:password"):
        NtfyOptions.model_validate(
            {"topic": "ok", "server": "https://u:p@ntfy.example", "token": "tk_x"}
        )


def test_defaults_to_ntfy_sh_and_masks_the_topic() -> None:
    options = NtfyOptions.model_validate({"topic": "my-private-topic"})
    assert options.server.get_secret_value() == "https://ntfy.sh"
    assert "my-private-topic" not in repr(options)


async def test_a_private_incident_says_why_in_one_line(
    receive: Receive, private_opened: Notification
) -> None:
    server = receive({"/": Route(200)})
    await send(private_opened, server=server.url(""), topic="alerts")
    (request,) = server.requests
    body = json.loads(request.body)
    assert body["message"].splitlines() == [
        "NAS is down since 2024-05-01 12:00:03 UTC (severity major).",
        REASON_LINE,
        OPERATOR_URL,
    ]
    assert body["click"] == OPERATOR_URL  # no public permalink: the operator's view
