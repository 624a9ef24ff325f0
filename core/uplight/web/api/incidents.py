"""/api/v1/incidents: read incidents, narrate them, post timeline updates.

The engine opens and ends incidents from check results; the operator only
tells the story: a public title and description, a severity override, and
timeline updates. PATCH has three-state fields: omitted is unchanged, a string
sets, ``null`` clears back to the automatic wording.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from ...config import ID_PATTERN
from ...incidents.models import (
    PHASES,
    SEVERITIES,
    Incident,
    IncidentPosition,
    IncidentUpdate,
    auto_title,
    incident_title,
)
from ...incidents.service import IncidentError, IncidentNotFound, IncidentService
from ..context import runtime
from ..errors import ApiError
from . import token_name
from .fields import long_form, single_line, text_schema
from .operations import ApiBlueprint, field_error
from .paging import check_cursor, cursor_field, decode_cursor, encode_cursor, limit_field

api = ApiBlueprint("incidents", "/api/v1/incidents", tag="incidents")

TITLE_MAX = 200
DESCRIPTION_MAX = 5000
MESSAGE_MAX = 2000
SINCE_EXAMPLE = "2024-05-01T12:00:00Z"

Severity = Literal["minor", "major", "critical"]
Phase = Literal["investigating", "identified", "monitoring", "resolved", "postmortem"]


def _one_of(value: object, allowed: tuple[str, ...], code: str) -> object:
    # Before the Literal check, so a wrong word gets its own code; a wrong type falls through.
    if isinstance(value, str) and value not in allowed:
        raise PydanticCustomError(code, f"must be one of: {', '.join(allowed)}")
    return value


def _patch_field(limit: int | None = None, *, non_blank: bool = False) -> Any:
    """A three-state field: the None default only marks "omitted", so it is not documented."""

    def extra(schema: dict[str, Any]) -> None:
        schema.pop("default", None)
        if limit is not None:
            schema.update(text_schema(limit, non_blank=non_blank))

    return Field(None, json_schema_extra=extra)


class IncidentPatch(BaseModel):
    """Narration; omit a field to leave it, ``null`` to clear it to the automatic wording."""

    model_config = ConfigDict(extra="forbid")

    public_title: str | None = _patch_field(TITLE_MAX, non_blank=True)
    public_description: str | None = _patch_field(DESCRIPTION_MAX)
    severity: Severity | None = _patch_field()

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, value: object) -> object:
        return _one_of(value, SEVERITIES, "INVALID_SEVERITY")

    @field_validator("public_title")
    @classmethod
    def _title(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return single_line(value, limit=TITLE_MAX, empty="EMPTY_TITLE", too_long="TITLE_TOO_LONG")

    @field_validator("public_description")
    @classmethod
    def _description(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return long_form(value, limit=DESCRIPTION_MAX, too_long="DESCRIPTION_TOO_LONG")


class UpdateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phase: Phase
    message: str = Field(json_schema_extra=text_schema(MESSAGE_MAX, non_blank=True))

    @field_validator("phase", mode="before")
    @classmethod
    def _phase(cls, value: object) -> object:
        return _one_of(value, PHASES, "INVALID_PHASE")

    @field_validator("message")
    @classmethod
    def _message(cls, value: str) -> str:
        return long_form(
            value, limit=MESSAGE_MAX, too_long="MESSAGE_TOO_LONG", empty="EMPTY_MESSAGE"
        )


class IncidentQuery(BaseModel):
    active: bool | None = Field(None, description="only active (true) or ended (false) incidents")
    monitor: str | None = Field(
        None, pattern=ID_PATTERN, max_length=64, description="only this monitor's incidents"
    )
    since: dt.datetime | None = Field(
        None, description="only incidents still active at or after this time (ISO 8601)"
    )
    limit: int = limit_field()
    cursor: str | None = cursor_field()

    @field_validator("since", mode="before")
    @classmethod
    def _since_is_iso(cls, value: object) -> object:
        # pydantic would also read "1714564800" as a unix time; the document says ISO 8601.
        if isinstance(value, str) and not re.match(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]", value):
            raise ValueError(f"must be an ISO 8601 date and time, e.g. {SINCE_EXAMPLE}")
        return value

    @field_validator("since")
    @classmethod
    def _since_has_offset(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError(f"give a UTC offset, e.g. {SINCE_EXAMPLE}")
        try:
            return None if value is None else value.astimezone(dt.UTC)
        except OverflowError:  # 9999-12-31T23:59-23:59 is past the last representable UTC time
            raise ValueError("the time is out of range") from None

    _check_cursor = field_validator("cursor")(check_cursor)


class IncidentUpdateOut(BaseModel):
    id: int
    phase: Phase
    message: str
    created_at: dt.datetime
    created_by: str | None


class IncidentOut(BaseModel):
    id: int
    monitor_id: str
    title: str = Field(description="public_title, or auto_title when there is none")
    auto_title: str
    public_title: str | None
    public_description: str | None
    severity: Severity
    status: Literal["active", "ended"]
    started_at: dt.datetime
    ended_at: dt.datetime | None
    updated_at: dt.datetime
    latest_update: IncidentUpdateOut | None


class IncidentDetail(IncidentOut):
    updates: list[IncidentUpdateOut] = Field(description="the timeline, newest first")


class IncidentList(BaseModel):
    items: list[IncidentOut]
    next_cursor: str | None


def update_out(update: IncidentUpdate) -> IncidentUpdateOut:
    return IncidentUpdateOut(
        id=update.id,
        phase=update.phase,  # type: ignore[arg-type]  # the table's CHECK holds it to the five
        message=update.message,
        created_at=update.created_at,
        created_by=update.created_by,
    )


def incident_out(incident: Incident) -> IncidentOut:
    return IncidentOut(**_fields(incident))


def _fields(incident: Incident) -> dict[str, object]:
    latest = incident.latest_update
    return {
        "id": incident.id,
        "monitor_id": incident.monitor_id,
        "title": incident_title(incident),
        "auto_title": auto_title(incident.monitor_name, incident.auto_severity),
        "public_title": incident.public_title,
        "public_description": incident.public_description,
        "severity": incident.severity,
        "status": "active" if incident.active else "ended",
        "started_at": incident.started_at,
        "ended_at": incident.ended_at,
        "updated_at": incident.updated_at,
        "latest_update": update_out(latest) if latest else None,
    }


def _service() -> IncidentService:
    return runtime().incident_service


def _not_found(incident_id: int) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"no incident {incident_id}")


def _refused(exc: IncidentError) -> ApiError:
    return field_error(422, exc.code, exc.field, exc.message)


@api.route(
    "GET", "", summary="List incidents, newest first", query=IncidentQuery, response=IncidentList
)
async def list_incidents(query: IncidentQuery) -> IncidentList:
    """Filter by `active`, `monitor` and `since`; page with `limit` and `cursor`."""
    after = IncidentPosition(*decode_cursor(query.cursor)) if query.cursor is not None else None
    page = await _service().list_incidents(
        active=query.active,
        monitor_id=query.monitor,
        since=query.since,
        after=after,
        limit=query.limit,
    )
    return IncidentList(
        items=[incident_out(i) for i in page.items],
        next_cursor=(
            encode_cursor(page.next.started_at_ms, page.next.id) if page.next is not None else None
        ),
    )


@api.route(
    "GET",
    "/<int:incident_id>",
    summary="One incident with its timeline",
    response=IncidentDetail,
)
async def get_incident(incident_id: int) -> IncidentDetail:
    service = _service()
    try:
        incident = await service.get_incident(incident_id)
    except IncidentNotFound:
        raise _not_found(incident_id) from None
    updates = await service.timeline(incident_id)
    return IncidentDetail(**_fields(incident), updates=[update_out(u) for u in updates])


@api.route(
    "PATCH",
    "/<int:incident_id>",
    summary="Narrate an incident: public title, description, severity",
    body=IncidentPatch,
    response=IncidentOut,
)
async def patch_incident(incident_id: int, body: IncidentPatch) -> IncidentOut:
    """Omitted fields stay; a string sets; `null` clears back to the automatic wording."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    try:
        incident = await _service().narrate(incident_id, changes)
    except IncidentNotFound:
        raise _not_found(incident_id) from None
    except IncidentError as exc:
        raise _refused(exc) from None
    return incident_out(incident)


@api.route(
    "POST",
    "/<int:incident_id>/updates",
    summary="Post a timeline update",
    body=UpdateCreate,
    response=IncidentUpdateOut,
    status=201,
)
async def post_incident_update(incident_id: int, body: UpdateCreate) -> IncidentUpdateOut:
    """Posting `resolved` does not end the incident: check results do. Ended incidents accept
    updates too (a postmortem)."""
    try:
        update = await _service().add_update(
            incident_id, phase=body.phase, message=body.message, created_by=token_name()
        )
    except IncidentNotFound:
        raise _not_found(incident_id) from None
    except IncidentError as exc:
        raise _refused(exc) from None
    return update_out(update)
