"""Incidents: active and past (paged, filtered), one incident's narration and timeline;
manual incidents opened from the list and resolved after a confirmation step.

The list's filters are the admin API's (``GET /api/v1/incidents``): a GET form whose
state, monitor and date become an ``IncidentQuery`` for ``IncidentService.list_incidents``,
so a bad value reads as the API's refusal, beside its field (422); the list then shows
what the other filters select.

Writes go through the IncidentService the admin API uses, after the API's own
request models (``web/api/incident_models.py``) have checked the form, so a
refusal reads the same here as from the API and is shown beside its field.
Narration is three-state as in the API, in a form's terms: every field is sent,
a blank one clears (back to the automatic wording; the severity's "automatic"
choice clears the override). Resolving is the API's ``/resolve``: an automatic
incident (its checks end it) or an ended one is refused with the API's words.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ValidationError
from quart import Response, redirect, request

from ...incidents.models import (
    COMPONENT_STATUSES,
    MAX_ID,
    PHASES,
    SEVERITIES,
    Incident,
    IncidentPosition,
)
from ...incidents.models import incident_title as title_of
from ...incidents.service import (
    IncidentConflict,
    IncidentError,
    IncidentNotFound,
    IncidentService,
    ManualIncidentFields,
)
from ..api.incident_models import (
    IncidentCreate,
    IncidentPatch,
    IncidentQuery,
    IncidentResolve,
    UpdateCreate,
)
from ..api.paging import decode_cursor, encode_cursor
from ..context import runtime
from .guard import blueprint, current_session, page, refused

ACTIVE_LIMIT = 100
PAST_PAGE = 25
STATES = {"": None, "active": True, "resolved": False}  # the form's words: IncidentQuery.active
FILTERS = ("state", "monitor", "since")
FILTER_WORDS = {  # the API's refusal in the form's terms (a pattern means nothing here)
    "monitor": "not a monitor id: 1 to 64 lowercase letters, digits and hyphens",
    "cursor": "not a page this list gave: start again from the first page",
}

Errors = dict[str, str]


def _service() -> IncidentService:
    return runtime().incident_service


def _field(loc: str) -> str:
    # "component_ids[0]" (the service) and ("component_ids", 0) (pydantic) are one field.
    return loc.split("[", 1)[0]


def _errors(exc: ValidationError) -> Errors:
    found: Errors = {}
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else "form"
        found.setdefault(field, error["msg"])
    return found


def _refusal(exc: IncidentError) -> Errors:
    return {_field(exc.field or "form"): exc.message}


def _validated(model: type[BaseModel], data: dict[str, Any]) -> tuple[Any, Errors]:
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        return None, _errors(exc)


@blueprint.get("/incidents")
async def incidents() -> Response:
    return await _list_page()


def _filters() -> tuple[dict[str, Any], dict[str, str], Errors]:
    """The list's query as IncidentQuery's fields, the filters as the form shows them, and
    a refusal per bad field (that filter is then left out)."""
    args = request.args
    shown = {name: args.get(name, "").strip()[:100] for name in (*FILTERS, "cursor")}
    errors: Errors = {}
    query: dict[str, Any] = {}
    if shown["state"] in STATES:
        query["active"] = STATES[shown["state"]]
    else:
        errors["state"] = "must be one of: active, resolved (or blank for both)"
    if shown["monitor"]:
        query["monitor"] = shown["monitor"]
    if shown["since"]:
        try:
            day = dt.date.fromisoformat(shown["since"])
        except ValueError:
            errors["since"] = "must be a date, YYYY-MM-DD"
        else:
            query["since"] = f"{day.isoformat()}T00:00:00Z"
    if shown["cursor"]:
        query["cursor"] = shown["cursor"]
    for _ in range(len(query) + 1):  # each bad field is left out, the others still filter
        try:
            IncidentQuery.model_validate(query)
            break
        except ValidationError as exc:
            for field, message in _errors(exc).items():
                errors.setdefault(field, FILTER_WORDS.get(field, message))
                query.pop(field, None)
    return query, shown, errors


async def _list_page(
    *, status: int = 200, errors: Errors | None = None, form: dict[str, Any] | None = None
) -> Response:
    service = _service()
    query, shown, filter_errors = _filters()
    model = IncidentQuery.model_validate(query)
    wants = model.active
    active: list[Incident] = []
    if wants is not False and model.cursor is None:  # the first page shows the active ones
        active = (
            await service.list_incidents(
                active=True, monitor_id=model.monitor, since=model.since, limit=ACTIVE_LIMIT
            )
        ).items
    past: list[Incident] = []
    next_cursor = None
    if wants is not True:
        after = IncidentPosition(*decode_cursor(model.cursor)) if model.cursor else None
        found = await service.list_incidents(
            active=False, monitor_id=model.monitor, since=model.since, after=after, limit=PAST_PAGE
        )
        past = found.items
        if found.next is not None:
            next_cursor = encode_cursor(found.next.started_at_ms, found.next.id)
    if filter_errors and status == 200:
        status = 422
    rt = runtime()
    monitors = [(m.id, m.name) for m in rt.config.monitors]
    keep = {name: shown[name] for name in FILTERS if shown[name] and name not in filter_errors}
    return await page(
        "console/incidents.html",
        status,
        active=active,
        past=past,
        wants=wants,
        paged=model.cursor is not None,
        next_cursor=next_cursor,
        keep=keep,
        filters=shown,
        filter_errors=filter_errors,
        states=[s for s in STATES if s],
        title_of=title_of,
        monitors=monitors,
        known_monitor=shown["monitor"] in {m for m, _ in monitors},
        pages=[(p.slug, p.title) for p in rt.pages.pages()],
        severities=SEVERITIES,
        component_statuses=COMPONENT_STATUSES,
        phases=PHASES,
        errors=errors or {},
        form=form or {},
        picked=set((form or {}).get("component_ids", [])),
    )


@blueprint.post("/incidents")
async def open_incident() -> Response:
    form = await request.form
    shown: dict[str, Any] = {k: v for k, v in form.items() if k != "csrf"}
    shown["component_ids"] = form.getlist("component_ids")
    data = {
        "public_title": form.get("public_title", ""),
        "public_description": _blank_is_none(form.get("public_description")),
        "severity": form.get("severity", "minor"),
        "component_ids": form.getlist("component_ids"),
        "page": _blank_is_none(form.get("page")),
        "component_status": _blank_is_none(form.get("component_status")),
        "phase": _blank_is_none(form.get("phase")),
        "message": _blank_is_none(form.get("message")),
    }
    body, errors = _validated(IncidentCreate, data)
    if not errors:
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
            incident = await _service().open_manual(fields, created_by=current_session().token_name)
        except IncidentError as exc:
            errors = _refusal(exc)
    if errors:
        return await _list_page(status=422, errors=errors, form=shown)
    runtime().page_cache.invalidate()  # the public page shows it at once, as after the API
    return redirect(f"/admin/incidents/{incident.id}?saved=opened", code=303)


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
            errors = _refusal(exc)
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
            errors = _refusal(exc)
    if errors:
        return await _incident_page(
            found, status=422, update_errors=errors, form=dict(form.items())
        )
    runtime().page_cache.invalidate()
    return redirect(f"/admin/incidents/{incident_id}?saved=update", code=303)


async def _resolve_page(
    incident: Incident, *, status: int = 200, errors: Errors | None = None, form: Any = None
) -> Response:
    return await page(
        "console/incident_resolve.html",
        status,
        incident=incident,
        title=title_of(incident),
        phases=PHASES,
        errors=errors or {},
        form=form or {},
    )


@blueprint.get("/incidents/<int:incident_id>/resolve")
async def confirm_resolve(incident_id: int) -> Response:
    found = await _incident(incident_id)
    if found is None:
        return await _not_found()
    return await _resolve_page(found)


@blueprint.post("/incidents/<int:incident_id>/resolve")
async def resolve(incident_id: int) -> Response:
    found = await _incident(incident_id)
    if found is None:
        return await _not_found()
    form = await request.form
    data = {"message": _blank_is_none(form.get("message")), "phase": form.get("phase", "resolved")}
    model, errors = _validated(IncidentResolve, data)
    status = 422
    if not errors:
        try:
            await _service().resolve(
                incident_id,
                message=model.message,
                phase=model.phase,
                created_by=current_session().token_name,
            )
        except IncidentNotFound:
            return await _not_found()
        except IncidentError as exc:
            status = 409 if isinstance(exc, IncidentConflict) else 422  # as the API answers
            errors = _refusal(exc)
    if errors:
        return await _resolve_page(found, status=status, errors=errors, form=dict(form.items()))
    runtime().page_cache.invalidate()
    return redirect(f"/admin/incidents/{incident_id}?saved=resolved", code=303)
