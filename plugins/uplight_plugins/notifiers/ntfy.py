"""The ``ntfy`` channel: a push notification through an ntfy server (ntfy.sh or yours).

Publishes with ntfy's JSON API (a POST of ``{"topic", "title", "message", …}`` to
the server root), so titles and tags need no header encoding. The priority
follows the severity; a tag adds the emoji ntfy shows in front of the title.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import httpx
from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator

from uplight import Duration, Notification, Notifier, Secret, hookimpl

from ._format import ChannelOptions, Tone, clip, http_url, link, one_line, post, tone

# ntfy's own rule for topic names; anything else is refused by the server.
_TOPIC = re.compile(r"[-_A-Za-z0-9]{1,64}")
_PRIORITY_NAMES = {"min": 1, "low": 2, "default": 3, "high": 4, "urgent": 5, "max": 5}
_SEVERITY_PRIORITY = {"critical": 5, "major": 4, "minor": 3}
_TONE_TAG: dict[Tone, str] = {  # ntfy turns these tags into emoji
    "critical": "rotating_light",
    "major": "red_circle",
    "minor": "warning",
    "recovered": "white_check_mark",
    "info": "information_source",
}
MESSAGE_LIMIT = 4000  # ntfy turns a longer message (4096 bytes) into an attachment


def _priority(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in _PRIORITY_NAMES:
        return _PRIORITY_NAMES[value.strip().lower()]
    if isinstance(value, str | bool):
        raise ValueError("must be 1 to 5 or one of min, low, default, high, urgent")
    return value


def priority_for(message: Notification) -> int:
    """The documented map: severity decides, except for these events."""
    if message.event == "test":
        return 2
    if message.event in ("incident_ended", "incident_update", "certificate_expiring"):
        return 3
    if message.event == "reminder":
        return 4
    return _SEVERITY_PRIORITY.get(message.severity or "", 4)


class NtfyOptions(ChannelOptions):
    # A secret too: a self-hosted server URL may carry user:password.
    server: Secret = SecretStr("https://ntfy.sh")
    # On a public server the topic name is the only access control: keep it masked.
    topic: Secret
    token: Secret | None = None
    priority: Annotated[int, BeforeValidator(_priority), Field(ge=1, le=5)] | None = None
    tags: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    timeout: Duration = 10.0

    @field_validator("server")
    @classmethod
    def _http_url(cls, value: SecretStr) -> SecretStr:
        return http_url(value)

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: SecretStr) -> SecretStr:
        if not _TOPIC.fullmatch(value.get_secret_value()):
            raise ValueError("must be 1 to 64 letters, digits, '-' or '_'")
        return value

    @field_validator("token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[\x21-\x7e]+", value.get_secret_value()):
            raise ValueError("must be a non-empty token without spaces or line breaks")
        return value

    @model_validator(mode="after")
    def _one_credential(self) -> NtfyOptions:
        if self.token is not None and httpx.URL(self.server.get_secret_value()).userinfo:
            raise ValueError("give either a token or user:password in server, not both")
        return self


def payload(options: NtfyOptions, message: Notification) -> dict[str, Any]:
    body: dict[str, Any] = {
        "topic": options.topic.get_secret_value(),
        "title": one_line(message.title, 250),
        "message": clip(message.text or message.title, MESSAGE_LIMIT),
        "priority": options.priority or priority_for(message),
        "tags": [_TONE_TAG[tone(message)], *options.tags],
    }
    if (target := link(message)) is not None:
        body["click"] = target
    return body


class NtfyNotifier(Notifier):
    name = "ntfy"
    Options = NtfyOptions
    description = "push notification through an ntfy server"

    async def send(self, options: NtfyOptions, message: Notification) -> None:
        headers = {"Content-Type": "application/json"}
        secrets = [options.topic.get_secret_value()]
        if options.token is not None:
            headers["Authorization"] = f"Bearer {options.token.get_secret_value()}"
            secrets.append(options.token.get_secret_value())
        # JSON publishing goes to the server root (or the path ntfy is served under).
        server = options.server.get_secret_value().rstrip("/") + "/"
        await post(
            "ntfy",
            server,
            content=json.dumps(payload(options, message)).encode("utf-8"),
            headers=headers,
            timeout=options.timeout,
            secrets=secrets,
        )


@hookimpl
def uplight_notifiers(register: Any) -> None:
    register(NtfyNotifier)
