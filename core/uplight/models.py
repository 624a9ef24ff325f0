"""Plain data shared by every part of uplight: no I/O, no framework imports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class CheckStatus(StrEnum):
    """What one check found. The scheduler and store speak only these three words."""

    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


class Status(StrEnum):
    """Public status words (wire keys) for components, pages and history cells."""

    OPERATIONAL = "operational"
    DEGRADED = "degraded"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    MAINTENANCE = "maintenance"
    NO_DATA = "no_data"


CHECK_TO_STATUS: dict[CheckStatus, Status] = {
    CheckStatus.UP: Status.OPERATIONAL,
    CheckStatus.DEGRADED: Status.DEGRADED,
    CheckStatus.DOWN: Status.MAJOR_OUTAGE,
}


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What a check type returns.

    ``latency`` is seconds (``None`` when nothing was measured, e.g. a refused
    connection). ``message`` is for the operator: it may name hosts and must never
    reach a public response. ``details`` must be JSON-serialisable; well-known keys
    are documented in docs/plugins.md (``phases`` for HTTP timings, ``cert`` for TLS).
    """

    status: CheckStatus
    latency: float | None = None
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def up(cls, message: str = "", latency: float | None = None, **details: Any) -> CheckResult:
        return cls(CheckStatus.UP, latency, message, details)

    @classmethod
    def degraded(cls, message: str, latency: float | None = None, **details: Any) -> CheckResult:
        return cls(CheckStatus.DEGRADED, latency, message, details)

    @classmethod
    def down(cls, message: str, latency: float | None = None, **details: Any) -> CheckResult:
        return cls(CheckStatus.DOWN, latency, message, details)


@dataclass(frozen=True, slots=True)
class ResultRecord:
    """A check result as the scheduler hands it on: who, when, and what."""

    monitor_id: str
    checked_at: dt.datetime  # UTC, when the check started
    result: CheckResult
    error_reason: str | None = (
        None  # set when the plugin misbehaved: exception/timeout/invalid_result
    )
    in_maintenance: bool = False


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def isoformat_z(value: dt.datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, the one wire format for time."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
