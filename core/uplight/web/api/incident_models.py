"""Request and response models of /api/v1/incidents.

Each limit has its own error code (the validators) and is also in the
documented schema (``json_schema_extra``), so what the OpenAPI document
promises is what validates.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from ...config import ID_PATTERN
from ...incidents.models import (
    COMPONENT_STATUSES,
    PHASES,
    SEVERITIES,
    Incident,
    IncidentUpdate,
    auto_title,
    incident_title,
)
from .fields import long_form, single_line, text_schema
from .paging import check_cursor, cursor_field, limit_field

TITLE_MAX = 200
DESCRIPTION_MAX = 5000
MESSAGE_MAX = 2000
SINCE_EXAMPLE = "2024-05-01T12:00:00Z"

Severity = Literal["minor", "major", "critical"]
Phase = Literal["investigating", "identified", "monitoring", "resolved", "postmortem"]
ComponentStatus = Literal["degraded", "partial_outage", "major_outage"]


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


class _TextRules(BaseModel):
    """The rules of the public text and the words, shared by the models that take them."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("public_title", check_fields=False)
    @classmethod
    def _title(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return single_line(value, limit=TITLE_MAX, empty="EMPTY_TITLE", too_long="TITLE_TOO_LONG")

    @field_validator("public_description", check_fields=False)
    @classmethod
    def _description(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return long_form(value, limit=DESCRIPTION_MAX, too_long="DESCRIPTION_TOO_LONG")

    @field_validator("message", check_fields=False)
    @classmethod
    def _message(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return long_form(
            value, limit=MESSAGE_MAX, too_long="MESSAGE_TOO_LONG", empty="EMPTY_MESSAGE"
        )

    @field_validator("severity", mode="before", check_fields=False)
    @classmethod
    def _severity(cls, value: object) -> object:
        return _one_of(value, SEVERITIES, "INVALID_SEVERITY")

    @field_validator("phase", mode="before", check_fields=False)
    @classmethod
    def _phase(cls, value: object) -> object:
        return _one_of(value, PHASES, "INVALID_PHASE")

    @field_validator("component_status", mode="before", check_fields=False)
    @classmethod
    def _component_status(cls, value: object) -> object:
        return _one_of(value, COMPONENT_STATUSES, "INVALID_COMPONENT_STATUS")


class IncidentPatch(_TextRules):
    """Narration; omit a field to leave it, ``null`` to clear it to the automatic wording."""

    public_title: str | None = _patch_field(TITLE_MAX, non_blank=True)
    public_description: str | None = _patch_field(DESCRIPTION_MAX)
    severity: Severity | None = _patch_field()


class UpdateCreate(_TextRules):
    phase: Phase
    message: str = Field(json_schema_extra=text_schema(MESSAGE_MAX, non_blank=True))


class IncidentCreate(_TextRules):
    """A manual incident: for what no check sees (an ISP outage, a supplier's problem)."""

    public_title: str = Field(json_schema_extra=text_schema(TITLE_MAX, non_blank=True))
    public_description: str | None = Field(
        None, json_schema_extra=text_schema(DESCRIPTION_MAX, non_blank=False)
    )
    severity: Severity = "minor"
    component_ids: list[str] = Field(
        [],
        description="monitor ids; each must exist (and be on `page` when one is given)."
        " None: the incident concerns the whole page `page`, or every page",
    )
    page: str | None = Field(None, description="a page slug: it is shown on that page only")
    component_status: ComponentStatus | None = Field(
        None,
        description="the public state of its components while it is active (of every"
        " component of its page(s) when it names none); maintenance still dominates",
    )
    phase: Phase | None = Field(
        None, description="of the first update; `investigating` when only `message` is given"
    )
    message: str | None = Field(
        None,
        description="the first timeline update",
        json_schema_extra=text_schema(MESSAGE_MAX, non_blank=True),
    )


class IncidentResolve(_TextRules):
    """Send ``{}`` to resolve without a final update."""

    message: str | None = Field(
        None,
        description="a final timeline update",
        json_schema_extra=text_schema(MESSAGE_MAX, non_blank=True),
    )
    phase: Phase = Field("resolved", description="of the final update")


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
    kind: Literal["automatic", "manual"] = Field(
        description="automatic: opened and ended by a monitor's checks;"
        " manual: opened and resolved by an operator"
    )
    manual: bool
    monitor_id: str | None = Field(description="the monitor of an automatic incident")
    component_ids: list[str] = Field(
        description="the monitors it concerns: [monitor_id] for an automatic incident;"
        " for a manual one, those it names (none: its whole page, or every page)"
    )
    page: str | None = Field(description="a manual incident's page slug")
    component_status: ComponentStatus | None = Field(
        description="the public state a manual incident gives its components while active"
    )
    title: str = Field(description="public_title, or auto_title when there is none")
    auto_title: str | None = Field(description="none for a manual incident")
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
    return IncidentOut(**incident_fields(incident))


def incident_fields(incident: Incident) -> dict[str, object]:
    latest = incident.latest_update
    manual = incident.manual
    return {
        "id": incident.id,
        "kind": incident.kind,
        "manual": manual,
        "monitor_id": None if manual else incident.monitor_id,
        "component_ids": list(incident.component_ids) if manual else [incident.monitor_id],
        "page": incident.page,
        "component_status": incident.component_status,
        "title": incident_title(incident),
        "auto_title": None if manual else auto_title(incident.monitor_name, incident.auto_severity),
        "public_title": incident.public_title,
        "public_description": incident.public_description,
        "severity": incident.severity,
        "status": "active" if incident.active else "ended",
        "started_at": incident.started_at,
        "ended_at": incident.ended_at,
        "updated_at": incident.updated_at,
        "latest_update": update_out(latest) if latest else None,
    }
