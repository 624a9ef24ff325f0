"""Maintenance: windows listed by status (paged), scheduled through a form, completed
or cancelled after a confirmation step.

Writes go through the MaintenanceService the admin API uses, after the API's own
request model (``MaintenanceCreate``) has checked the form, so a refusal reads the
same here as from the API and is shown beside its field. Times are entered as a
local date and time in a zone the form names (UTC unless the operator picks an
IANA zone) and stored in UTC.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

from pydantic import ValidationError
from quart import Response, redirect, request

from ...maintenance.lifecycle import MaintenanceError
from ...maintenance.models import StoredWindow, WindowFields, WindowPosition
from ...maintenance.service import MaintenanceService, WindowNotFound
from ..api.maintenance import SEVERITIES, MaintenanceCreate
from ..api.paging import CURSOR_PATTERN, decode_cursor, encode_cursor
from ..context import runtime
from .guard import blueprint, current_session, page, refused

PAGE = 25
STATUSES = ("scheduled", "active", "completed", "cancelled")
ZONE_MAX = 100
ACTIONS = {"complete": "Complete", "cancel": "Cancel"}

Errors = dict[str, str]


def _service() -> MaintenanceService:
    return runtime().maintenance


def _field(loc: str) -> str:
    # "component_ids[0]" (the service) and ("component_ids", 0) (pydantic) are one field.
    return loc.split("[", 1)[0]


def _errors(exc: ValidationError) -> Errors:
    found: Errors = {}
    for error in exc.errors(include_url=False):
        field = _field(str(error["loc"][0])) if error["loc"] else "form"
        found.setdefault(field, error["msg"])
    return found


def _zone(name: str) -> dt.tzinfo | None:
    name = name.strip() or "UTC"
    if len(name) > ZONE_MAX:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def _local_time(value: str, zone: dt.tzinfo) -> str | dt.datetime:
    """The form's local date-time in ``zone``, or the text itself for the model to
    refuse (a blank or malformed time reads as the API's own message)."""
    try:
        naive = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return value
    if naive.tzinfo is not None:
        return naive
    return naive.replace(tzinfo=zone)


async def _list_page(
    *,
    status: int = 200,
    errors: Errors | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    chosen = request.args.get("status")
    if chosen not in STATUSES:
        chosen = None
    cursor = request.args.get("cursor")
    after = None
    if cursor is not None and re.search(CURSOR_PATTERN, cursor):
        after = WindowPosition(*decode_cursor(cursor))
    found = await _service().list_windows(status=chosen, after=after, limit=PAGE)
    next_cursor = (
        encode_cursor(found.next.starts_at_ms, found.next.id) if found.next is not None else None
    )
    monitors = [(m.id, m.name) for m in runtime().config.monitors]
    return await page(
        "console/maintenance.html",
        status,
        windows=found.items,
        chosen=chosen,
        statuses=STATUSES,
        next_cursor=next_cursor,
        monitors=monitors,
        severities=SEVERITIES,
        errors=errors or {},
        form=form or {},
        picked=set((form or {}).get("component_ids", [])),
        saved=request.args.get("saved", "")[:20],
    )


@blueprint.get("/maintenance")
async def maintenance() -> Response:
    return await _list_page()


@blueprint.post("/maintenance")
async def schedule() -> Response:
    form = await request.form
    shown: dict[str, Any] = {k: v for k, v in form.items() if k != "csrf"}
    shown["component_ids"] = form.getlist("component_ids")
    errors: Errors = {}
    zone = _zone(form.get("timezone", ""))
    if zone is None:
        errors["timezone"] = "not a known time zone: give an IANA name such as Europe/Paris, or UTC"
        zone = dt.UTC
    description = form.get("description", "")
    data = {
        "title": form.get("title", ""),
        "description": description if description.strip() else None,
        "severity": form.get("severity", "info"),
        "component_ids": form.getlist("component_ids"),
        "starts_at": _local_time(form.get("starts_at", ""), zone),
        "ends_at": _local_time(form.get("ends_at", ""), zone),
    }
    body = None
    try:
        body = MaintenanceCreate.model_validate(data)
    except ValidationError as exc:
        errors = {**_errors(exc), **errors}
    if body is not None and not errors:
        fields = WindowFields(
            title=body.title,
            description=body.description,
            severity=body.severity,
            component_ids=tuple(body.component_ids),
            starts_at=body.starts_at,
            ends_at=body.ends_at,
        )
        try:
            await _service().schedule(fields, created_by=current_session().token_name)
        except MaintenanceError as exc:
            errors = {_field(exc.field or "form"): exc.message}
    if errors:
        return await _list_page(status=422, errors=errors, form=shown)
    runtime().page_cache.invalidate()  # the public page shows it at once
    return redirect("/admin/maintenance?saved=scheduled", code=303)


async def _window(window_id: int) -> StoredWindow | None:
    try:
        return await _service().get(window_id)
    except (WindowNotFound, OverflowError):  # OverflowError: an id past SQLite's integers
        return None


async def _not_found() -> Response:
    return await refused("There is no maintenance window with that number.", 404)


@blueprint.get("/maintenance/<int:window_id>/<any(complete, cancel):action>")
async def confirm(window_id: int, action: str) -> Response:
    window = await _window(window_id)
    if window is None:
        return await _not_found()
    return await page(
        "console/maintenance_confirm.html", window=window, action=action, verb=ACTIONS[action]
    )


@blueprint.post("/maintenance/<int:window_id>/<any(complete, cancel):action>")
async def act(window_id: int, action: str) -> Response:
    service = _service()
    try:
        if action == "complete":
            await service.complete(window_id)
        else:
            await service.cancel(window_id)
    except (WindowNotFound, OverflowError):
        return await _not_found()
    except MaintenanceError as exc:
        window = await _window(window_id)
        if window is None:
            return await _not_found()
        return await page(
            "console/maintenance_confirm.html",
            422,
            window=window,
            action=action,
            verb=ACTIONS[action],
            error=exc.message,
        )
    runtime().page_cache.invalidate()
    return redirect(f"/admin/maintenance?saved={action}", code=303)
