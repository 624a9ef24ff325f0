"""/api/v1/incidents: read incidents, narrate them, post timeline updates, open and
resolve manual incidents.

The engine opens and ends automatic incidents from check results; of those the
operator only tells the story: a public title and description, a severity
override, and timeline updates. PATCH has three-state fields: omitted is
unchanged, a string sets, ``null`` clears back to the automatic wording. A
manual incident is the operator's from start to end (POST opens, /resolve ends).
"""

from __future__ import annotations

from ...incidents.models import Incident, IncidentPosition
from ...incidents.service import (
    IncidentConflict,
    IncidentError,
    IncidentNotFound,
    IncidentService,
    ManualIncidentFields,
)
from ..context import runtime
from ..errors import ApiError
from . import token_name
from .incident_models import (
    IncidentCreate,
    IncidentDetail,
    IncidentList,
    IncidentOut,
    IncidentPatch,
    IncidentQuery,
    IncidentResolve,
    IncidentUpdateOut,
    UpdateCreate,
    incident_fields,
    incident_out,
    update_out,
)
from .operations import ApiBlueprint, field_error
from .paging import decode_cursor, encode_cursor

api = ApiBlueprint("incidents", "/api/v1/incidents", tag="incidents")


def _service() -> IncidentService:
    return runtime().incident_service


def _not_found(incident_id: int) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"no incident {incident_id}")


def _refused(exc: IncidentError) -> ApiError:
    status = 409 if isinstance(exc, IncidentConflict) else 422
    return field_error(status, exc.code, exc.field, exc.message)


async def _detail(incident: Incident) -> IncidentDetail:
    updates = await _service().timeline(incident.id)
    return IncidentDetail(**incident_fields(incident), updates=[update_out(u) for u in updates])


@api.route(
    "GET", "", summary="List incidents, newest first", query=IncidentQuery, response=IncidentList
)
async def list_incidents(query: IncidentQuery) -> IncidentList:
    """Filter by `active`, `monitor` (its automatic incidents and the manual ones naming
    it) and `since`; page with `limit` and `cursor`."""
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
    try:
        incident = await _service().get_incident(incident_id)
    except IncidentNotFound:
        raise _not_found(incident_id) from None
    return await _detail(incident)


@api.route(
    "POST",
    "",
    summary="Open a manual incident",
    body=IncidentCreate,
    response=IncidentDetail,
    status=201,
)
async def open_incident(body: IncidentCreate) -> IncidentDetail:
    """For what no check sees. It is shown on the pages of its `component_ids`, or on
    `page`, or on every page; it notifies like an automatic incident (`incident_opened`
    now, `incident_ended` when resolved). An unknown monitor answers 422
    `INVALID_COMPONENT_ID` naming `component_ids[i]`, an unknown page 422
    `INVALID_PAGE`, a monitor not on `page` 422 `COMPONENT_NOT_ON_PAGE`."""
    fields = ManualIncidentFields(
        public_title=body.public_title,
        public_description=body.public_description,
        severity=body.severity,
        component_ids=tuple(body.component_ids),
        page=body.page,
        component_status=body.component_status,
        phase=body.phase,
        message=body.message,
    )
    try:
        incident = await _service().open_manual(fields, created_by=token_name())
    except IncidentError as exc:
        raise _refused(exc) from None
    return await _detail(incident)


@api.route(
    "POST",
    "/<int:incident_id>/resolve",
    summary="Resolve a manual incident",
    body=IncidentResolve,
    response=IncidentDetail,
    errors=(409,),
)
async def resolve_incident(incident_id: int, body: IncidentResolve) -> IncidentDetail:
    """Ends it now, with a final update when `message` is given (phase `resolved` unless
    `phase` says otherwise). An automatic incident answers 409 `INCIDENT_AUTOMATIC`: it
    ends when its monitor's checks recover. One already ended answers 409
    `INCIDENT_ENDED` (post a `postmortem` update to add to its story)."""
    try:
        incident = await _service().resolve(
            incident_id, message=body.message, phase=body.phase, created_by=token_name()
        )
    except IncidentNotFound:
        raise _not_found(incident_id) from None
    except IncidentError as exc:
        raise _refused(exc) from None
    return await _detail(incident)


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
