"""The wording of every notification: one builder per event, plain text.

Channels get the structured fields too and may format their own (Slack
blocks, an HTML email); ``title`` and ``text`` are what a phone shows. Monitor
names are used here, not public component names: channels go to the people
who run the monitors.

An event caused by a check result says why in one line of ``text``
(``Reason: connection refused (http check, 1.20 s)``; after a recovery,
``Last check: …``), and the text ends with a link: the public permalink when
the incident is public, else the incident in the operator's view.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..notifiers import Notification

# A fixed namespace, so a deterministic key (a reminder, a certificate warning)
# is the same UUID in every process and after every restart.
KEY_NAMESPACE = uuid.UUID("5b0e7a52-3f0a-4c53-9d53-0c8f6a1e2b71")
SUMMARY_TITLE_ITEMS = 3

_STATUS_BY_SEVERITY = {"minor": "degraded", "major": "major_outage", "critical": "major_outage"}
_PHRASE_BY_SEVERITY = {"minor": "is degraded", "major": "is down", "critical": "is down"}


def new_key() -> str:
    """A fresh idempotency key: stored with the row, so every retry carries the same one."""
    return str(uuid.uuid4())


def stable_key(*parts: object) -> str:
    """The same key for the same parts: inserting it twice queues one message."""
    return str(uuid.uuid5(KEY_NAMESPACE, "/".join(str(p) for p in parts)))


def human_duration(seconds: float | None) -> str:
    """'45s', '3m 20s', '1h 5m', '2d 3h': two units at most, for a phone screen."""
    if seconds is None:
        return "an unknown time"
    total = max(0, round(seconds))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size or (unit == "s" and not parts):
            parts.append(f"{total // size}{unit}")
            total %= size
    return " ".join(parts[:2])


def clock_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def status_of(severity: str | None) -> str | None:
    return _STATUS_BY_SEVERITY.get(severity or "")


def permalink(base_url: str, incident_id: int) -> str:
    return f"{base_url.rstrip('/')}/status/incidents/{incident_id}"


def operator_url(base_url: str, incident_id: int) -> str:
    """The incident in the operator's view: the admin API for now."""
    return f"{base_url.rstrip('/')}/api/v1/incidents/{incident_id}"


def _with_link(text: str, url: str | None) -> str:
    return f"{text}\n{url}" if url else text


def human_latency(seconds: float) -> str:
    """'85 ms', '1.20 s': what a person reads at a glance."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


@dataclass(frozen=True, slots=True)
class Why:
    """The check result behind an event, as a message carries it (reason already scrubbed)."""

    reason: str | None = None
    latency: float | None = None
    check_type: str | None = None

    def line(self, label: str = "Reason") -> str | None:
        """``Reason: connection refused (http check, 1.20 s)``; None when nothing is known."""
        if self.reason is None and self.latency is None:
            return None
        facts = [f"{self.check_type} check"] if self.check_type else []
        if self.latency is not None:
            facts.append(human_latency(self.latency))
        said = f" ({', '.join(facts)})" if facts else ""
        return f"{label}: {self.reason or 'no message'}{said}"

    def fields(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "latency_seconds": self.latency,
            "check_type": self.check_type,
        }


NO_WHY = Why()


def _text(first: str, why_line: str | None, url: str | None) -> str:
    """The sentence, the reason on a line of its own, then the link."""
    return _with_link(f"{first}\n{why_line}" if why_line else first, url)


def incident_opened(
    *,
    monitor_id: str,
    monitor_name: str,
    incident_id: int,
    severity: str,
    started_at: dt.datetime,
    at: dt.datetime,
    url: str | None,
    operator_url: str | None = None,
    why: Why = NO_WHY,
) -> Notification:
    phrase = _PHRASE_BY_SEVERITY.get(severity, "has a problem")
    return Notification(
        event="incident_opened",
        idempotency_key=new_key(),
        title=f"{monitor_name} {phrase}",
        text=_text(
            f"{monitor_name} {phrase} since {clock_time(started_at)} (severity {severity}).",
            why.line(),
            url or operator_url,
        ),
        monitor_id=monitor_id,
        monitor_name=monitor_name,
        status=status_of(severity),
        severity=severity,
        incident_id=incident_id,
        started_at=started_at,
        url=url,
        created_at=at,
        operator_url=operator_url,
        **why.fields(),
    )


def severity_changed(
    *,
    monitor_id: str,
    monitor_name: str,
    incident_id: int,
    severity: str,
    previous_severity: str | None,
    started_at: dt.datetime,
    at: dt.datetime,
    url: str | None,
    operator_url: str | None = None,
    why: Why = NO_WHY,
) -> Notification:
    phrase = _PHRASE_BY_SEVERITY.get(severity, "has a problem")
    change = f"{previous_severity} → {severity}" if previous_severity else severity
    return Notification(
        event="severity_changed",
        idempotency_key=new_key(),
        title=f"{monitor_name} {phrase.replace('is ', 'is now ', 1)} ({change})",
        text=_text(
            f"{monitor_name} {phrase} (severity {change}); the incident started "
            f"{clock_time(started_at)}.",
            why.line(),
            url or operator_url,
        ),
        monitor_id=monitor_id,
        monitor_name=monitor_name,
        status=status_of(severity),
        severity=severity,
        previous_severity=previous_severity,
        incident_id=incident_id,
        started_at=started_at,
        url=url,
        created_at=at,
        operator_url=operator_url,
        **why.fields(),
    )


def incident_ended(
    *,
    monitor_id: str,
    monitor_name: str,
    incident_id: int,
    severity: str,
    started_at: dt.datetime,
    ended_at: dt.datetime,
    downtime_seconds: float | None,
    url: str | None,
    operator_url: str | None = None,
    why: Why = NO_WHY,
) -> Notification:
    took = human_duration(downtime_seconds)
    return Notification(
        event="incident_ended",
        idempotency_key=new_key(),
        title=f"{monitor_name} recovered after {took}",
        text=_text(
            f"{monitor_name} is back up. Downtime: {took} "
            f"({clock_time(started_at)} to {clock_time(ended_at)}).",
            why.line("Last check"),
            url or operator_url,
        ),
        monitor_id=monitor_id,
        monitor_name=monitor_name,
        status="operational",
        severity=severity,
        incident_id=incident_id,
        started_at=started_at,
        ended_at=ended_at,
        downtime_seconds=downtime_seconds,
        url=url,
        created_at=ended_at,
        operator_url=operator_url,
        **why.fields(),
    )


def incident_update(
    *,
    monitor_id: str,
    monitor_name: str,
    incident_id: int,
    incident_title: str,
    severity: str,
    active: bool,
    started_at: dt.datetime,
    ended_at: dt.datetime | None,
    phase: str,
    message: str,
    update_id: int,
    at: dt.datetime,
    url: str | None,
    operator_url: str | None = None,
) -> Notification:
    return Notification(
        event="incident_update",
        idempotency_key=new_key(),
        title=f"{incident_title}: {phase}",
        text=_with_link(f"{phase.capitalize()}: {message}", url or operator_url),
        monitor_id=monitor_id,
        monitor_name=monitor_name,
        status=status_of(severity) if active else "operational",
        severity=severity,
        incident_id=incident_id,
        started_at=started_at,
        ended_at=ended_at,
        url=url,
        created_at=at,
        extra={"phase": phase, "message": message, "update_id": update_id},
        operator_url=operator_url,
    )


def reminder(
    *,
    channel: str,
    number: int,
    monitor_id: str,
    monitor_name: str,
    incident_id: int,
    severity: str,
    started_at: dt.datetime,
    at: dt.datetime,
    url: str | None,
    operator_url: str | None = None,
    why: Why = NO_WHY,
) -> Notification:
    phrase = _PHRASE_BY_SEVERITY.get(severity, "has a problem").replace("is ", "is still ", 1)
    took = human_duration((at - started_at).total_seconds())
    return Notification(
        event="reminder",
        idempotency_key=stable_key("reminder", channel, incident_id, number),
        title=f"{monitor_name} {phrase} ({took})",
        text=_text(
            f"{monitor_name} {phrase}: for {took}, since {clock_time(started_at)}.",
            why.line(),
            url or operator_url,
        ),
        monitor_id=monitor_id,
        monitor_name=monitor_name,
        status=status_of(severity),
        severity=severity,
        incident_id=incident_id,
        started_at=started_at,
        url=url,
        created_at=at,
        extra={"reminder": number},
        operator_url=operator_url,
        **why.fields(),
    )


def certificate_expiring(
    *,
    channel: str,
    monitor_id: str,
    monitor_name: str,
    days_left: float,
    warn_days: float,
    not_after: str | None,
    crossing: str,
    at: dt.datetime,
) -> Notification:
    days = max(0, int(days_left))
    when = f" (on {not_after[:10]})" if not_after else ""
    return Notification(
        event="certificate_expiring",
        idempotency_key=stable_key("certificate_expiring", channel, monitor_id, crossing),
        title=f"{monitor_name}: certificate expires in {days} day{'' if days == 1 else 's'}",
        text=(
            f"The certificate checked by {monitor_name} expires in {days_left:.1f} days{when}, "
            f"within the warning window of {warn_days:g} days. Renew it."
        ),
        monitor_id=monitor_id,
        monitor_name=monitor_name,
        status="degraded",
        created_at=at,
        extra={"days_left": round(days_left, 4), "warn_days": warn_days, "not_after": not_after},
    )


def test_notification(channel: str, at: dt.datetime) -> Notification:
    return Notification(
        event="test",
        idempotency_key=new_key(),
        title="uplight test notification",
        text=f"If you can read this, the channel {channel!r} works.",
        created_at=at,
    )


def summary(held: Sequence[Notification], at: dt.datetime) -> Notification:
    """One message for a burst the channel's minimum gap held back, oldest first.

    Its ``event`` is ``summary`` (its own kind: it stands for several events, and a
    receiver must not read it as, say, an ``incident_opened`` without an incident);
    ``extra["summary"]`` lists every message it stands for, with their own events
    and idempotency keys.
    """
    count = len(held)
    shown = "; ".join(m.title for m in held[:SUMMARY_TITLE_ITEMS])
    more = f"; … {count - SUMMARY_TITLE_ITEMS} more" if count > SUMMARY_TITLE_ITEMS else ""
    lines = [f"- {clock_time(m.created_at) if m.created_at else ''} {m.title}" for m in held]
    last = held[-1]
    same_incident = len({m.incident_id for m in held}) == 1
    same_monitor = len({m.monitor_id for m in held}) == 1
    items: list[dict[str, Any]] = [
        {
            "event": m.event,
            "title": m.title,
            "idempotency_key": m.idempotency_key,
            "incident_id": m.incident_id,
            "monitor_id": m.monitor_id,
        }
        for m in held
    ]
    return Notification(
        event="summary",
        idempotency_key=new_key(),
        title=f"{count} updates: {shown}{more}",
        text="\n".join(lines),
        monitor_id=last.monitor_id if same_monitor else None,
        monitor_name=last.monitor_name if same_monitor else None,
        status=last.status,
        severity=last.severity,
        incident_id=last.incident_id if same_incident else None,
        started_at=last.started_at if same_incident else None,
        ended_at=last.ended_at if same_incident else None,
        downtime_seconds=last.downtime_seconds if same_incident else None,
        url=last.url if same_incident else None,
        created_at=at,
        extra={"summary": items},
        operator_url=last.operator_url if same_incident else None,
        reason=last.reason if same_incident else None,
        latency_seconds=last.latency_seconds if same_incident else None,
        check_type=last.check_type if same_monitor else None,
    )
