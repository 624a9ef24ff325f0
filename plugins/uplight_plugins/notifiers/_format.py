"""What the channels share: one HTTP post whose errors carry no secret, and wording.

Errors matter here: the host logs a failed delivery and shows it on the health
dashboard, so a message must say what went wrong (channel type, status code,
the service's own reason) without ever quoting a webhook URL or a token. httpx
puts the URL into some exception texts; every text is scrubbed before it leaves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Literal

import httpx
from pydantic import SecretStr, field_validator

import uplight
from uplight import Notification, NotifierOptions


class ChannelOptions(NotifierOptions):
    """Options every built-in channel shares: its own ``timeout`` must be positive."""

    @field_validator("timeout", check_fields=False)
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be more than 0s")
        return value


USER_AGENT = f"uplight/{uplight.__version__}"
DETAIL_LIMIT = 200  # characters of a failing answer's body quoted in the error

Tone = Literal["critical", "major", "minor", "recovered", "info"]
"""How alarming a message is; each channel maps it to its colour, emoji or priority."""


class ChannelError(Exception):
    """A delivery failed. The text is safe to log: it never holds a URL or a token."""


def http_url(value: SecretStr) -> SecretStr:
    """Validate a secret http(s) URL; the value itself stays out of the message."""
    text = value.get_secret_value().strip()
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL:
        raise ValueError("is not a valid URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("must be an http:// or https:// URL with a host")
    return SecretStr(text)


def secret_parts(url: str, *others: str) -> list[str]:
    """The strings an error text must not contain: the URL and each sensitive piece."""
    parts = [url, *others]
    try:
        parsed = httpx.URL(url)
        # A webhook URL's token is its path (Slack, Discord) or its query string.
        parts += [str(parsed), parsed.path, parsed.query.decode()]
        parts += [parsed.username, parsed.password or ""]
        # An answer may echo just the token: hide each path segment and query value
        # that is long enough to be one ("hooks", "api" stay readable).
        pieces = [*parsed.path.split("/"), *(v for _, v in parsed.params.multi_items())]
        parts += [p for p in pieces if len(p) >= 6]
    except httpx.InvalidURL:
        pass
    # Very short pieces ("/", "a") would shred the message without hiding anything.
    return sorted({p for p in parts if len(p) >= 4}, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str], limit: int = DETAIL_LIMIT) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def post(
    channel: str,
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
    timeout: float,
    secrets: Iterable[str] = (),
) -> httpx.Response:
    """POST once; raise ``ChannelError`` on a network failure or a non-2xx answer.

    No retries and no redirects: the outbox retries, and following a redirect
    could carry a token to another host.
    """
    hidden = secret_parts(url, *secrets)
    request_headers = httpx.Headers({"User-Agent": USER_AGENT})
    request_headers.update(headers)  # case-insensitive: a configured User-Agent wins
    try:
        # trust_env=False: proxy variables and .netrc must not redirect or decorate
        # a request that carries a token.
        async with httpx.AsyncClient(
            timeout=timeout, trust_env=False, follow_redirects=False
        ) as client:
            response = await client.post(url, content=content, headers=request_headers)
    except httpx.TimeoutException as exc:
        phase = type(exc).__name__.removesuffix("Timeout").lower() or "request"
        raise ChannelError(f"{channel}: no answer within {timeout:g}s ({phase})") from None
    except httpx.HTTPError as exc:
        reason = scrub(str(exc), hidden) or type(exc).__name__
        raise ChannelError(f"{channel}: request failed: {reason}") from None
    if not response.is_success:
        detail = scrub(response.text, hidden)
        phrase = response.reason_phrase or httpx.codes.get_reason_phrase(response.status_code)
        raise ChannelError(
            f"{channel}: HTTP {response.status_code} {phrase}".rstrip()
            + (f": {detail}" if detail else "")
        )
    return response


def tone(message: Notification) -> Tone:
    if message.event == "incident_ended":
        return "recovered"
    if message.event in ("test", "incident_update"):
        return "info"
    if message.severity in ("critical", "major", "minor"):
        return message.severity  # type: ignore[return-value]
    # A certificate warning is a heads-up; an incident without a severity is a problem.
    return "minor" if message.event == "certificate_expiring" else "major"


def when(value: dt.datetime) -> str:
    """A time for people: UTC, to the minute."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def human_duration(seconds: float) -> str:
    total = max(0, round(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


_EXTRA_LABELS = {"phase": "Phase", "days_left": "Days left", "not_after": "Expires"}


def latency(seconds: float) -> str:
    """'85 ms', '1.20 s'."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def link(message: Notification) -> str | None:
    """Where a message's button or click leads: the public permalink, else (a private
    incident) the incident in the operator's view."""
    return message.url or message.operator_url


def facts(message: Notification) -> list[tuple[str, str]]:
    """Label/value pairs for the structured part of a message, in reading order."""
    out: list[tuple[str, str]] = []
    if message.monitor_name or message.monitor_id:
        out.append(("Monitor", str(message.monitor_name or message.monitor_id)))
    if message.severity:
        severity = message.severity
        if message.previous_severity and message.previous_severity != severity:
            severity += f" (was {message.previous_severity})"
        out.append(("Severity", severity))
    if message.status:
        out.append(("Status", message.status.replace("_", " ")))
    # The reason itself is a line of ``text``; these say what measured it.
    if message.check_type:
        out.append(("Check", message.check_type))
    if message.latency_seconds is not None:
        out.append(("Latency", latency(message.latency_seconds)))
    for key, label in _EXTRA_LABELS.items():
        value = message.extra.get(key)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            out.append((label, str(value)))
    if message.started_at:
        out.append(("Started", when(message.started_at)))
    if message.ended_at:
        out.append(("Ended", when(message.ended_at)))
    if message.downtime_seconds is not None:
        out.append(("Downtime", human_duration(message.downtime_seconds)))
    return out


def one_line(text: str, limit: int) -> str:
    """Headers and titles: no line breaks, bounded length."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
