"""The base a notification channel plugin builds on, and the message it receives."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict

from .strictness import NoCoercion

EventKind = Literal[
    "incident_opened",
    "severity_changed",
    "incident_ended",
    "incident_update",
    "reminder",
    "certificate_expiring",
    "test",
    "summary",  # a min_gap burst collapsed into one message
]


@dataclass(frozen=True, slots=True)
class Notification:
    """One message to deliver, built by the host from an event.

    ``title`` and ``text`` are ready-made plain-text wording; a channel may use
    the structured fields to format its own (Slack blocks, an HTML email…).
    For an incident, ``text`` holds the reason in one line (``Reason: …``) and
    ends with a link: ``url`` when the incident is public, else ``operator_url``.
    ``idempotency_key`` is stable across retries of this message: send it
    where the service accepts one (the webhook sends ``Idempotency-Key``) so
    receivers can drop duplicates of an at-least-once delivery.
    """

    event: EventKind
    idempotency_key: str
    title: str
    text: str
    monitor_id: str | None = None
    monitor_name: str | None = None
    status: str | None = None  # a status word: operational, degraded, major_outage, …
    severity: str | None = None  # minor | major | critical
    previous_severity: str | None = None
    incident_id: int | None = None
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    downtime_seconds: float | None = None
    # The incident's public permalink; None when it has none: a monitor on no page
    # has private incidents (see operator_url).
    url: str | None = None
    created_at: dt.datetime | None = None
    # e.g. the phase and message of an update, a certificate's days_left
    extra: dict[str, Any] = field(default_factory=dict)
    # The incident in the operator's view (the admin API: <public_base_url>/api/v1/incidents/<id>),
    # public or private; None when the message is about no incident.
    operator_url: str | None = None
    # The check result behind the event (opened, severity changed: the failing one; ended:
    # the one that met the recovery threshold; reminder: the latest failure seen).
    reason: str | None = None  # its message, scrubbed of the monitor's secrets, one line
    latency_seconds: float | None = None
    check_type: str | None = None  # the monitor's type: http, dns, tls, …

    def to_json(self) -> dict[str, Any]:
        """The webhook payload: every field, times as ISO 8601 with Z."""
        out: dict[str, Any] = {}
        for name in self.__slots__:  # type: ignore[attr-defined]
            value = getattr(self, name)
            if isinstance(value, dt.datetime):
                value = value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
            out[name] = value
        return out


class NotifierOptions(NoCoercion):
    """Base for a channel's options: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Notifier:
    """Subclass, set ``name`` and ``Options``, implement ``send``.

    ``send`` delivers one message and raises on failure; the host retries with
    backoff and jitter, so a channel never retries by itself. It runs under a
    timeout; a channel that hangs fails that delivery only.
    """

    name: ClassVar[str]
    Options: ClassVar[type[NotifierOptions]] = NotifierOptions
    description: ClassVar[str] = ""

    async def send(self, options: Any, message: Notification) -> None:
        raise NotImplementedError
