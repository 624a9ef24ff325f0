"""What an incident is, for everyone who reads one: the engine, the service, the API,
notifications and the status page. No SQL here and no rules that need a clock.

The engine's severity and the operator's override are kept apart so clearing
the override (JSON ``null``) falls back to what the engine decided.

An incident is ``automatic`` (the engine opened it from one monitor's checks and
ends it when they recover) or ``manual`` (an operator opened it for something no
check sees, and resolves it). A manual incident has no monitor: it concerns its
``component_ids``, or with none the whole page ``page``, or with no page either
every page. Its ``auto_severity`` is the severity it was opened with.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..db.sql import to_millis

SEVERITIES = ("minor", "major", "critical")
PHASES = ("investigating", "identified", "monitoring", "resolved", "postmortem")
# The public state a manual incident may give its components while it is active.
COMPONENT_STATUSES = ("degraded", "partial_outage", "major_outage")
# A manual incident's monitor_id (the column is NOT NULL; no monitor id is empty).
NO_MONITOR = ""
# The fields an operator narrates; everything else is the engine's.
NARRATION_FIELDS = ("public_title", "public_description", "severity")
# SQLite integers are signed 64-bit; a larger id cannot name a row (and would not bind).
MAX_ID = 2**63 - 1

_PHRASES = {"minor": "is degraded", "major": "is down", "critical": "is down"}


@dataclass(frozen=True, slots=True)
class IncidentUpdate:
    id: int
    incident_id: int
    phase: str
    message: str
    created_at: dt.datetime
    created_by: str | None


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    monitor_id: str
    monitor_name: str
    auto_severity: str
    severity_override: str | None
    public_title: str | None
    public_description: str | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
    updated_at: dt.datetime
    latest_update: IncidentUpdate | None = None
    kind: str = "automatic"
    # Manual incidents only (an automatic one concerns ``monitor_id``, on no set page):
    component_ids: tuple[str, ...] = ()
    page: str | None = None  # a page slug
    component_status: str | None = None  # one of COMPONENT_STATUSES

    @property
    def severity(self) -> str:
        return self.severity_override or self.auto_severity

    @property
    def active(self) -> bool:
        return self.ended_at is None

    @property
    def manual(self) -> bool:
        return self.kind == "manual"


@dataclass(frozen=True, slots=True)
class IncidentPosition:
    """Where a page of the newest-first list ended: the keyset for the next page."""

    started_at_ms: int
    id: int


def position_of(incident: Incident) -> IncidentPosition:
    return IncidentPosition(to_millis(incident.started_at), incident.id)


def auto_title(monitor_name: str, auto_severity: str) -> str:
    """The wording shown until the operator writes a public title."""
    return f"{monitor_name} {_PHRASES.get(auto_severity, 'has a problem')}"


def incident_title(incident: Incident) -> str:
    # A manual incident always has a public title (the service refuses to clear it).
    return incident.public_title or auto_title(incident.monitor_name, incident.auto_severity)
