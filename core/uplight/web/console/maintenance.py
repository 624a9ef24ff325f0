"""Maintenance: windows listed by status (paged), scheduled and edited through a form,
completed, cancelled or purged after a confirmation step.

Writes go through the MaintenanceService the admin API uses, after the API's own
request models (``MaintenanceCreate``, ``MaintenancePatch``) have checked the form,
so a refusal reads the same here as from the API and is shown beside its field.
Times are entered as a local date and time in a zone the form names and stored in
UTC: the form says UTC, and console.js puts the browser's IANA zone in a fresh
schedule form (and asks the edit page for the times in it). A local time the zone
skips (clocks going forward) is refused; one it repeats (clocks going back) is the
first of the two.

The edit form shows every field; only the fields that differ from the stored
window (at the form's minute precision) are sent, as a PATCH would: a field left
as shown is not a change (a cancelled window refuses any change but its text).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError
from quart import Response, redirect, request

from ...maintenance.lifecycle import MaintenanceError
from ...maintenance.models import StoredWindow, WindowFields, WindowPosition
from ...maintenance.service import MaintenanceService, WindowNotFound
from ..api.maintenance import SEVERITIES, MaintenanceCreate, MaintenancePatch
from ..api.paging import CURSOR_PATTERN, decode_cursor, encode_cursor
from ..context import runtime
from .guard import blueprint, current_session, page, refused

PAGE = 25
STATUSES = ("scheduled", "active", "completed", "cancelled")
ZONE_MAX = 100
UNKNOWN_ZONE = "not a known time zone: give an IANA name such as Europe/Paris, or UTC"
ACTIONS = {"complete": "Complete", "cancel": "Cancel", "purge": "Purge"}
MINUTE = "%Y-%m-%dT%H:%M"  # what a datetime-local input shows and sends

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


def _form_zone(name: str, errors: Errors) -> dt.tzinfo:
    """The zone the form names; UTC (and the refusal in ``errors``) when it is unknown."""
    zone = _zone(name)
    if zone is None:
        errors["timezone"] = UNKNOWN_ZONE
        return dt.UTC
    return zone


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


def _zone_name(zone: dt.tzinfo) -> str:
    return getattr(zone, "key", None) or "UTC"


def _skipped(value: str | dt.datetime, zone: dt.tzinfo) -> bool:
    """A local time the zone has no such moment for (it comes back different from UTC)."""
    if not isinstance(value, dt.datetime) or value.tzinfo is not zone:
        return False
    there = value.astimezone(dt.UTC).astimezone(zone)
    return there.replace(tzinfo=None) != value.replace(tzinfo=None)


def _check_gaps(data: dict[str, Any], zone: dt.tzinfo, errors: Errors) -> None:
    for name in ("starts_at", "ends_at"):
        if name in data and _skipped(data[name], zone):
            errors.setdefault(
                name,
                f"{data[name]:%Y-%m-%d %H:%M} does not exist in {_zone_name(zone)}: the clocks"
                " skip it (summer time starts); pick a time outside the gap",
            )


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
    return await page(
        "console/maintenance.html",
        status,
        windows=found.items,
        chosen=chosen,
        statuses=STATUSES,
        next_cursor=next_cursor,
        monitors=_monitors(),
        severities=SEVERITIES,
        errors=errors or {},
        form=form or {},
        picked=set((form or {}).get("component_ids", [])),
        detect_zone=form is None,  # a fresh form: the script may put the browser's zone in
        saved=request.args.get("saved", "")[:20],
        saved_zone=_saved_zone(),
    )


def _saved_zone() -> str:
    zone = _zone(request.args.get("zone", ""))
    return _zone_name(zone) if zone is not None and request.args.get("zone") else ""


def _monitors() -> list[tuple[str, str]]:
    return [(m.id, m.name) for m in runtime().config.monitors]


@blueprint.get("/maintenance")
async def maintenance() -> Response:
    return await _list_page()


@blueprint.post("/maintenance")
async def schedule() -> Response:
    form = await request.form
    shown: dict[str, Any] = {k: v for k, v in form.items() if k != "csrf"}
    shown["component_ids"] = form.getlist("component_ids")
    errors: Errors = {}
    zone = _form_zone(form.get("timezone", ""), errors)
    description = form.get("description", "")
    data = {
        "title": form.get("title", ""),
        "description": description if description.strip() else None,
        "severity": form.get("severity", "info"),
        "component_ids": form.getlist("component_ids"),
        "starts_at": _local_time(form.get("starts_at", ""), zone),
        "ends_at": _local_time(form.get("ends_at", ""), zone),
    }
    _check_gaps(data, zone, errors)
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
    said = urlencode({"saved": "scheduled", "zone": _zone_name(zone)})
    return redirect(f"/admin/maintenance?{said}", code=303)


async def _window(window_id: int) -> StoredWindow | None:
    try:
        return await _service().get(window_id)
    except (WindowNotFound, OverflowError):  # OverflowError: an id past SQLite's integers
        return None


async def _not_found() -> Response:
    return await refused("There is no maintenance window with that number.", 404)


@blueprint.get("/maintenance/<int:window_id>/<any(complete, cancel, purge):action>")
async def confirm(window_id: int, action: str) -> Response:
    window = await _window(window_id)
    if window is None:
        return await _not_found()
    return await page(
        "console/maintenance_confirm.html", window=window, action=action, verb=ACTIONS[action]
    )


@blueprint.post("/maintenance/<int:window_id>/<any(complete, cancel, purge):action>")
async def act(window_id: int, action: str) -> Response:
    service = _service()
    try:
        if action == "complete":
            await service.complete(window_id)
        elif action == "cancel":
            await service.cancel(window_id)
        else:
            await service.purge(window_id)
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


# -- editing a window ------------------------------------------------------------------


def _shown(window: StoredWindow, zone_name: str, zone: dt.tzinfo) -> dict[str, Any]:
    """The stored window as the edit form shows it, times in ``zone``."""
    return {
        "title": window.title,
        "description": window.description or "",
        "severity": window.severity,
        "timezone": zone_name,
        "starts_at": window.starts_at.astimezone(zone).strftime(MINUTE),
        "ends_at": window.ends_at.astimezone(zone).strftime(MINUTE),
    }


def _changed(window: StoredWindow, form: Any, zone: dt.tzinfo) -> dict[str, Any]:
    """The form's fields that differ from the stored window, in MaintenancePatch's terms."""
    shown = _shown(window, "", zone)
    data: dict[str, Any] = {}
    for name in ("title", "severity"):
        value = form.get(name, "")
        if value != shown[name]:
            data[name] = value
    description = form.get("description", "")
    if description != shown["description"]:
        data["description"] = description if description.strip() else None
    picked = form.getlist("component_ids")
    if set(picked) != set(window.component_ids):  # the checkboxes' order is the config's
        data["component_ids"] = picked
    for name in ("starts_at", "ends_at"):
        value = form.get(name, "").strip()
        if value != shown[name]:
            data[name] = _local_time(value, zone)
    return data


async def _edit_page(
    window: StoredWindow,
    *,
    status: int = 200,
    errors: Errors | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    if form is None:
        name = request.args.get("timezone", "UTC")[:ZONE_MAX]
        zone = _zone(name)
        if zone is None:
            errors = {"timezone": UNKNOWN_ZONE}
            name, zone = "UTC", dt.UTC
        form = _shown(window, name.strip() or "UTC", zone)
        picked = set(window.component_ids)
    else:
        picked = set(form.get("component_ids", []))
    return await page(
        "console/maintenance_edit.html",
        status,
        window=window,
        monitors=_monitors(),
        severities=SEVERITIES,
        errors=errors or {},
        form=form,
        picked=picked,
    )


@blueprint.get("/maintenance/<int:window_id>/edit")
async def edit(window_id: int) -> Response:
    window = await _window(window_id)
    if window is None:
        return await _not_found()
    return await _edit_page(window)


@blueprint.post("/maintenance/<int:window_id>/edit")
async def update(window_id: int) -> Response:
    window = await _window(window_id)
    if window is None:
        return await _not_found()
    form = await request.form
    shown: dict[str, Any] = {k: v for k, v in form.items() if k != "csrf"}
    shown["component_ids"] = form.getlist("component_ids")
    errors: Errors = {}
    zone = _form_zone(form.get("timezone", ""), errors)
    body = None
    changes = _changed(window, form, zone)
    _check_gaps(changes, zone, errors)
    try:
        body = MaintenancePatch.model_validate(changes)
    except ValidationError as exc:
        errors = {**_errors(exc), **errors}
    if body is not None and not errors:
        changes = {name: getattr(body, name) for name in body.model_fields_set}
        if "component_ids" in changes:
            changes["component_ids"] = tuple(changes["component_ids"])
        try:
            await _service().update(window_id, changes)
        except (WindowNotFound, OverflowError):
            return await _not_found()
        except MaintenanceError as exc:
            errors = {_field(exc.field or "form"): exc.message}
    if errors:
        return await _edit_page(window, status=422, errors=errors, form=shown)
    runtime().page_cache.invalidate()
    return redirect("/admin/maintenance?saved=updated", code=303)
