"""Incidents: active and past (paged), one incident's narration and timeline.

Writes go through the IncidentService the admin API uses, after the API's own
request models (``web/api/incident_models.py``) have checked the form, so a
refusal reads the same here as from the API and is shown beside its field.
Narration is three-state as in the API, in a form's terms: every field is sent,
a blank one clears (back to the automatic wording; the severity's "automatic"
choice clears the override).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError
from quart import Response, redirect, request

from ...incidents.models import MAX_ID, PHASES, SEVERITIES, Incident, IncidentPosition
from ...incidents.models import incident_title as title_of
from ...incidents.service import IncidentError, IncidentNotFound, IncidentService
from ..api.incident_models import IncidentPatch, UpdateCreate
from ..api.paging import CURSOR_PATTERN, decode_cursor, encode_cursor
from ..context import runtime
from .guard import blueprint, current_session, page, refused

ACTIVE_LIMIT = 100
PAST_PAGE = 25

Errors = dict[str, str]


def _service() -> IncidentService:
    return runtime().incident_service


def _errors(exc: ValidationError) -> Errors:
    found: Errors = {}
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else "form"
        found.setdefault(field, error["msg"])
    return found


def _validated(model: type[BaseModel], data: dict[str, Any]) -> tuple[Any, Errors]:
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        return None, _errors(exc)


@blueprint.get("/incidents")
async def incidents() -> Response:
    service = _service()
    active = await service.list_incidents(active=True, limit=ACTIVE_LIMIT)
    cursor = request.args.get("cursor")
    after = None
    if cursor is not None and re.search(CURSOR_PATTERN, cursor):
        after = IncidentPosition(*decode_cursor(cursor))
    past = await service.list_incidents(active=False, after=after, limit=PAST_PAGE)
    next_cursor = (
        encode_cursor(past.next.started_at_ms, past.next.id) if past.next is not None else None
    )
    return await page(
        "console/incidents.html",
        active=active.items,
        past=past.items,
        next_cursor=next_cursor,
        title_of=title_of,
    )


async def _incident_page(
    incident: Incident,
    *,
    status: int = 200,
    narrate_errors: Errors | None = None,
    update_errors: Errors | None = None,
    form: dict[str, str] | None = None,
    saved: str = "",
) -> Response:
    timeline = await _service().timeline(incident.id)
    return await page(
        "console/incident.html",
        status,
        incident=incident,
        title=title_of(incident),
        timeline=timeline,
        severities=SEVERITIES,
        phases=PHASES,
        narrate_errors=narrate_errors or {},
        update_errors=update_errors or {},
        form=form or {},
        saved=saved,
    )


async def _incident(incident_id: int) -> Incident | None:
    if incident_id > MAX_ID:
        return None
    try:
        return await _service().get_incident(incident_id)
    except IncidentNotFound:
        return None


async def _not_found() -> Response:
    return await refused("There is no incident with that number.", 404)


@blueprint.get("/incidents/<int:incident_id>")
async def incident(incident_id: int) -> Response:
    found = await _incident(incident_id)
    if found is None:
        return await _not_found()
    return await _incident_page(found, saved=request.args.get("saved", "")[:20])


def _blank_is_none(value: str | None) -> str | None:
    return value if value is not None and value.strip() else None


@blueprint.post("/incidents/<int:incident_id>/narrate")
async def narrate(incident_id: int) -> Response:
    found = await _incident(incident_id)
    if found is None:
        return await _not_found()
    form = await request.form
    changes = {
        "public_title": _blank_is_none(form.get("public_title")),
        "public_description": _blank_is_none(form.get("public_description")),
        "severity": _blank_is_none(form.get("severity")),
    }
    model, errors = _validated(IncidentPatch, changes)
    if not errors:
        try:
            await _service().narrate(incident_id, model.model_dump())
        except IncidentError as exc:
            errors = {exc.field or "form": exc.message}
    if errors:
        return await _incident_page(
            found, status=422, narrate_errors=errors, form=dict(form.items())
        )
    runtime().page_cache.invalidate()  # the public page shows it at once, as after the API
    return redirect(f"/admin/incidents/{incident_id}?saved=narration", code=303)


@blueprint.post("/incidents/<int:incident_id>/updates")
async def post_update(incident_id: int) -> Response:
    found = await _incident(incident_id)
    if found is None:
        return await _not_found()
    form = await request.form
    data = {"phase": form.get("phase", ""), "message": form.get("message", "")}
    model, errors = _validated(UpdateCreate, data)
    if not errors:
        try:
            await _service().add_update(
                incident_id,
                phase=model.phase,
                message=model.message,
                created_by=current_session().token_name,
            )
        except IncidentError as exc:
            errors = {exc.field or "form": exc.message}
    if errors:
        return await _incident_page(
            found, status=422, update_errors=errors, form=dict(form.items())
        )
    runtime().page_cache.invalidate()
    return redirect(f"/admin/incidents/{incident_id}?saved=update", code=303)
