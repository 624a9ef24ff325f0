"""The probe API's wire types, shared by the server (``web/api/probes.py``) and the probe
(``client.py``): the assignment a probe reads, and the results it pushes."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr

from ..config import MonitorConfig

MAX_BATCH = 500  # results in one push; a probe sends more in several
RESULT_ID = r"^[A-Za-z0-9_.:-]{1,100}$"


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AssignedMonitor(Wire):
    """A monitor to check, with its check type's options as the server validated them:
    secrets included, since the probe runs the check (docs/probes.md, "Trust")."""

    id: str
    name: str
    type: str
    interval: float
    timeout: float
    options: dict[str, Any] = {}


class Assignment(Wire):
    location: str
    # Changes whenever the assigned monitors or their options do: the probe's cue to
    # rebuild its scheduler (also sent as the ETag).
    version: str
    monitors: list[AssignedMonitor]


class ProbeResult(Wire):
    id: str = Field(pattern=RESULT_ID)  # chosen by the probe: a resend is stored once
    monitor_id: str = Field(min_length=1, max_length=64)
    checked_at: AwareDatetime
    status: Literal["up", "degraded", "down"]
    latency: float | None = Field(None, ge=0)  # seconds
    message: str = Field("", max_length=2000)
    error_reason: Literal["exception", "timeout", "invalid_result"] | None = None


class ResultBatch(Wire):
    results: list[ProbeResult] = Field(max_length=MAX_BATCH)


class ResultError(Wire):
    code: str
    message: str


class ResultOutcome(Wire):
    id: str
    # True: stored now or before (a resend); False: refused, see ``error`` (do not resend).
    stored: bool
    error: ResultError | None = None


class BatchAnswer(Wire):
    accepted: int
    refused: int
    results: list[ResultOutcome]


def assigned(monitor: MonitorConfig) -> AssignedMonitor:
    options = monitor.options
    raw = options.model_dump(mode="python", round_trip=True) if options is not None else {}
    return AssignedMonitor(
        id=monitor.id,
        name=monitor.name,
        type=monitor.type,
        interval=monitor.interval,
        timeout=monitor.timeout,
        options=_plain(raw),
    )


def _plain(value: Any) -> Any:
    """Options as the check type's model reads them back: secrets revealed, patterns as
    their source, paths and times as text."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return _plain(value.model_dump(mode="python", round_trip=True))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, re.Pattern):
        return value.pattern
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return value
