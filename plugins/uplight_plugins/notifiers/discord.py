"""The ``discord`` channel: an embed posted through a Discord channel webhook.

One embed per message: the title links to the incident (its public page, or
the operator's view when it is private), the colour says how bad it is, the
description is the text (with its ``Reason: …`` line), the facts are inline
fields. Mentions are disabled
(``allowed_mentions``), so a monitor named "@everyone" pings nobody.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from pydantic import Field, SecretStr, field_validator

from uplight import (
    Duration,
    Notification,
    Notifier,
    Secret,
    hookimpl,
    isoformat_z,
)

from ._format import ChannelOptions, Tone, clip, facts, http_url, link, one_line, post, tone

COLOURS: dict[Tone, int] = {
    "critical": 0xC0392B,  # dark red
    "major": 0xE74C3C,  # red
    "minor": 0xF39C12,  # amber
    "recovered": 0x2ECC71,  # green
    "info": 0x3498DB,  # blue
}
# Discord's embed limits: a longer value makes it refuse the whole message.
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_LIMIT = 1024
MAX_FIELDS = 25
_MARKDOWN = re.compile(r"([\\*_~`|>#\[\]])")  # enough to stop emphasis, quotes, links


def escape(text: str) -> str:
    """Monitor names and messages are shown as written, not as Markdown."""
    return _MARKDOWN.sub(r"\\\1", text)


class DiscordOptions(ChannelOptions):
    webhook_url: Secret  # the URL is the credential: anyone holding it can post
    username: str | None = Field(default=None, min_length=1, max_length=80)
    timeout: Duration = 10.0

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: SecretStr) -> SecretStr:
        return http_url(value)

    @field_validator("username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        # Discord refuses these names with a 400 on every message; say so at load time.
        if value is not None and ("discord" in value.lower() or "clyde" in value.lower()):
            raise ValueError("Discord does not allow 'discord' or 'clyde' in a webhook username")
        return value


def payload(options: DiscordOptions, message: Notification) -> dict[str, Any]:
    embed: dict[str, Any] = {
        "title": one_line(message.title, TITLE_LIMIT),
        "color": COLOURS[tone(message)],
        "footer": {"text": "uplight"},
    }
    if message.text and message.text != message.title:
        embed["description"] = clip(escape(message.text), DESCRIPTION_LIMIT)
    fields = [
        {"name": label, "value": clip(escape(value), FIELD_LIMIT), "inline": True}
        for label, value in facts(message)[:MAX_FIELDS]
    ]
    if fields:
        embed["fields"] = fields
    if (target := link(message)) is not None:
        embed["url"] = target
    embed["timestamp"] = isoformat_z(message.created_at or dt.datetime.now(dt.UTC))
    body: dict[str, Any] = {"embeds": [embed], "allowed_mentions": {"parse": []}}
    if options.username:
        body["username"] = options.username
    return body


class DiscordNotifier(Notifier):
    name = "discord"
    Options = DiscordOptions
    description = "embed through a Discord channel webhook"

    async def send(self, options: DiscordOptions, message: Notification) -> None:
        # Without ?wait=true Discord answers 204 No Content on success.
        await post(
            "discord",
            options.webhook_url.get_secret_value(),
            content=json.dumps(payload(options, message)).encode("utf-8"),
            headers={"Content-Type": "application/json"},
            timeout=options.timeout,
        )


@hookimpl
def uplight_notifiers(register: Any) -> None:
    register(DiscordNotifier)
