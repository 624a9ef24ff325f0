"""The apprise channel through Apprise's JSON and form webhooks, pointed at a local receiver.

Needs the optional Apprise library (``pip install 'uplight[apprise]'``, part of the
test extra); every test that needs it skips with the reason when it is missing.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import subprocess
import sys
import urllib.parse
from collections.abc import Callable
from typing import Any

import pydantic
import pytest
from servers import HttpServer, Route, refused_port

from uplight import Notification
from uplight_plugins.notifiers._format import ChannelError
from uplight_plugins.notifiers.apprise import AppriseNotifier, AppriseOptions

Receive = Callable[..., HttpServer]
Make = Callable[..., Notification]

pytestmark = pytest.mark.timeout(20)
REASON_LINE = "Reason: connect to 192.168.1.20:443 failed: connection refused (http check, 4 ms)"
OPERATOR_URL = "https://status.example.com/api/v1/incidents/17"
HAS_APPRISE = importlib.util.find_spec("apprise") is not None
needs_apprise = pytest.mark.skipif(
    not HAS_APPRISE, reason="Apprise is not installed: pip install 'uplight[apprise]'"
)


async def send(message: Notification, *urls: str) -> None:
    options = AppriseOptions.model_validate({"urls": list(urls)})
    await AppriseNotifier().send(options, message)


def test_registered_even_without_the_library(registry) -> None:
    # The module never imports apprise at import time: the channel is always listed.
    assert registry.notifiers["apprise"] is AppriseNotifier
    code = (
        "import sys; sys.modules['apprise'] = None\n"  # makes `import apprise` fail
        "import uplight_plugins.notifiers.apprise as m\n"
        "from uplight_plugins.notifiers._format import ChannelError\n"
        "try:\n"
        "    m.AppriseOptions.model_validate({'urls': ['json://localhost']})\n"
        "except Exception as exc:\n"
        "    print(exc)\n"
        "try:\n"
        "    m.load_apprise()\n"
        "except ChannelError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    assert "urls\n  Value error, the apprise channel needs the Apprise library" in out
    assert out.count("pip install 'uplight[apprise]'") == 2


@needs_apprise
async def test_json_webhook_receives_title_body_and_type(receive: Receive, opened: Make) -> None:
    server = receive({"/notify": Route(200, "ok")})
    await send(opened(severity="critical"), f"json://127.0.0.1:{server.port}/notify")

    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/notify")
    body = json.loads(request.body)
    assert body["title"] == "NAS is down"
    assert body["message"] == (
        "NAS is down since 12:00 UTC: connection refused\n\nhttps://status.example.com/incidents/17"
    )
    assert body["type"] == "failure"


@needs_apprise
@pytest.mark.parametrize(
    ("changes", "notify_type"),
    [
        ({"severity": "minor"}, "warning"),
        ({"event": "incident_ended", "severity": "major"}, "success"),
        ({"event": "test", "severity": None}, "info"),
    ],
)
async def test_the_notify_type_follows_the_severity(
    receive: Receive, opened: Make, changes: dict[str, Any], notify_type: str
) -> None:
    server = receive({"/n": Route(200)})
    await send(opened(**changes), f"json://127.0.0.1:{server.port}/n")
    assert json.loads(server.requests[0].body)["type"] == notify_type


@needs_apprise
async def test_every_url_gets_the_message(receive: Receive, ended: Make) -> None:
    first, second = receive({"/a": Route(200)}), receive({"/b": Route(200)})
    await send(
        ended(url=None),
        f"json://127.0.0.1:{first.port}/a",
        f"form://127.0.0.1:{second.port}/b",
    )
    assert json.loads(first.requests[0].body)["message"] == "NAS is back after 1h 5m"
    form = urllib.parse.parse_qs(second.requests[0].body.decode())
    assert form["title"] == ["NAS has recovered"] and form["type"] == ["success"]


@needs_apprise
async def test_a_failing_service_raises_without_its_credentials(
    receive: Receive, opened: Make
) -> None:
    server = receive({"/n": Route(500, "broken")})
    url = f"json://hookuser:AppriseSecret42@127.0.0.1:{server.port}/n"
    with pytest.raises(ChannelError, match=r"^apprise: delivery failed: ") as caught:
        await send(opened(), url)
    assert len(server.requests) == 1  # one attempt: the outbox owns retries
    assert "AppriseSecret42" not in str(caught.value)
    assert server.requests[0].headers["authorization"].startswith("Basic ")


@needs_apprise
async def test_an_unreachable_service_raises(opened: Make) -> None:
    with pytest.raises(ChannelError, match=r"^apprise: delivery failed"):
        await send(opened(), f"json://127.0.0.1:{refused_port()}/n")


@needs_apprise
@pytest.mark.parametrize(
    ("urls", "error"),
    [
        ([], "at least 1"),
        (["nosuchservice://token"], "URL number 1 is not one Apprise understands"),
        (["json://127.0.0.1/ok", "not a url"], "URL number 2"),
    ],
)
def test_invalid_urls(urls: list[str], error: str) -> None:
    # Apprise logs the URL it cannot parse: that line must not reach uplight's log
    # (a handler on the root logger; pytest's caplog would see more than the app).
    logged = RootRecorder()
    logging.getLogger().addHandler(logged)
    try:
        with pytest.raises(pydantic.ValidationError) as caught:
            AppriseOptions.model_validate({"urls": urls})
    finally:
        logging.getLogger().removeHandler(logged)
    (issue,) = caught.value.errors()
    assert issue["loc"] == ("urls",) and error in issue["msg"]
    assert "nosuchservice://token" not in issue["msg"]
    assert not any("token" in line for line in logged.lines)


class RootRecorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@needs_apprise
def test_one_url_may_be_a_string_and_is_masked() -> None:
    options = AppriseOptions.model_validate({"urls": "tgram://123456:SecretBotToken/42"})
    assert len(options.urls) == 1
    assert "SecretBotToken" not in repr(options)


@needs_apprise
async def test_a_private_incident_says_why_in_one_line(
    receive: Receive, private_opened: Notification
) -> None:
    server = receive({"/hook": Route(200)})
    await send(private_opened, f"json://127.0.0.1:{server.port}/hook")
    (request,) = server.requests
    body = json.loads(request.body)
    assert REASON_LINE in body["message"].splitlines()
    assert OPERATOR_URL in body["message"].splitlines()


@needs_apprise
async def test_the_link_the_text_ends_with_is_not_repeated(receive: Receive, opened: Make) -> None:
    server = receive({"/hook": Route(200)})
    url = "https://status.example.com/incidents/17"
    await send(opened(text=f"NAS is down.\n{url}"), f"json://127.0.0.1:{server.port}/hook")
    (request,) = server.requests
    assert json.loads(request.body)["message"] == f"NAS is down.\n{url}"
