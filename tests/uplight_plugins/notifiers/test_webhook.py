"""The webhook channel against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic
import pytest
from servers import HttpServer, Route, refused_port

from uplight import Notification, __version__
from uplight_plugins.notifiers._format import ChannelError
from uplight_plugins.notifiers.webhook import WebhookNotifier, WebhookOptions

Receive = Callable[..., HttpServer]
Make = Callable[..., Notification]

pytestmark = pytest.mark.timeout(10)
TOKEN = "tok-3f9a81c2"  # stands for a credential inside the webhook URL


async def send(message: Notification, **options: Any) -> None:
    await WebhookNotifier().send(WebhookOptions.model_validate(options), message)


def shows_a_chain(exc: BaseException) -> bool:
    """Would a logged traceback print another exception (whose text may hold the URL)?"""
    return exc.__cause__ is not None or (
        exc.__context__ is not None and not exc.__suppress_context__
    )


def test_registered_through_the_entry_point(registry) -> None:
    assert registry.notifiers["webhook"] is WebhookNotifier
    assert registry.plugins["webhook"].provides == {"notifier": ["webhook"]}


async def test_posts_the_notification_as_json(receive: Receive, opened: Make) -> None:
    server = receive({"/hook": Route(200, "ok")})
    message = opened()
    await send(message, url=server.url("/hook"))

    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/hook")
    payload = json.loads(request.body)
    assert payload == message.to_json()
    assert payload["event"] == "incident_opened"
    assert payload["monitor_id"] == "nas" and payload["incident_id"] == 17
    assert payload["started_at"] == "2024-05-01T12:00:03Z"
    assert payload["url"] == "https://status.example.com/incidents/17"
    # sorted keys, no spaces: the exact bytes a signature covers are reproducible
    assert request.body == json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == "n-17-incident_opened"
    assert request.headers["x-uplight-event"] == "incident_opened"
    assert request.headers["user-agent"] == f"uplight/{__version__}"
    assert "x-uplight-signature" not in request.headers


async def test_the_signature_verifies_over_the_raw_body(receive: Receive, ended: Make) -> None:
    server = receive({"/hook": Route(204)})
    await send(ended(), url=server.url("/hook"), secret="shared-key-123")

    (request,) = server.requests
    expected = hmac.new(b"shared-key-123", request.body, hashlib.sha256).hexdigest()
    header = request.headers["x-uplight-signature"]
    assert header.startswith("sha256=")
    assert hmac.compare_digest(header, f"sha256={expected}")
    # a different key does not verify: the header really depends on the secret
    other = hmac.new(b"another-key", request.body, hashlib.sha256).hexdigest()
    assert header != f"sha256={other}"
    assert json.loads(request.body)["downtime_seconds"] == 3900.0


async def test_configured_headers_and_secrets_from_env_and_file(
    receive: Receive, opened: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = receive({"/hook": Route(200)})
    monkeypatch.setenv("HOOK_TOKEN", "Bearer abc123")
    (tmp_path / "key").write_text("file-key\n")
    await send(
        opened(),
        url=server.url("/hook"),
        headers={"Authorization": {"env": "HOOK_TOKEN"}, "X-Team": "ops"},
        secret={"file": str(tmp_path / "key")},
    )
    (request,) = server.requests
    assert request.headers["authorization"] == "Bearer abc123"
    assert request.headers["x-team"] == "ops"
    # the trailing newline of the file is not part of the key
    digest = hmac.new(b"file-key", request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-uplight-signature"] == f"sha256={digest}"


async def test_unicode_and_extra_values_survive(receive: Receive, opened: Make) -> None:
    server = receive({"/hook": Route(200)})
    message = opened(title="Café NAS ☕ is down", extra={"phase": "investigating", "n": 3})
    await send(message, url=server.url("/hook"))
    payload = json.loads(server.requests[0].body)
    assert payload["title"] == "Café NAS ☕ is down"
    assert payload["extra"] == {"phase": "investigating", "n": 3}


async def test_non_2xx_raises_without_leaking_the_url_or_secret(
    receive: Receive, opened: Make
) -> None:
    # The receiver echoes the token back: the error must still not contain it.
    server = receive({f"/hooks/{TOKEN}": Route(500, f"no such hook {TOKEN}")})
    url = server.url(f"/hooks/{TOKEN}")
    with pytest.raises(ChannelError) as caught:
        await send(opened(), url=url, secret="hmac-secret-xyz", headers={"X-Key": "hdr-secret"})
    text = str(caught.value)
    assert text.startswith("webhook: HTTP 500")
    assert "no such hook ***" in text
    for secret in (TOKEN, url, "hmac-secret-xyz", "hdr-secret"):
        assert secret not in text
    assert not shows_a_chain(caught.value)


async def test_a_redirect_is_not_followed(receive: Receive, opened: Make) -> None:
    target = receive({"/elsewhere": Route(200)})
    server = receive({"/hook": Route(302, headers={"Location": target.url("/elsewhere")})})
    with pytest.raises(ChannelError, match=r"^webhook: HTTP 302"):
        await send(opened(), url=server.url("/hook"))
    assert target.requests == []


async def test_connection_refused_raises(opened: Make) -> None:
    url = f"http://127.0.0.1:{refused_port()}/hooks/{TOKEN}"
    with pytest.raises(ChannelError, match=r"^webhook: request failed") as caught:
        await send(opened(), url=url)
    assert TOKEN not in str(caught.value)
    # httpx's own exception names the URL: it must not be printed with a traceback
    assert not shows_a_chain(caught.value)


async def test_a_slow_receiver_times_out(receive: Receive, opened: Make) -> None:
    server = receive({"/hook": Route(200, delay=5)})
    with pytest.raises(ChannelError, match=r"^webhook: no answer within 0.2s"):
        await send(opened(), url=server.url("/hook"), timeout="200ms")


@pytest.mark.parametrize(
    ("options", "where", "error"),
    [
        ({"url": f"ftp://example.com/{TOKEN}"}, "url", "http:// or https://"),
        ({"url": f"/relative/{TOKEN}"}, "url", "http:// or https://"),
        ({}, "url", "Field required"),
        ({"url": "https://h.example", "headers": {"Idempotency-Key": "x"}}, "headers", "set by"),
        ({"url": "https://h.example", "headers": {"Bad Name": "x"}}, "headers", "invalid header"),
        ({"url": "https://h.example", "headers": {"X-A": "a\nb"}}, "headers", "line breaks"),
        ({"url": "https://h.example", "secret": ""}, "secret", "must not be empty"),
        ({"url": "https://h.example", "timeout": "0s"}, "timeout", "more than 0s"),
        ({"url": "https://h.example", "method": "PUT"}, "method", "Extra inputs"),
    ],
)
def test_invalid_options(options: dict[str, Any], where: str, error: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        WebhookOptions.model_validate(options)
    (issue,) = caught.value.errors()
    assert issue["loc"][0] == where
    assert error in issue["msg"]
    assert TOKEN not in issue["msg"]


def test_secrets_are_masked_in_the_options() -> None:
    options = WebhookOptions.model_validate(
        {"url": f"https://h.example/{TOKEN}", "secret": "k", "headers": {"A": "v-secret"}}
    )
    assert TOKEN not in repr(options) and "v-secret" not in repr(options)
    assert TOKEN not in options.model_dump_json()


async def test_a_private_incident_carries_why_and_the_operators_link(
    receive: Receive, private_opened: Notification
) -> None:
    server = receive({"/hook": Route(200, "ok")})
    await send(private_opened, url=server.url("/hook"))
    (request,) = server.requests
    payload = json.loads(request.body)
    assert payload["reason"] == "connect to 192.168.1.20:443 failed: connection refused"
    assert payload["latency_seconds"] == 0.0042 and payload["check_type"] == "http"
    assert payload["url"] is None  # a monitor on no page: no public permalink
    assert payload["operator_url"] == "https://status.example.com/api/v1/incidents/17"
    assert payload["text"].splitlines()[1] == (
        "Reason: connect to 192.168.1.20:443 failed: connection refused (http check, 4 ms)"
    )
