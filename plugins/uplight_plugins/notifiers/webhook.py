"""The ``webhook`` channel: POST the notification as JSON to a URL of yours.

The body is ``Notification.to_json()`` serialised once, with sorted keys and no
spaces, and those exact bytes are what the optional HMAC signs: a receiver
verifies the signature over the raw body it read, before parsing it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from pydantic import Field, SecretStr, field_validator

from uplight import Duration, HttpHeaders, Notification, Notifier, Secret, hookimpl

from ._format import ChannelOptions, http_url, post

# Headers the payload contract depends on: configuring them would break receivers.
_RESERVED = {
    "content-type",
    "content-length",
    "host",
    "idempotency-key",
    "x-uplight-event",
    "x-uplight-signature",
}


class WebhookOptions(ChannelOptions):
    url: Secret
    headers: HttpHeaders = Field(default_factory=dict)
    secret: Secret | None = None
    timeout: Duration = 10.0

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: SecretStr) -> SecretStr:
        return http_url(value)

    @field_validator("headers")
    @classmethod
    def _not_reserved(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name in value:
            if name.lower() in _RESERVED:
                raise ValueError(f"header {name!r} is set by uplight and cannot be configured")
        return value

    @field_validator("secret")
    @classmethod
    def _non_empty(cls, value: SecretStr | None) -> SecretStr | None:
        # An empty key would sign with nothing and give receivers false confidence.
        if value is not None and not value.get_secret_value():
            raise ValueError("must not be empty")
        return value


def body_bytes(message: Notification) -> bytes:
    """The exact bytes sent and signed."""
    # default=str: a plugin-provided ``extra`` value that JSON cannot hold becomes text
    # rather than a delivery that fails forever.
    return json.dumps(message.to_json(), sort_keys=True, separators=(",", ":"), default=str).encode(
        "utf-8"
    )


def signature(secret: str, body: bytes) -> str:
    """The ``X-Uplight-Signature`` value: ``sha256=`` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookNotifier(Notifier):
    name = "webhook"
    Options = WebhookOptions
    description = "POST a signed JSON payload to a URL"

    async def send(self, options: WebhookOptions, message: Notification) -> None:
        body = body_bytes(message)
        headers = {name: value.get_secret_value() for name, value in options.headers.items()}
        secrets = list(headers.values())
        headers |= {
            "Content-Type": "application/json",
            "Idempotency-Key": message.idempotency_key,
            "X-Uplight-Event": message.event,
        }
        if options.secret is not None:
            key = options.secret.get_secret_value()
            headers["X-Uplight-Signature"] = signature(key, body)
            secrets.append(key)
        await post(
            "webhook",
            options.url.get_secret_value(),
            content=body,
            headers=headers,
            timeout=options.timeout,
            secrets=secrets,
        )


@hookimpl
def uplight_notifiers(register: Any) -> None:
    register(WebhookNotifier)
