"""The ``slack`` channel: a formatted message through a Slack incoming webhook.

The message has a plain ``text`` (what notifications and old clients show) and
Block Kit ``blocks``: a header with a status emoji, the text (its second line
says why: ``Reason: …``), the facts as fields, and a button to the incident:
its public page, or the operator's view when it is private. Slack's
channel/username overrides are ignored by incoming webhooks, so there are none.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import SecretStr, field_validator

from uplight import Duration, Notification, Notifier, Secret, hookimpl

from ._format import ChannelOptions, Tone, clip, facts, http_url, link, one_line, post, tone

EMOJI: dict[Tone, str] = {
    "critical": ":rotating_light:",
    "major": ":red_circle:",
    "minor": ":large_yellow_circle:",
    "recovered": ":white_check_mark:",
    "info": ":information_source:",
}
# Block Kit limits: longer values make Slack refuse the whole message.
HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
MAX_FIELDS = 10


def escape(text: str) -> str:
    """Slack's three control characters in mrkdwn and plain text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackOptions(ChannelOptions):
    webhook_url: Secret  # the URL is the credential: anyone holding it can post
    timeout: Duration = 10.0

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: SecretStr) -> SecretStr:
        return http_url(value)


def payload(message: Notification) -> dict[str, Any]:
    emoji = EMOJI[tone(message)]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {  # plain_text shows characters as they are: no escaping here
                "type": "plain_text",
                "text": one_line(f"{emoji} {message.title}", HEADER_LIMIT),
                "emoji": True,
            },
        }
    ]
    if message.text and message.text != message.title:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": clip(escape(message.text), SECTION_LIMIT)},
            }
        )
    fields = [
        {"type": "mrkdwn", "text": clip(f"*{label}*\n{escape(value)}", FIELD_LIMIT)}
        for label, value in facts(message)[:MAX_FIELDS]
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    target = link(message)
    if target is not None:
        button = {
            "type": "button",
            "text": {"type": "plain_text", "text": "View incident"},
            "url": target,
        }
        blocks.append({"type": "actions", "elements": [button]})
    # `text` is the fallback for notifications and clients that cannot show blocks.
    fallback = f"{emoji} {escape(message.title)}"
    if message.text and message.text != message.title:
        fallback += f"\n{escape(message.text)}"
    if target is not None:
        fallback += f"\n<{target}|View incident>"
    return {"text": clip(fallback, SECTION_LIMIT), "blocks": blocks}


class SlackNotifier(Notifier):
    name = "slack"
    Options = SlackOptions
    description = "formatted message through a Slack incoming webhook"

    async def send(self, options: SlackOptions, message: Notification) -> None:
        await post(
            "slack",
            options.webhook_url.get_secret_value(),
            content=json.dumps(payload(message)).encode("utf-8"),
            headers={"Content-Type": "application/json"},
            timeout=options.timeout,
        )


@hookimpl
def uplight_notifiers(register: Any) -> None:
    register(SlackNotifier)
