"""/api/v1/monitors: every monitor as the operator sees it, and manual monitors' states.

The list is the operator's overview: each monitor of the config with its type,
current state and since when, its newest result (message included: this is the
admin API, never a public route), its thresholds, the pages it is on and its open
incident. ``PUT …/state`` sets the state of a ``manual`` monitor (any check type
that accepts a set state); another monitor's state comes from its checks (409).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from ...checks import MonitorState
from ...models import CheckStatus
from ...monitoring.service import (
    MonitorNotFound,
    MonitorNotManual,
    MonitorOverview,
    MonitorService,
)
from ..context import runtime
from ..errors import ApiError
from . import token_name
from .fields import single_line, text_schema
from .operations import ApiBlueprint

api = ApiBlueprint("monitors", "/api/v1/monitors", tag="monitors")

MESSAGE_MAX = 500
STATES = ("operational", "degraded", "down")
SetStatus = Literal["operational", "degraded", "down"]
State = Literal["operational", "degraded", "down", "maintenance", "no_data"]
CheckWord = Literal["up", "degraded", "down"]

_TO_CHECK = {
    "operational": CheckStatus.UP,
    "degraded": CheckStatus.DEGRADED,
    "down": CheckStatus.DOWN,
}
_FROM_CHECK: dict[CheckStatus, SetStatus] = {
    CheckStatus.UP: "operational",
    CheckStatus.DEGRADED: "degraded",
    CheckStatus.DOWN: "down",
}


class StateSet(BaseModel):
    """The state of a manual monitor, as the operator sets it."""

    model_config = ConfigDict(extra="forbid")

    status: SetStatus
    message: str | None = Field(
        None,
        description="why, for the operator (the check's message; never public)",
        json_schema_extra=text_schema(MESSAGE_MAX, non_blank=True),
    )

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: object) -> object:
        # Before the Literal check, so a wrong word gets its own code; a wrong type falls through.
        if isinstance(value, str) and value not in STATES:
            raise PydanticCustomError("INVALID_STATUS", f"must be one of: {', '.join(STATES)}")
        return value

    @field_validator("message")
    @classmethod
    def _message(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return single_line(
            value, limit=MESSAGE_MAX, empty="EMPTY_MESSAGE", too_long="MESSAGE_TOO_LONG"
        )


class LastResult(BaseModel):
    checked_at: dt.datetime
    status: CheckWord
    latency_seconds: float | None
    message: str = Field(description="the check's message: for the operator, never public")
    error: str | None = Field(description="timeout, exception or invalid_result: a plugin fault")
    in_maintenance: bool


class Thresholds(BaseModel):
    interval_seconds: float
    timeout_seconds: float
    failure_threshold: int
    recovery_threshold: int
    incidents: bool = Field(description="false: its thresholds open no incident")


class OpenIncidentOut(BaseModel):
    id: int
    severity: Literal["minor", "major", "critical"]
    started_at: dt.datetime


class OperatorStateOut(BaseModel):
    status: SetStatus
    message: str
    set_at: dt.datetime | None = Field(description="null: never set (the default state)")
    set_by: str | None = Field(description="the name of the API token that set it")


class LocationOut(BaseModel):
    """One location's newest result of a monitor checked from several (docs/probes.md)."""

    location: str
    status: CheckWord | Literal["no_data"]
    checked_at: dt.datetime | None
    message: str = Field(description="the check's message there: for the operator, never public")
    counted: bool = Field(description="checked within the quorum window: it votes in the join")


class MonitorOut(BaseModel):
    id: str
    name: str
    type: str
    state: State = Field(
        description="its newest result's status in the page's words (up is operational);"
        " maintenance while a window covers it (or, for a group, all its members);"
        " no_data before its first result"
    )
    since: dt.datetime | None = Field(
        description="when its results took their current status; null when not known"
    )
    last_result: LastResult | None
    thresholds: Thresholds
    pages: list[str] = Field(description="slugs of the pages that show it")
    open_incident: OpenIncidentOut | None = Field(description="its active automatic incident")
    operator_state: OperatorStateOut | None = Field(
        description="for a manual monitor: the state set by the operator"
    )
    summary: dict[str, Any] = Field(description="facts about its target, by check type")
    locations: list[LocationOut] = Field(
        [],
        description="each location's newest result when it is checked from several"
        " (its state is their join); empty when the server alone checks it",
    )


class MonitorList(BaseModel):
    items: list[MonitorOut]


def monitor_out(view: MonitorOverview) -> MonitorOut:
    m = view.monitor
    state = view.state
    last = view.last
    op = view.operator_state
    return MonitorOut(
        id=m.id,
        name=m.name,
        type=m.type,
        state=_state_word(state),
        since=state.since,
        last_result=(
            LastResult(
                checked_at=last.checked_at,
                status=last.result.status.value,
                latency_seconds=last.result.latency,
                message=last.result.message,
                error=last.error_reason,
                in_maintenance=last.in_maintenance,
            )
            if last is not None
            else None
        ),
        thresholds=Thresholds(
            interval_seconds=m.interval,
            timeout_seconds=m.timeout,
            failure_threshold=m.failure_threshold,
            recovery_threshold=m.recovery_threshold,
            incidents=m.incidents,
        ),
        pages=list(view.pages),
        open_incident=(
            OpenIncidentOut(
                id=view.open_incident.id,
                severity=view.open_incident.severity,  # type: ignore[arg-type]
                started_at=view.open_incident.started_at,
            )
            if view.open_incident is not None
            else None
        ),
        operator_state=(
            OperatorStateOut(
                status=_FROM_CHECK[op.status],
                message=op.message,
                set_at=op.set_at,
                set_by=op.set_by,
            )
            if op is not None
            else None
        ),
        summary=view.summary,
        locations=_locations(m.id),
    )


def _locations(monitor_id: str) -> list[LocationOut]:
    join = runtime().probes.join
    monitor = join.monitor(monitor_id)
    if monitor is None:
        return []
    now = runtime().clock.now()
    found = []
    for name, seen in join.states(monitor_id).items():
        found.append(
            LocationOut(
                location=name,
                status=seen.status.value if seen is not None else "no_data",
                checked_at=seen.checked_at if seen is not None else None,
                message=seen.message if seen is not None else "",
                counted=seen is not None and seen.fresh(now, monitor.window()),
            )
        )
    return found


def _state_word(state: MonitorState) -> State:
    if state.in_maintenance:
        return "maintenance"
    if state.status is None:
        return "no_data"
    return _FROM_CHECK[state.status]


def _service() -> MonitorService:
    return runtime().monitors


def _not_found(monitor_id: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"no monitor {monitor_id[:100]!r}")


@api.route(
    "GET", "", summary="Every monitor: its state, newest result and incident", response=MonitorList
)
async def list_monitors() -> MonitorList:
    """Every monitor of the config, in its order, on a page or not."""
    return MonitorList(items=[monitor_out(v) for v in await _service().list_monitors()])


@api.route("GET", "/<monitor_id>", summary="One monitor", response=MonitorOut)
async def get_monitor(monitor_id: str) -> MonitorOut:
    try:
        return monitor_out(await _service().get_monitor(monitor_id))
    except MonitorNotFound:
        raise _not_found(monitor_id) from None


@api.route(
    "PUT",
    "/<monitor_id>/state",
    summary="Set a manual monitor's state",
    body=StateSet,
    response=MonitorOut,
    errors=(409,),
)
async def set_monitor_state(monitor_id: str, body: StateSet) -> MonitorOut:
    """`operational`, `degraded` or `down`, with an optional `message`. Kept across
    restarts; the monitor is checked at once, so the state is recorded as a result
    (history, incidents and notifications follow it). Only a monitor of a type that
    takes a set state (`manual`) has one: any other answers 409 `MONITOR_NOT_MANUAL`."""
    try:
        view = await _service().set_state(
            monitor_id, _TO_CHECK[body.status], body.message or "", set_by=token_name()
        )
    except MonitorNotFound:
        raise _not_found(monitor_id) from None
    except MonitorNotManual as exc:
        raise ApiError(409, "MONITOR_NOT_MANUAL", str(exc)) from None
    return monitor_out(view)
