"""/api/v1/maintenance: schedule, change, cancel, complete and purge maintenance windows.

Statuses follow the clock by themselves (see ``maintenance.service`` and
``maintenance.lifecycle``); every route applies due transitions before it
answers, so what it returns agrees with the clock even between the background
task's ticks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Awaitable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from ...maintenance.lifecycle import MaintenanceError
from ...maintenance.models import StoredWindow, WindowFields, WindowPosition
from ...maintenance.service import MaintenanceService, WindowNotFound
from ..context import runtime
from ..errors import ApiError
from . import token_name
from .fields import long_form, single_line, text_schema
from .operations import ApiBlueprint, field_error
from .paging import check_cursor, cursor_field, decode_cursor, encode_cursor, limit_field

api = ApiBlueprint("maintenance", "/api/v1/maintenance", tag="maintenance")

TITLE_MAX = 200
DESCRIPTION_MAX = 5000
SEVERITIES = ("info", "warning", "critical")

Severity = Literal["info", "warning", "critical"]
Status = Literal["scheduled", "active", "completed", "cancelled"]


def _severity(value: object) -> object:
    # Before the Literal check, so a wrong word gets its own code; a wrong type falls through.
    if isinstance(value, str) and value not in SEVERITIES:
        raise PydanticCustomError("INVALID_SEVERITY", f"must be one of: {', '.join(SEVERITIES)}")
    return value


def _title(value: str) -> str:
    return single_line(value, limit=TITLE_MAX, empty="EMPTY_TITLE", too_long="TITLE_TOO_LONG")


def _description(value: str | None) -> str | None:
    if value is None:
        return None
    return long_form(value, limit=DESCRIPTION_MAX, too_long="DESCRIPTION_TOO_LONG")


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError(
            "VALIDATION_ERROR", "give a UTC offset, e.g. 2030-01-05T03:00:00Z or +01:00"
        )
    try:
        return value.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        raise PydanticCustomError("VALIDATION_ERROR", "the time is out of range") from None


Title = Annotated[str, AfterValidator(_title)]
Time = Annotated[dt.datetime, AfterValidator(_utc)]
_TITLE_SCHEMA = text_schema(TITLE_MAX, non_blank=True)
_DESCRIPTION_SCHEMA = text_schema(DESCRIPTION_MAX, non_blank=False)


def _omittable(schema: dict[str, Any]) -> None:
    # The None default only marks an omitted field; null itself is not accepted.
    schema.pop("default", None)


def _omittable_title(schema: dict[str, Any]) -> None:
    _omittable(schema)
    schema.update(_TITLE_SCHEMA)


class _WindowRules(BaseModel):
    """The field rules a created and a patched window share (each declares the fields)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("severity", mode="before", check_fields=False)
    @classmethod
    def _check_severity(cls, value: object) -> object:
        return _severity(value)

    @field_validator("description", check_fields=False)
    @classmethod
    def _check_description(cls, value: str | None) -> str | None:
        return _description(value)


class MaintenanceCreate(_WindowRules):
    title: Title = Field(json_schema_extra=_TITLE_SCHEMA)
    description: str | None = Field(None, json_schema_extra=_DESCRIPTION_SCHEMA)
    severity: Severity = "info"
    component_ids: list[str] = Field([], description="monitor ids; each must exist")
    starts_at: Time = Field(description="ISO 8601 with an offset; a past time starts it now")
    ends_at: Time = Field(description="after starts_at, at most 30 days later")


class MaintenancePatch(_WindowRules):
    """Omit a field to leave it as it is; ``description: null`` clears it."""

    title: Title = Field(None, json_schema_extra=_omittable_title)
    description: str | None = Field(None, json_schema_extra=_DESCRIPTION_SCHEMA)
    severity: Severity = Field(None, json_schema_extra=_omittable)
    component_ids: list[str] = Field(
        None, description="replaces the list", json_schema_extra=_omittable
    )
    starts_at: Time = Field(None, json_schema_extra=_omittable)
    ends_at: Time = Field(None, json_schema_extra=_omittable)


class MaintenanceQuery(BaseModel):
    status: Literal["upcoming", "active", "scheduled", "completed", "cancelled"] | None = Field(
        None, description="upcoming: scheduled with a start still ahead, listed soonest first"
    )
    limit: int = limit_field()
    cursor: str | None = cursor_field()

    _check_cursor = field_validator("cursor")(check_cursor)


class MaintenanceWindowOut(BaseModel):
    id: int
    title: str
    description: str | None
    severity: Severity
    component_ids: list[str]
    starts_at: dt.datetime
    ends_at: dt.datetime = Field(description="as planned; completed_at says when it ended")
    status: Status
    completed_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    created_by: str = Field(description="the token's name, or 'config'")
    source: Literal["api", "config"]


class MaintenanceList(BaseModel):
    items: list[MaintenanceWindowOut]
    next_cursor: str | None


def window_out(window: StoredWindow) -> MaintenanceWindowOut:
    fields: dict[str, Any] = {
        f.name: getattr(window, f.name)
        for f in dataclasses.fields(window)
        if f.name in MaintenanceWindowOut.model_fields
    }
    fields["component_ids"] = list(window.component_ids)
    return MaintenanceWindowOut(**fields)


def _service() -> MaintenanceService:
    return runtime().maintenance


def _refused(exc: MaintenanceError) -> ApiError:
    return field_error(422, exc.code, exc.field, exc.message)


def _not_found(window_id: int) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"no maintenance window {window_id}")


async def _answer(window_id: int, action: Awaitable[StoredWindow]) -> MaintenanceWindowOut:
    """Run a service call on one window; its refusals become the API's errors."""
    try:
        return window_out(await action)
    except WindowNotFound:
        raise _not_found(window_id) from None
    except MaintenanceError as exc:
        raise _refused(exc) from None


@api.route(
    "GET",
    "",
    summary="List maintenance windows, newest start first (upcoming: soonest first)",
    query=MaintenanceQuery,
    response=MaintenanceList,
)
async def list_maintenance(query: MaintenanceQuery) -> MaintenanceList:
    """Filter by `status`; page with `limit` and `cursor`, as the incident list does."""
    after = WindowPosition(*decode_cursor(query.cursor)) if query.cursor is not None else None
    page = await _service().list_windows(status=query.status, after=after, limit=query.limit)
    return MaintenanceList(
        items=[window_out(w) for w in page.items],
        next_cursor=(
            encode_cursor(page.next.starts_at_ms, page.next.id) if page.next is not None else None
        ),
    )


@api.route(
    "POST",
    "",
    summary="Schedule a maintenance window",
    body=MaintenanceCreate,
    response=MaintenanceWindowOut,
    status=201,
)
async def schedule_maintenance(body: MaintenanceCreate) -> MaintenanceWindowOut:
    """Status is `scheduled`, or `active` at once when `starts_at` has passed."""
    fields = WindowFields(
        title=body.title,
        description=body.description,
        severity=body.severity,
        component_ids=tuple(body.component_ids),
        starts_at=body.starts_at,
        ends_at=body.ends_at,
    )
    try:
        window = await _service().schedule(fields, created_by=token_name())
    except MaintenanceError as exc:
        raise _refused(exc) from None
    return window_out(window)


@api.route(
    "GET", "/<int:window_id>", summary="One maintenance window", response=MaintenanceWindowOut
)
async def get_maintenance(window_id: int) -> MaintenanceWindowOut:
    return await _answer(window_id, _service().get(window_id))


@api.route(
    "PATCH",
    "/<int:window_id>",
    summary="Change a maintenance window (a cancelled one: title and description only)",
    body=MaintenancePatch,
    response=MaintenanceWindowOut,
)
async def patch_maintenance(window_id: int, body: MaintenancePatch) -> MaintenanceWindowOut:
    """Omitted fields stay; the result is validated as a whole. A completed window (or one
    whose `ends_at` has passed) answers 422 `MAINTENANCE_COMPLETED`. A cancelled window
    takes a new `title` and `description` (say why, for the record); changing anything
    else answers 422 `MAINTENANCE_CANCELLED` naming the field."""
    changes: dict[str, Any] = {name: getattr(body, name) for name in body.model_fields_set}
    if "component_ids" in changes:
        changes["component_ids"] = tuple(changes["component_ids"])
    return await _answer(window_id, _service().update(window_id, changes))


@api.route(
    "DELETE",
    "/<int:window_id>",
    summary="Cancel a maintenance window (the row stays, for audit)",
    response=MaintenanceWindowOut,
    errors=(422,),
)
async def cancel_maintenance(window_id: int) -> MaintenanceWindowOut:
    """Cancelling a cancelled window changes nothing; a completed one answers 422
    `MAINTENANCE_COMPLETED` (purge deletes it)."""
    return await _answer(window_id, _service().cancel(window_id))


@api.route(
    "POST",
    "/<int:window_id>/complete",
    summary="End an active maintenance window now",
    response=MaintenanceWindowOut,
    errors=(422,),
)
async def complete_maintenance(window_id: int) -> MaintenanceWindowOut:
    """`completed_at` is now and `ends_at` keeps the plan. Completing a completed window
    changes nothing; a cancelled one answers 422 `MAINTENANCE_CANCELLED`, one that has not
    started 422 `MAINTENANCE_NOT_STARTED` (cancel it instead)."""
    return await _answer(window_id, _service().complete(window_id))


@api.route(
    "POST",
    "/<int:window_id>/purge",
    summary="Delete a maintenance window for good",
    status=204,
)
async def purge_maintenance(window_id: int) -> None:
    """A window materialised from the config comes back while its occurrence is still
    ahead: cancel an occurrence to skip it."""
    try:
        await _service().purge(window_id)
    except WindowNotFound:
        raise _not_found(window_id) from None
